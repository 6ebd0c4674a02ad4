"""The Tutor service without a Jupyter server: a tiny in-memory workspace and the fake LLM."""

import asyncio
import json

import pytest

from ltt_ext.pytest_plugin import Reply
from ltt_ext.tutor.context import Cell
from ltt_ext.tutor.service import Tutor, TutorInputError, TutorNotFound
from ltt_ext.workspace import normalize_path


class MemoryWorkspace:
    def __init__(self, files):
        self.files = files

    normalize_path = staticmethod(normalize_path)

    async def exists(self, path):
        return path in self.files

    async def kernel_paths(self, kernel_id):
        return ["nb.ipynb"]

    async def notebook_cells(self, path):
        return [Cell("c1", "code", "total = 0")]

    async def read_text(self, path):
        return self.files.get(path)


async def done(tutor, msg_id):
    for _ in range(500):
        m = await tutor.store.get(msg_id)
        if m.status != "streaming":
            return m
        await asyncio.sleep(0.01)
    raise AssertionError("reply never finished")


@pytest.fixture
def make_tutor(ltt_fake_llm, tmp_path):
    made = []

    def make(**kw):
        kw = {
            "model": "fake-tutor",
            "base_url": ltt_fake_llm.base_url,
            "api_key": "k",
            "max_retries": 0,
            "timeout": 5,
            "db_path": str(tmp_path / f"t{len(made)}.db"),
            **kw,
        }
        t = Tutor(
            workspace=MemoryWorkspace({"nb.ipynb": "{}", "TUTOR.md": "## Solution\nsecret_fix()\n"}), **kw
        )
        made.append(t)
        return t

    yield make
    for t in made:
        asyncio.get_event_loop().run_until_complete(t.stop())


async def test_consent_required_keeps_notebooks_local_without_consent(make_tutor, ltt_fake_llm):
    t = make_tutor(consent_required=True)
    assert t.info()["consent_required"] is True
    _, reply = await t.ask("nb.ipynb", "what is n?")
    reply = await done(t, reply.id)
    assert reply.engine == "builtin" and "consent" in reply.text and ltt_fake_llm.requests == []
    _, reply = await t.ask("nb.ipynb", "what is n?", consent=True)
    reply = await done(t, reply.id)
    assert reply.engine == "llm" and len(ltt_fake_llm.requests) == 1
    assert "secret_fix" not in ltt_fake_llm.prompts[0] and "Never give" in ltt_fake_llm.prompts[0]


async def test_allow_solutions_changes_the_prompt(make_tutor, ltt_fake_llm):
    t = make_tutor(allow_solutions=True)
    _, reply = await t.ask("nb.ipynb", "show me the fix")
    await done(t, reply.id)
    assert (
        "may show corrected code" in ltt_fake_llm.prompts[0] and "Never give" not in ltt_fake_llm.prompts[0]
    )


async def test_errors_and_subscribers(make_tutor, ltt_fake_llm):
    t = make_tutor()
    with pytest.raises(TutorInputError):
        await t.ask("../x.ipynb", "hi")
    with pytest.raises(TutorNotFound):
        await t.ask("other.ipynb", "hi")
    events = []
    unsubscribe = t.subscribe("nb.ipynb", events.append)
    ltt_fake_llm.script(Reply(text="one two three"))
    _, reply = await t.ask("nb.ipynb", "hi")
    await done(t, reply.id)
    for _ in range(100):  # the update is published right after the store write
        if events and events[-1]["type"] == "status" and not events[-1]["thinking"]:
            break
        await asyncio.sleep(0.01)
    types = [e["type"] for e in events]
    assert types[:3] == ["message", "message", "status"] and types.count("delta") == 3
    assert events[-2]["type"] == "update" and events[-2]["message"]["text"] == "one two three"
    assert events[-1] == {"type": "status", "kernel_state": None, "thinking": False}
    unsubscribe()
    await t.ask("nb.ipynb", "again")
    assert len(events) == len(types)


async def test_concurrency_limit(make_tutor, ltt_fake_llm):
    t = make_tutor(concurrency=1)
    ltt_fake_llm.script(Reply(text="slow " * 10, token_delay=0.02), Reply(text="second"))
    _, r1 = await t.ask("nb.ipynb", "one")
    _, r2 = await t.ask("nb.ipynb", "two")
    await ltt_fake_llm.wait_for_requests(1)
    await asyncio.sleep(0.1)
    assert len(ltt_fake_llm.requests) == 1  # the second waits for the first
    assert (await done(t, r2.id)).text == "second" and (await done(t, r1.id)).status == "done"


