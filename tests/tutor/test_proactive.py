"""A cell that raises, run with no browser attached, yields a stored hint a later subscriber reads."""

import json

import nbformat

from ltt_ext.testing import wait_until

TUTOR_MD = """# Lesson 1
## Objectives
Learners practise defining variables before using them.
## Common pitfalls
Misspelled variable names are frequent in this exercise.
## Solution
total_price = price * quantity_secret_42
"""


async def history(jp_fetch, path, **params):
    r = await jp_fetch("ltt", "api", "tutor", "history", params={"path": path, **params})
    return json.loads(r.body)["messages"]


async def test_proactive_hint_reaches_a_late_subscriber(
    jp_fetch, jp_ws_fetch, jp_root_dir, ltt_fake_llm, ltt_notebook, ltt_tutor
):
    (jp_root_dir / "course").mkdir()
    (jp_root_dir / "course" / "TUTOR.md").write_text(TUTOR_MD)
    ltt_fake_llm.script("Look at **line 2**: is `quantitty` spelled like the name you defined?")
    nb = await ltt_notebook(
        "course/week1/lesson.ipynb",
        {"c1": "price = 3\nquantity = 2", "c2": "x = 1\ntotal = price * quantitty"},
    )
    await nb.run_cell("c1")
    await nb.run_cell("c2")

    async def done_hints():
        return [m for m in await ltt_tutor.messages(nb.path) if m.kind == "hint" and m.status == "done"]

    msgs = await wait_until(done_hints, timeout=60)
    hint = msgs[0]
    assert hint.engine == "llm" and hint.model == "fake-tutor" and hint.level == 1
    assert (
        hint.cell_id == "c2" and hint.kernel_id == nb.kernel_id
    )  # matched by source: REST runs carry no cell id
    assert "line 2" in hint.text and hint.completion_tokens > 0 and hint.prompt_tokens > 0

    # what the LLM saw: the failing cell and the traceback, the objectives, never the solution
    assert len(ltt_fake_llm.requests) == 1
    prompt = ltt_fake_llm.prompts[0]
    assert "total = price * quantitty" in prompt
    assert "NameError" in prompt and "name 'quantitty' is not defined" in prompt and "Traceback" in prompt
    assert "\x1b[" not in prompt
    assert "price = 3\nquantity = 2" in prompt  # the cell it depends on
    assert "Misspelled variable names" in prompt
    assert "quantity_secret_42" not in prompt and "Solution" not in prompt

    # a browser attaching later: hello, then the stored history over REST
    ws = await jp_ws_fetch("ltt", "api", "tutor", "stream", params={"path": nb.path})
    hello = json.loads(await ws.read_message())
    assert hello["type"] == "hello" and hello["info"]["engine"] == "llm"
    assert "sk-test" not in json.dumps(hello) and "127.0.0.1" not in json.dumps(hello)
    assert json.loads(await ws.read_message()) == {
        "type": "status",
        "kernel_state": "idle",
        "thinking": False,
    }
    got = await history(jp_fetch, nb.path)
    assert [m["kind"] for m in got] == ["hint"] and got[0]["text"] == hint.text
    assert "TUTOR" not in json.dumps(got) and "quantity_secret_42" not in json.dumps(got)

    # then it follows live: a question streams to it
    ltt_fake_llm.script("Compare the two spellings.")
    r = await jp_fetch(
        "ltt",
        "api",
        "tutor",
        "ask",
        method="POST",
        body=json.dumps({"path": nb.path, "text": "why does it fail?", "cell_id": "c2"}),
    )
    assert r.code == 202
    reply_id = json.loads(r.body)["reply"]["id"]
    events = []
    while not (events and events[-1]["type"] == "update" and events[-1]["message"]["id"] == reply_id):
        events.append(json.loads(await ws.read_message()))
    kinds = [
        (e["type"], e.get("message", {}).get("kind")) for e in events if e["type"] in ("message", "update")
    ]
    assert ("message", "question") in kinds and ("message", "answer") in kinds
    deltas = "".join(e["text"] for e in events if e["type"] == "delta" and e["id"] == reply_id)
    assert deltas == "Compare the two spellings." == events[-1]["message"]["text"]
    assert events[-1]["message"]["status"] == "done"
    # the question's prompt carries the conversation and the error it is about
    assert "why does it fail?" in ltt_fake_llm.prompts[1] and "quantitty" in ltt_fake_llm.prompts[1]

    # since= catches up without duplicates
    newest = max(m["updated"] for m in got)
    later = await history(jp_fetch, nb.path, since=str(newest))
    assert [m["kind"] for m in later] == ["question", "answer"]
    ws.close()


