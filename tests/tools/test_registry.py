"""The tool layer's core, without a server: validation, callers, authorization, caps, failures."""

import asyncio
import json

import pytest

from ltt_ext.tools import interrupt
from ltt_ext.tools.base import LLM, MCP, PANEL, CallContext, Tool, ToolFailed, ToolRegistry, cap


def registry(run, **kwargs):
    r = ToolRegistry()
    records = []
    r.on_call = records.append
    schema = {
        "type": "object",
        "properties": {"n": {"type": "integer", "minimum": 0}},
        "required": ["n"],
        "additionalProperties": False,
    }
    r.add(Tool("count", "Count to n.", schema, run, **kwargs))
    return r, records


async def count(ctx, args):
    return {"numbers": list(range(args["n"]))}


@pytest.mark.parametrize(
    "args, problem",
    [
        ({}, "'n' is a required property"),
        ({"n": "3"}, "n: '3' is not of type 'integer'"),
        ({"n": -1}, "n: -1 is less than the minimum of 0"),
        ({"n": 1, "x": 2}, "Additional properties are not allowed"),
        ([1], "must be a JSON object"),
        ("{not json", "not valid JSON"),
    ],
)
async def test_bad_input_is_an_invalid_result(args, problem):
    r, records = registry(count)
    result = await r.call("count", args, CallContext(LLM))
    assert result.status == "invalid" and problem in result.error
    assert records[0]["status"] == "invalid"


async def test_arguments_may_be_json_text():
    r, _ = registry(count)
    result = await r.call("count", '{"n": 3}', CallContext(MCP))
    assert result.ok and result.content == {"numbers": [0, 1, 2]}
    assert json.loads(result.text()) == {"status": "ok", "result": {"numbers": [0, 1, 2]}, "truncated": False}


async def test_unknown_tools_and_other_callers_are_refused():
    r, records = registry(count, callers=frozenset({MCP}))
    assert (await r.call("nope", {}, CallContext(MCP))).status == "invalid"
    refused = await r.call("count", {"n": 1}, CallContext(LLM))
    assert refused.status == "refused" and "not available" in refused.error
    assert [rec["tool"] for rec in records] == ["(unknown)", "count"]
    assert r.specs(LLM) == [] and r.specs(MCP)[0]["function"]["name"] == "count"


async def test_the_authorization_rule_decides():
    r, _ = registry(count, authorize=lambda ctx, args: "not you" if ctx.user != "learner" else None)
    assert (await r.call("count", {"n": 1}, CallContext(PANEL, user="someone"))).error == "not you"
    assert (await r.call("count", {"n": 1}, CallContext(PANEL, user="learner"))).ok


async def test_results_are_capped():
    r, records = registry(count, max_result_chars=200)
    result = await r.call("count", {"n": 10_000}, CallContext(MCP))
    assert result.ok and result.truncated
    assert len(json.dumps(result.content, ensure_ascii=False)) <= 200
    assert records[0]["truncated"] is True and records[0]["result_chars"] <= 200


async def test_failures_never_escape():
    async def boom(ctx, args):
        raise RuntimeError("secret detail")

    async def expected(ctx, args):
        raise ToolFailed("the notebook has no running kernel")

    async def slow(ctx, args):
        await asyncio.sleep(10)

    for run, status, text in [
        (boom, "error", "failed (RuntimeError)"),
        (expected, "error", "no running kernel"),
        (slow, "error", "longer than 0.1 s"),
    ]:
        r, _ = registry(run, timeout=0.1)
        result = await r.call("count", {"n": 1}, CallContext(MCP))
        assert result.status == status and text in result.error
        assert "secret detail" not in result.error


def test_cap_keeps_small_results_and_cuts_big_strings():
    assert cap({"a": 1}, 100) == ({"a": 1}, False, 8)
    text, cut, n = cap("x" * 1000, 100)
    assert cut and len(text) <= 100 and n == len(text)


def test_interrupt_policy():
    assert interrupt.interrupt_refusal(interrupt.LEARNER) is None
    for caller in (interrupt.WATCHDOG, interrupt.LLM, interrupt.MCP):
        assert interrupt.interrupt_refusal(caller) is not None
        assert interrupt.interrupt_refusal(caller, learner_allowed=True) is None
        assert interrupt.interrupt_refusal(caller, course_policy=True) is None
    grants = interrupt.InterruptGrants()
    assert not grants.allowed("nb")
    grants.allow("nb")
    assert grants.allowed("nb")
    grants.revoke("nb")
    assert not grants.allowed("nb")
    grants.allow("nb", seconds=-1)  # already expired
    assert not grants.allowed("nb")


class FakeKernels:
    def __init__(self, state):
        self.km = type("KM", (), {"execution_state": state})()
        self.interrupted = []

    def get_kernel(self, kernel_id):
        if kernel_id != "k1":
            raise KeyError(kernel_id)
        return self.km

    async def interrupt_kernel(self, kernel_id):
        self.interrupted.append(kernel_id)


async def test_interrupt_cell_only_interrupts_a_busy_kernel_it_may():
    kernels = FakeKernels("busy")
    refused = await interrupt.interrupt_cell(kernels, "k1", caller=interrupt.WATCHDOG)
    assert refused.refused and not kernels.interrupted
    done = await interrupt.interrupt_cell(kernels, "k1", caller=interrupt.WATCHDOG, course_policy=True)
    assert done.interrupted and kernels.interrupted == ["k1"]
    assert not (await interrupt.interrupt_cell(kernels, "k2", caller=interrupt.LEARNER)).interrupted
    idle = FakeKernels("idle")
    result = await interrupt.interrupt_cell(idle, "k1", caller=interrupt.LEARNER)
    assert not result.interrupted and "idle" in result.reason and not idle.interrupted