def kernel_msg(msg_type, content, parent="req-1"):
    return [
        json.dumps({"msg_type": msg_type, "msg_id": f"{msg_type}-{parent}"}).encode(),
        json.dumps({"msg_id": parent, "msg_type": "execute_request"}).encode(),
        b"{}",
        json.dumps(content).encode(),
    ]


async def test_kernel_messages_to_hint_and_more_after_restart(make_tutor, tmp_path):
    db = str(tmp_path / "shared.db")
    t1 = make_tutor(model="", db_path=db, proactive_delay=0.01)
    listen = t1.listener_for("k1")
    listen("iopub", kernel_msg("status", {"execution_state": "busy"}))
    listen("iopub", kernel_msg("execute_input", {"code": "print(totl)", "execution_count": 1}))
    listen(
        "iopub",
        kernel_msg(
            "error",
            {
                "ename": "NameError",
                "evalue": "name 'totl' is not defined",
                "traceback": ["Cell In[1], line 1\n----> 1 print(totl)\n"],
            },
        ),
    )
    listen("iopub", kernel_msg("status", {"execution_state": "idle"}))
    for _ in range(300):
        hints = [m for m in await t1.messages("nb.ipynb") if m.kind == "hint" and m.status == "done"]
        if hints:
            break
        await asyncio.sleep(0.01)
    assert hints[0].level == 1 and "`totl`" in hints[0].text and hints[0].kernel_id == "k1"
    _, more = await t1.more("nb.ipynb")
    assert more.level == 2
    assert "Did you mean `total`?" in (await done(t1, more.id)).text  # from the notebook's cells
    await t1.stop()

    t2 = make_tutor(model="", db_path=db)  # a restarted server: empty memory, same store
    _, more = await t2.more("nb.ipynb")
    assert more.level == 3 and more.kind == "hint"
    text = (await done(t2, more.id)).text
    assert "Explanation" in text and "line 1" in text  # the error came back from the store


async def test_instructor_dir_outside_the_root_steers_the_prompt(make_tutor, ltt_fake_llm, tmp_path):
    notes = tmp_path / "instructor"
    notes.mkdir()
    (notes / "nb.tutor.md").write_text(
        "## Objectives\nPractise unique-objective-xyz.\n## Model answer\nsecret_fix_2()\n"
    )
    t = make_tutor(instructor_dir=str(notes))
    _, reply = await t.ask("nb.ipynb", "help?")
    await done(t, reply.id)
    prompt = ltt_fake_llm.prompts[0]
    assert "unique-objective-xyz" in prompt and "secret_fix_2" not in prompt and "secret_fix()" not in prompt


async def test_budgets_survive_a_restart(make_tutor, ltt_fake_llm, tmp_path):
    """Spending is read back from the store: a restarted server does not hand out a fresh budget."""
    db = str(tmp_path / "shared.db")
    t1 = make_tutor(db_path=db, requests_per_minute=1, tokens_per_hour=0)
    _, reply = await t1.ask("nb.ipynb", "one")
    assert (await done(t1, reply.id)).engine == "llm"
    await t1.stop()

    t2 = make_tutor(db_path=db, requests_per_minute=1, tokens_per_hour=0)  # the server restarted
    _, reply = await t2.ask("nb.ipynb", "two")
    assert reply.kind == "notice" and "1 questions per minute" in reply.text
    t3 = make_tutor(db_path=db, requests_per_minute=0, tokens_per_hour=1)
    _, reply = await t3.ask("nb.ipynb", "three")
    assert reply.kind == "notice" and "hour's tutor budget" in reply.text
    assert len(ltt_fake_llm.requests) == 1


async def test_an_answer_finished_while_the_store_is_locked_is_stored_later(
    make_tutor, ltt_fake_llm, tmp_path
):
    import sqlite3

    db = str(tmp_path / "locked.db")
    t = make_tutor(db_path=db, db_timeout=0.2)
    events = []
    t.subscribe("nb.ipynb", events.append)
    ltt_fake_llm.script(Reply(text="slow answer " * 5, token_delay=0.05))
    _, reply = await t.ask("nb.ipynb", "hi")
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another process's write lock while the answer streams
    try:
        for _ in range(500):
            if any(e["type"] == "update" for e in events):
                break
            await asyncio.sleep(0.01)
        shown = [m for m in await t.history("nb.ipynb") if m["id"] == reply.id][0]
        assert shown["status"] == "done" and shown["text"].startswith("slow answer")  # not stuck "streaming"
        assert (await t.store.get(reply.id)).status == "streaming"  # the store could not take it yet
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    for _ in range(500):
        if (await t.store.get(reply.id)).status == "done":
            break
        await asyncio.sleep(0.02)
    stored = await t.store.get(reply.id)
    assert stored.status == "done" and stored.text.startswith("slow answer")
