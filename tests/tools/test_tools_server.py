"""Each tool against a real server: a live notebook room, a real kernel, the tutor's store."""

import nbformat

from ltt_ext.testing import read_notebook, wait_until
from ltt_ext.tools.base import LLM, MCP, PANEL, CallContext


async def lesson(ltt_notebook, ltt_tutor):
    nb = await ltt_notebook("lesson.ipynb", {"c1": "numbers = [1, 2, 3]", "c2": "numbers[3]"})
    await nb.run_cell("c1")
    await nb.run_cell("c2")

    async def hinted():
        return [
            m for m in await ltt_tutor.messages("lesson.ipynb") if m.kind == "hint" and m.status == "done"
        ]

    await wait_until(hinted)
    return nb


async def test_facts_errors_and_the_live_notebook(ltt_notebook, ltt_tutor, ltt_tools):
    await lesson(ltt_notebook, ltt_tutor)
    mcp = CallContext(MCP, user="agent")

    facts = await ltt_tools.call(
        "runtime_facts", {"path": "lesson.ipynb", "names": ["numbers", "nothing"]}, mcp
    )
    assert facts.ok, facts.error
    assert facts.content["facts"] == ["`numbers` is a list of 3 items (int, int, int)"]
    assert facts.content["undefined"] == ["nothing"]

    errors = await ltt_tools.call("recent_errors", {"path": "lesson.ipynb"}, mcp)
    assert errors.ok
    assert errors.content["errors"][0]["error"].startswith("IndexError")
    assert errors.content["errors"][0]["cell_id"] == "c2"
    assert errors.content["hints"] and errors.content["hints"][0]["error"].startswith("IndexError")

    read = await ltt_tools.call("read_notebook", {"path": "lesson.ipynb"}, mcp)
    assert read.ok and read.content["read_from"] == "live"
    cells = read.content["cells"]
    assert [c["id"] for c in cells] == ["c1", "c2"]
    assert any("IndexError" in o for o in cells[1]["outputs"])


async def test_the_llm_is_bound_to_its_notebook(ltt_notebook, ltt_tutor, ltt_tools, jp_root_dir):
    await lesson(ltt_notebook, ltt_tutor)
    nbformat.write(nbformat.v4.new_notebook(), jp_root_dir / "other.ipynb")
    llm = CallContext(LLM, path="lesson.ipynb")
    own = await ltt_tools.call("read_notebook", {}, llm)
    assert own.ok and own.content["path"] == "lesson.ipynb"
    other = await ltt_tools.call("read_notebook", {"path": "other.ipynb"}, llm)
    assert other.status == "refused"
    for name in ("run_cell", "insert_cell", "ask_tutor"):
        assert (await ltt_tools.call(name, {"path": "lesson.ipynb"}, llm)).status == "refused"


async def test_insert_into_the_live_document(ltt_notebook, ltt_tools, jp_root_dir):
    await ltt_notebook("live.ipynb", {"a": "x = 1"})
    mcp = CallContext(MCP)
    inserted = await ltt_tools.call(
        "insert_cell", {"path": "live.ipynb", "source": "# Notes", "cell_type": "markdown", "index": 0}, mcp
    )
    assert inserted.ok and inserted.content["written_to"] == "live"
    read = await ltt_tools.call("read_notebook", {"path": "live.ipynb"}, mcp)
    assert [c["source"] for c in read.content["cells"]] == ["# Notes", "x = 1"]

    def saved():
        nb = read_notebook(jp_root_dir, "live.ipynb")  # None while a save is halfway
        return nb is not None and len(nb.cells) == 2 and nb.cells[0].cell_type == "markdown"

    await wait_until(saved, timeout=30)


async def test_interrupt_from_the_panel_of_an_idle_kernel_does_nothing(ltt_notebook, ltt_tools):
    await ltt_notebook("idle.ipynb", {"a": "1"})
    result = await ltt_tools.call("interrupt_cell", {"path": "idle.ipynb"}, CallContext(PANEL))
    assert (
        result.ok
        and result.content["interrupted"] is False
        and "Nothing is running" in result.content["reason"]
    )


async def test_ask_the_tutor(ltt_notebook, ltt_tutor, ltt_tools, ltt_fake_llm):
    await lesson(ltt_notebook, ltt_tutor)
    ltt_fake_llm.default_reply = "Positions start at 0: which is the last one?"
    answer = await ltt_tools.call(
        "ask_tutor", {"path": "lesson.ipynb", "question": "Why does c2 fail?"}, CallContext(MCP, user="agent")
    )
    assert answer.ok and answer.content["status"] == "done" and answer.content["kind"] == "answer"
    assert answer.content["text"] == "Positions start at 0: which is the last one?"
    more = await ltt_tools.call("ask_tutor", {"path": "lesson.ipynb", "more_help": True}, CallContext(MCP))
    assert more.ok and more.content["kind"] == "hint" and more.content["level"] == 2
