"""OpenAI function calling: the tutor's LLM calls ltt-ext's tools, against a real server and a real local
OpenAI-compatible endpoint (ltt_ext.fake_llm) that streams tool calls — or refuses tools, as some do."""

import json

import nbformat
import pytest

from ltt_ext.pytest_plugin import Reply
from ltt_ext.testing import wait_until
from ltt_ext.tools.layer import TOOL_CALL_URI


def notebook(root, name="lesson.ipynb", cells=("numbers = [1, 2, 3]", "print(numbers[3])")):
    nb = nbformat.v4.new_notebook()
    for i, src in enumerate(cells):
        cell = nbformat.v4.new_code_cell(src)
        cell["id"] = f"c{i + 1}"
        nb.cells.append(cell)
    nbformat.write(nb, root / name)
    return name


async def ask(jp_fetch, tutor, path, text="Why does my second cell fail?"):
    r = await jp_fetch(
        "ltt", "api", "tutor", "ask", method="POST", body=json.dumps({"path": path, "text": text})
    )
    reply_id = json.loads(r.body)["reply"]["id"]

    async def done():
        m = await tutor.store.get(reply_id)
        return m if m is not None and m.status != "streaming" else None

    return await wait_until(done)


def tool_messages(request):
    return [m for m in request["messages"] if m.get("role") == "tool"]


def offered(request):
    return sorted(t["function"]["name"] for t in request.get("tools") or [])


async def test_the_llm_reads_the_notebook_through_a_tool(
    jp_fetch, jp_root_dir, jp_serverapp, ltt_fake_llm, ltt_tutor
):
    path = notebook(jp_root_dir)
    records = []

    async def listener(logger, schema_id, data):
        records.append(data)

    jp_serverapp.event_logger.add_listener(schema_id=TOOL_CALL_URI, listener=listener)
    ltt_fake_llm.script(
        Reply(tool_calls=[{"name": "read_notebook", "arguments": {}}], preamble="Let me look. "),
        Reply(text="Your list has three items: count the positions from 0."),
    )
    reply = await ask(jp_fetch, ltt_tutor, path)
    assert reply.status == "done" and reply.engine == "llm"
    assert reply.text == "Let me look. Your list has three items: count the positions from 0."

    first, second = ltt_fake_llm.requests
    assert offered(first) == ["read_notebook", "recent_errors", "run_in_sidecar", "runtime_facts"]
    assert "tool_choice" not in first
    assistant = [m for m in second["messages"] if m.get("tool_calls")]
    assert assistant and assistant[0]["tool_calls"][0]["function"]["name"] == "read_notebook"
    (result,) = tool_messages(second)
    assert result["tool_call_id"] == assistant[0]["tool_calls"][0]["id"]
    content = json.loads(result["content"])
    assert content["status"] == "ok"
    assert [c["source"] for c in content["result"]["cells"]] == ["numbers = [1, 2, 3]", "print(numbers[3])"]
    await wait_until(lambda: records)
    assert (
        records[0]["tool"] == "read_notebook"
        and records[0]["caller"] == "llm"
        and records[0]["status"] == "ok"
    )
    assert "result" not in records[0] and "numbers" not in json.dumps(records[0])  # metadata only
    assert reply.prompt_tokens > 0  # both rounds accounted


async def test_the_llm_may_only_read_its_own_notebook(jp_fetch, jp_root_dir, ltt_fake_llm, ltt_tutor):
    path = notebook(jp_root_dir)
    notebook(jp_root_dir, "other.ipynb", cells=("password = 'hunter2'",))
    ltt_fake_llm.script(
        Reply(tool_calls=[{"name": "read_notebook", "arguments": {"path": "other.ipynb"}}]),
        Reply(text="I can only look at this notebook."),
    )
    reply = await ask(jp_fetch, ltt_tutor, path)
    assert reply.status == "done"
    (result,) = tool_messages(ltt_fake_llm.requests[1])
    assert json.loads(result["content"])["status"] == "refused"
    assert "hunter2" not in json.dumps(ltt_fake_llm.requests)


async def test_the_llm_experiments_in_the_sidecar(jp_fetch, jp_root_dir, ltt_fake_llm, ltt_tutor, ltt_tools):
    path = notebook(jp_root_dir)
    ltt_fake_llm.script(
        Reply(tool_calls=[{"name": "run_in_sidecar", "arguments": {"code": "print([1, 2, 3][-1] * 14)"}}]),
        Reply(text="Try the last position instead."),
    )
    reply = await ask(jp_fetch, ltt_tutor, path)
    assert reply.status == "done"
    (result,) = tool_messages(ltt_fake_llm.requests[1])
    content = json.loads(result["content"])
    assert content["status"] == "ok" and content["result"]["outputs"] == ["42\n"]
    assert [s["path"] for s in ltt_tools.sidecars.running()] == [path]


