"""End to end: a line the LLM copies from the instructor's notes never reaches a browser.

A real server (ltt-ext + jupyter-server-documents), a ``TUTOR.md`` beside the notebook, the fake
OpenAI-compatible LLM streaming word by word, and a browser-less client on the tutor's websocket
recording every frame. Nothing of the notes may appear in a frame, in the concatenated deltas or in
the stored history; the secret section may not even reach the LLM.
"""

import asyncio
import json

import nbformat
import pytest

from ltt_ext.pytest_plugin import Reply
from ltt_ext.tutor.copyguard import REDACTED, normalise

TUTOR_MD = """# Lesson 3: running totals

## Pitfalls
Learners often reset the running total inside the loop body.

```python
# Solution? No: this line is a comment inside a code block, not a heading
total = 0
```

Solution
========
total = sum(prices)
Call the built-in sum on the whole prices list instead of looping.
"""
GUIDANCE_LINE = "Learners often reset the running total inside the loop body."
FENCED_LINE = "# Solution? No: this line is a comment inside a code block, not a heading"
SECRET_LINES = ("total = sum(prices)", "Call the built-in sum on the whole prices list instead of looping.")


class Frames:
    """Every frame the tutor's websocket sends, recorded as it arrives."""

    def __init__(self, conn):
        self.conn = conn
        self.raw: list[str] = []
        self._task = asyncio.ensure_future(self._read())

    async def _read(self):
        while True:
            msg = await self.conn.read_message()
            if msg is None:
                return
            self.raw.append(msg if isinstance(msg, str) else msg.decode("utf8", "replace"))

    @property
    def events(self) -> list[dict]:
        return [json.loads(f) for f in self.raw]

    async def until_done(self, reply_id: str, timeout: float = 60.0) -> dict:
        async def wait():
            while True:
                for e in self.events:
                    m = e.get("message") or {}
                    if e["type"] == "update" and m.get("id") == reply_id and m.get("status") != "streaming":
                        return m
                if self._task.done():
                    raise AssertionError("the tutor's websocket closed")
                await asyncio.sleep(0.02)

        return await asyncio.wait_for(wait(), timeout)

    def deltas(self, reply_id: str) -> str:
        return "".join(e["text"] for e in self.events if e["type"] == "delta" and e["id"] == reply_id)

    def close(self):
        self.conn.close()
        self._task.cancel()


@pytest.fixture
def lesson(jp_root_dir) -> str:
    """``course/lesson.ipynb`` with ``course/TUTOR.md`` beside it."""
    (jp_root_dir / "course").mkdir()
    (jp_root_dir / "course" / "TUTOR.md").write_text(TUTOR_MD)
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("total = 0\nfor p in prices:\n    total = p\nprint(total)")
    cell["id"] = "c1"
    nb.cells.append(cell)
    nbformat.write(nb, jp_root_dir / "course" / "lesson.ipynb")
    return "course/lesson.ipynb"


@pytest.fixture
def tutor_frames(jp_ws_fetch):
    """Open the tutor's websocket for a notebook, recording every frame; closed at the end."""
    opened: list[Frames] = []

    async def open_(path: str) -> Frames:
        frames = Frames(await jp_ws_fetch("ltt", "api", "tutor", "stream", params={"path": path}))
        opened.append(frames)
        return frames

    yield open_
    for frames in opened:
        frames.close()


async def ask(jp_fetch, path: str, text: str) -> str:
    r = await jp_fetch(
        "ltt",
        "api",
        "tutor",
        "ask",
        method="POST",
        body=json.dumps({"path": path, "text": text, "cell_id": "c1"}),
    )
    assert r.code == 202
    return json.loads(r.body)["reply"]["id"]


async def stored(jp_fetch, path: str) -> list[dict]:
    r = await jp_fetch("ltt", "api", "tutor", "history", params={"path": path})
    return json.loads(r.body)["messages"]


def assert_never_shown(line: str, frames: Frames, reply_id: str, final: dict, history: list[dict]) -> None:
    norm = normalise(line)
    for frame in frames.raw:
        assert line not in frame and norm not in normalise(json.loads(frame).get("text") or ""), frame
        assert norm not in normalise(json.dumps(json.loads(frame), ensure_ascii=False)), frame
    streamed = frames.deltas(reply_id)
    assert norm not in normalise(streamed), streamed  # not even spread over several frames
    assert norm not in normalise(final["text"])
    assert norm not in normalise(json.dumps(history, ensure_ascii=False))
    assert streamed == final["text"]  # what was shown is what is stored