async def test_notebooks_sharing_a_kernel_each_get_their_own_hints(
    jp_root_dir, notebook_session, kernel_ws, ltt_fake_llm, ltt_tutor
):
    # JupyterLab's "use the kernel of another session": two notebooks, one kernel. A hint belongs
    # to the notebook the failing cell is in, found by its cell id or, without one, its code.
    for name, cells in (("a.ipynb", {"a1": "x = 1"}), ("b.ipynb", {"b1": "1 / 0", "b2": "undefined_name"})):
        nb = nbformat.v4.new_notebook()
        nb.cells = [nbformat.v4.new_code_cell(src, id=cid) for cid, src in cells.items()]
        nbformat.write(nb, jp_root_dir / name)
    session_a, _ = await notebook_session("a.ipynb")
    kernel_id = session_a["kernel"]["id"]
    session_b, _ = await notebook_session("b.ipynb", kernel_id=kernel_id)
    assert session_b["kernel"]["id"] == kernel_id

    async def hints(path):
        return [m for m in await ltt_tutor.messages(path) if m.kind == "hint" and m.status == "done"]

    async def two_hints():
        found = await hints("b.ipynb")
        return len(found) == 2 and found

    ws = await kernel_ws(kernel_id)
    await ws.wait_idle(ws.execute("1 / 0", cell_id="b1"))
    first = await wait_until(lambda: hints("b.ipynb"), timeout=60)
    assert first[0].cell_id == "b1"
    await ws.wait_idle(ws.execute("undefined_name"))  # no cell id: matched by its code
    both = await wait_until(two_hints, timeout=60)
    assert {m.cell_id for m in both} == {"b1", "b2"}
    assert await ltt_tutor.messages("a.ipynb") == []


async def test_a_notebook_joining_a_kernel_gets_its_own_hints_at_once(
    jp_root_dir, notebook_session, kernel_ws, ltt_fake_llm, ltt_tutor
):
    # The tutor caches which notebooks a kernel serves; a notebook put on the kernel right after
    # a run (JupyterLab's "use the kernel of another session") must not have its errors filed
    # under the first notebook until the cache expires.
    for name, cells in (("first.ipynb", {"f1": "x = 1"}), ("second.ipynb", {"s1": "undefined_thing"})):
        nb = nbformat.v4.new_notebook()
        nb.cells = [nbformat.v4.new_code_cell(src, id=cid) for cid, src in cells.items()]
        nbformat.write(nb, jp_root_dir / name)
    first, _ = await notebook_session("first.ipynb")
    kernel_id = first["kernel"]["id"]
    ws = await kernel_ws(kernel_id)
    await ws.wait_idle(ws.execute("x = 1", cell_id="f1"))
    await ltt_tutor.drain()  # the kernel's notebooks are now cached: first.ipynb only
    await notebook_session("second.ipynb", kernel_id=kernel_id)
    await ws.wait_idle(ws.execute("undefined_thing", cell_id="s1"))

    async def hinted():
        return [m for m in await ltt_tutor.messages("second.ipynb") if m.kind == "hint"]

    assert (await wait_until(hinted, timeout=30))[0].cell_id == "s1"
    assert [m for m in await ltt_tutor.messages("first.ipynb") if m.kind == "hint"] == []