async def test_bad_tool_input_is_a_result_not_a_failure(jp_fetch, jp_root_dir, ltt_fake_llm, ltt_tutor):
    path = notebook(jp_root_dir)
    ltt_fake_llm.script(
        Reply(tool_calls=[{"name": "runtime_facts", "arguments": {"names": ["not a name"]}}]),
        Reply(tool_calls=[{"name": "no_such_tool", "arguments": "{broken json"}]),
        Reply(text="Done."),
    )
    reply = await ask(jp_fetch, ltt_tutor, path)
    assert reply.status == "done" and reply.text == "Done."
    first = json.loads(tool_messages(ltt_fake_llm.requests[1])[0]["content"])
    assert first["status"] == "invalid" and "names/0" in first["error"]
    second = json.loads(tool_messages(ltt_fake_llm.requests[2])[-1]["content"])
    assert second["status"] == "invalid"


async def test_tool_calls_per_answer_are_capped(jp_fetch, jp_root_dir, ltt_fake_llm, ltt_tutor, ltt_tools):
    path = notebook(jp_root_dir)
    ltt_tools.max_calls_per_answer = 2
    call = {"name": "recent_errors", "arguments": {}}
    ltt_fake_llm.script(
        Reply(tool_calls=[call]),
        Reply(tool_calls=[call]),
        Reply(text="Here is my answer.", tool_calls=[call]),  # offered no more tools: it answers
    )
    reply = await ask(jp_fetch, ltt_tutor, path)
    assert reply.status == "done" and reply.text == "Here is my answer."
    assert len(ltt_fake_llm.requests) == 3
    last = ltt_fake_llm.requests[2]
    assert last["tool_choice"] == "none" and len(tool_messages(last)) == 2


@pytest.mark.parametrize("status", [400, 422, 500])
async def test_an_endpoint_refusing_tools_is_remembered(
    jp_fetch, jp_root_dir, ltt_fake_llm, ltt_tutor, status
):
    path = notebook(jp_root_dir)
    ltt_fake_llm.refuse_tools = True
    ltt_fake_llm.refuse_tools_status = status
    ltt_fake_llm.script(Reply(text="A prompt-only answer."), Reply(text="Another one."))
    reply = await ask(jp_fetch, ltt_tutor, path)
    assert reply.status == "done" and reply.engine == "llm" and reply.text == "A prompt-only answer."
    assert [bool(r.get("tools")) for r in ltt_fake_llm.requests] == [True, False]  # 400, then without tools
    assert ltt_tutor.llm.tools_supported is False

    reply = await ask(jp_fetch, ltt_tutor, path, "And now?")
    assert reply.text == "Another one."
    assert [bool(r.get("tools")) for r in ltt_fake_llm.requests] == [True, False, False]  # asked once only


async def test_tool_results_and_the_answer_never_carry_the_notes(
    jp_fetch, jp_root_dir, ltt_fake_llm, ltt_tutor
):
    path = notebook(jp_root_dir)
    secret = "total_price = sum(item.cost for item in basket)"
    quoted = 'print("the total price of the basket is", total_price)'  # quotes: escaped in JSON
    (jp_root_dir / "TUTOR.md").write_text(f"# Lesson\n\n## Solution\n```python\n{secret}\n{quoted}\n```\n")
    ltt_fake_llm.script(
        Reply(
            tool_calls=[{"name": "run_in_sidecar", "arguments": {"code": "print(open('TUTOR.md').read())"}}]
        ),
        Reply(text=f"The answer is {secret} of course."),
    )
    reply = await ask(jp_fetch, ltt_tutor, path)
    assert reply.status == "done"
    result = tool_messages(ltt_fake_llm.requests[1])[0]["content"]
    assert "## Solution" in result or "Lesson" in result  # the sidecar did read the file…
    assert secret not in result  # …but the model never saw the solution lines
    assert "the total price of the basket is" not in result
    assert secret not in reply.text and "[…]" in reply.text


async def test_the_deadline_covers_the_tool_rounds(jp_fetch, jp_root_dir, ltt_fake_llm, ltt_tutor):
    path = notebook(jp_root_dir)
    ltt_tutor.llm_engine.deadline = 2.0
    ltt_fake_llm.script(
        Reply(tool_calls=[{"name": "recent_errors", "arguments": {}}]),
        Reply(mode="hang"),  # the answer after the tool result never comes
    )
    reply = await ask(jp_fetch, ltt_tutor, path)
    assert reply.status == "done" and reply.engine == "builtin"
    assert "did not finish within 2 s" in reply.extra["llm_error"]
    assert len(ltt_fake_llm.requests) == 2