async def test_a_copied_guidance_line_never_appears_in_a_frame(jp_fetch, lesson, tutor_frames, ltt_fake_llm):
    path = lesson
    frames = await tutor_frames(path)
    answer = (
        "Good question! Here is a hint. "
        + GUIDANCE_LINE
        + " Also, **learners often reset** the `running total`\ninside the loop body! "
        + "What value does `total` have after the second item?"
    )
    ltt_fake_llm.script(Reply(text=answer, token_delay=0.005))
    reply_id = await ask(jp_fetch, path, "Why is my total wrong?")
    final = await frames.until_done(reply_id)
    assert final["engine"] == "llm" and final["status"] == "done"

    # the LLM had the guidance (and the fenced '#' line, which is code), never the solution
    assert len(ltt_fake_llm.requests) == 1
    prompt = json.dumps(ltt_fake_llm.requests, ensure_ascii=False)
    assert GUIDANCE_LINE in prompt and FENCED_LINE in prompt
    assert not any(s in prompt for s in SECRET_LINES)
    # the scripted answer did stream as several chunks (one delta frame per word or so)
    deltas = [e for e in frames.events if e["type"] == "delta" and e["id"] == reply_id]
    assert len(deltas) >= 3

    history = await stored(jp_fetch, path)
    assert_never_shown(GUIDANCE_LINE, frames, reply_id, final, history)
    text = final["text"]
    assert text.count(REDACTED) == 2
    assert text.startswith("Good question! Here is a hint. ")
    assert text.endswith("What value does `total` have after the second item?")


async def test_a_secret_line_never_reaches_the_llm_nor_a_frame(jp_fetch, lesson, tutor_frames, ltt_fake_llm):
    path = lesson
    frames = await tutor_frames(path)
    # An LLM could only write these lines if a prompt had carried the secret section: it must not
    # have; and were it to write them anyway (from its training, by chance), they are cut out too.
    ltt_fake_llm.script(
        Reply(text=f"Just write {SECRET_LINES[0]} and you are done. {SECRET_LINES[1]}", token_delay=0.005)
    )
    reply_id = await ask(jp_fetch, path, "Just give me the solution please")
    final = await frames.until_done(reply_id)
    assert final["engine"] == "llm" and final["status"] == "done"

    bodies = json.dumps(ltt_fake_llm.requests, ensure_ascii=False)
    for line in SECRET_LINES:
        assert line not in bodies and normalise(line) not in normalise(bodies)
    assert "Solution\n========" not in bodies

    history = await stored(jp_fetch, path)
    for line in SECRET_LINES:
        assert_never_shown(line, frames, reply_id, final, history)
    assert final["text"] == f"Just write {REDACTED} and you are done. {REDACTED}."
    # the learner's question went to the LLM once
    user_turns = [m["content"] for m in ltt_fake_llm.requests[0]["messages"] if m["role"] == "user"]
    assert sum(t.count("Just give me the solution please") for t in user_turns) == 1


async def test_a_proactive_hint_copying_the_notes_is_cut_too(
    jp_fetch, jp_root_dir, tutor_frames, ltt_fake_llm, ltt_notebook
):
    # the hint path (a cell fails in a real kernel, the tutor hints on its own) goes through the same guard
    (jp_root_dir / "course").mkdir()
    (jp_root_dir / "course" / "TUTOR.md").write_text(TUTOR_MD)
    nb = await ltt_notebook("course/hint.ipynb", {"c1": "prices = [1, 2]\nprint(totl)"})
    frames = await tutor_frames(nb.path)
    ltt_fake_llm.script(
        Reply(text=f"Look at `totl`. {GUIDANCE_LINE} And remember: {SECRET_LINES[0]}", token_delay=0.005)
    )
    await nb.run_cell("c1")

    async def hint_done():
        while True:
            for e in frames.events:
                m = e.get("message") or {}
                if e["type"] == "update" and m.get("kind") == "hint" and m.get("status") == "done":
                    return m
            await asyncio.sleep(0.02)

    final = await asyncio.wait_for(hint_done(), 60)
    assert final["engine"] == "llm" and "NameError" in ltt_fake_llm.prompts[0]
    assert not any(s in json.dumps(ltt_fake_llm.requests) for s in SECRET_LINES)
    history = await stored(jp_fetch, nb.path)
    for line in (GUIDANCE_LINE, *SECRET_LINES):
        assert_never_shown(line, frames, final["id"], final, history)
    assert final["text"] == f"Look at `totl`. {REDACTED}. And remember: {REDACTED}"
