"""The tutor's runtime facts: read from a real kernel, silently, without running learner code.

What the learner has must be the same before and after an inspection: namespace, ``_``/``Out``,
history and ``execution_count``; objects whose ``__repr__``, ``__getattr__``, properties or
``__len__`` would run learner code are never touched; a busy kernel is not asked at all.
"""

import json

import pytest

from ltt_ext.testing import wait_until
from ltt_ext.tutor import facts
from ltt_ext.workspace import ServerWorkspace


@pytest.fixture
def jp_server_config(ltt_tutored_server_config):
    ltt_tutored_server_config["Tutor"]["model"] = ""  # the built-in engine
    return ltt_tutored_server_config


SETUP = """
calls = []
class Sneaky:
    def __init__(self):
        self.visible = 1
    def __repr__(self):
        calls.append("repr"); return "sneaky"
    def __getattr__(self, name):
        calls.append("getattr " + name); return 0
    def __len__(self):
        calls.append("len"); return 0
    @property
    def prop(self):
        calls.append("prop"); return 1
class SneakyList(list):
    def __len__(self):
        calls.append("list len"); return 0
numbers = [1, 2, 3]
person = {"Name": "Ada", "age": 36}
age = 36
label = "Age: "
nothing = [3, 1, 2].sort()
sneaky = Sneaky()
sneaky_list = SneakyList([1])
type = "shadowed builtin"
len = 5
6 * 7
"""

# What the learner can see of their own kernel: printed, so this run sets neither _ nor Out.
SNAPSHOT = (
    "print(__import__('json').dumps({'count': get_ipython().execution_count, "
    "'history': __builtins__.len(get_ipython().history_manager.input_hist_raw), "
    "'names': sorted(k for k in globals() if not k.startswith('_')), "
    "'out': sorted(Out), 'underscore': repr(_), 'calls': calls}))"
)


async def run(ws, code):
    msg_id = ws.execute(code)
    await ws.wait_idle(msg_id)
    return msg_id


async def snapshot(ws):
    msg_id = await run(ws, SNAPSHOT)
    text = "".join(m["content"].get("text", "") for m in ws.replies_to(msg_id, "stream"))
    return json.loads(text)


async def test_inspection_leaves_the_kernel_untouched(jp_serverapp, ltt_notebook, kernel_ws):
    nb = await ltt_notebook("facts.ipynb", {"c1": SETUP})
    ws = await kernel_ws(nb.kernel_id)
    await run(ws, SETUP)
    before = await snapshot(ws)

    workspace = ServerWorkspace(jp_serverapp)
    names = ["numbers", "person", "age", "label", "nothing", "sneaky", "sneaky_list", "type", "len", "gone"]
    found = await workspace.user_expressions(nb.kernel_id, {"ltt": facts.expression(names)}, timeout=10)
    got = facts.parse(found["ltt"]["data"]["text/plain"])
    after = await snapshot(ws)

    # the snapshot itself is the only run in between: one more count, one more history entry
    assert after["count"] == before["count"] + 1
    assert after["history"] == before["history"] + 1
    assert after["names"] == before["names"]
    assert after["out"] == before["out"] and after["underscore"] == before["underscore"] == "42"
    assert after["calls"] == [], "the inspection ran learner code"

    assert got.get("numbers").length == 3 and got.get("numbers").item_types == ("int", "int", "int")
    assert got.get("person").keys == ("Name", "age")
    assert got.get("age").type == "int" and got.get("label").preview == "'Age: '"
    assert got.get("nothing").type == "NoneType"
    sneaky = got.get("sneaky")
    assert sneaky.type == "Sneaky" and not sneaky.builtin and sneaky.preview is None
    assert set(sneaky.attributes) >= {"visible", "prop"}
    assert got.get("sneaky_list").length is None and not got.get("sneaky_list").builtin
    assert got.get("type").preview == "'shadowed builtin'"  # a shadowed builtin is the learner's value
    assert got.defined("gone") is False


async def test_a_busy_kernel_is_not_asked(jp_serverapp, ltt_notebook, kernel_ws):
    nb = await ltt_notebook("busy.ipynb", {"c1": "x = 1"})
    ws = await kernel_ws(nb.kernel_id)
    await run(ws, "x = 1")
    km = jp_serverapp.kernel_manager.get_kernel(nb.kernel_id)
    client = km.kernel_client
    long_run = ws.execute("import time; time.sleep(2)")
    await ws.wait_for(
        lambda ch, m: (
            m["parent_header"].get("msg_id") == long_run
            and m["header"]["msg_type"] == "status"
            and m["content"]["execution_state"] == "busy"
        )
    )
    sent = len(client.requests._requests)
    found = await ServerWorkspace(jp_serverapp).user_expressions(
        nb.kernel_id, {"ltt": facts.expression(["x"])}, timeout=10
    )
    assert found is None
    assert len(client.requests._requests) == sent, "a request was sent to a busy kernel"
    await ws.wait_idle(long_run)


async def test_the_tutor_reads_facts_for_an_error(ltt_tutor, ltt_notebook, kernel_ws):
    code = "numbers = [1, 2, 3]\nprint(numbers[3])"
    nb = await ltt_notebook("index.ipynb", {"c1": code})
    ws = await kernel_ws(nb.kernel_id)
    await run(ws, code)
    await ltt_tutor.drain()
    ex = ltt_tutor.context("index.ipynb").last_error
    assert ex is not None and ex.error.ename == "IndexError"
    got = await ltt_tutor.read_facts(ex)
    assert got is not None and got.get("numbers").length == 3
    # after another run the values may have changed since the error: no facts
    await run(ws, "numbers.append(4)")
    await ltt_tutor.drain()
    assert await ltt_tutor.read_facts(ex) is None


def test_probe_never_calls_learner_code():
    """The same probe without a kernel, on objects that record every call made on them."""
    calls = []

    class Meta(type):
        @property
        def __name__(cls):
            calls.append("metaclass name")
            return "X"

    class Hostile(metaclass=Meta):
        def __getattribute__(self, name):
            calls.append(name)
            return object.__getattribute__(self, name)

        def __repr__(self):
            calls.append("repr")
            return "h"

    class Key(str):
        def __hash__(self):
            calls.append("hash")
            return 1

    ns = {"h": Hostile(), "cls": Hostile, "d": {Key("a"): 1}, "list": [1], "str": 3}
    calls.clear()  # building the dict above hashed its key
    value = eval(facts.expression(list(ns)), ns, ns)
    got = facts.parse(repr(value))
    assert calls == []
    assert got.get("h").type.endswith("Hostile") and got.get("cls").kind == "class"
    assert got.get("d").keys is None  # a str subclass key is not a plain scalar: not read
    assert got.get("list").length == 1 and got.get("str").preview == "3"


async def test_the_llm_gets_the_same_facts(jp_serverapp, ltt_tutor, ltt_fake_llm, ltt_notebook, kernel_ws):
    ltt_tutor.engine = "llm"
    ltt_tutor.model = "fake-tutor"
    ltt_fake_llm.script("Which positions does `numbers` have?")
    code = "numbers = [1, 2, 3]\nprint(numbers[3])"
    nb = await ltt_notebook("llm_facts.ipynb", {"c1": code})
    ws = await kernel_ws(nb.kernel_id)
    await run(ws, code)

    async def hinted():
        return [m for m in await ltt_tutor.messages(nb.path) if m.kind == "hint" and m.status == "done"]

    await wait_until(hinted, timeout=30)
    prompt = ltt_fake_llm.prompts[-1]
    assert "The learner's values now" in prompt
    assert "`numbers` is a list of 3 items (int, int, int)" in prompt
