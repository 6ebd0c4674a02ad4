"""An LLM cannot wedge the tutor (issue 9, items 2 and 3): every answer has a deadline and a size cap, a 429
says "busy, retrying in N s" (or falls back at once when N is too long), and an answer without text (a web
page instead of a stream, a stream with no content) falls back to the built-in engine with a notice."""

import asyncio
import json

import nbformat
import pytest

from ltt_ext.pytest_plugin import Reply
from ltt_ext.testing import wait_until


@pytest.fixture
def jp_server_config(ltt_tutored_server_config):
    tutor = ltt_tutored_server_config["Tutor"]
    tutor.update(
        llm_deadline=2.0, concurrency=2, max_answer_chars=300, retry_after_max=5.0, max_retries=1
    )  # the default: a 429 used to be retried by the openai client, in silence
    return ltt_tutored_server_config


async def ask(jp_fetch, path, text):
    r = await jp_fetch(
        "ltt", "api", "tutor", "ask", method="POST", body=json.dumps({"path": path, "text": text})
    )
    assert r.code == 202
    return json.loads(r.body)["reply"]


async def history(jp_fetch, path):
    r = await jp_fetch("ltt", "api", "tutor", "history", params={"path": path})
    return json.loads(r.body)["messages"]


async def finished(jp_fetch, path, reply_id):
    """The reply as the panel sees it once it is no longer streaming (None before)."""
    for m in await history(jp_fetch, path):
        if m["id"] == reply_id and m["status"] != "streaming":
            return m
    return None


def notebook(root, name="nb.ipynb"):
    nbformat.write(nbformat.v4.new_notebook(), root / name)
    return name


async def test_endless_streams_hit_the_deadline_and_free_their_slots(jp_fetch, jp_root_dir, ltt_fake_llm):
    """Streams that trickle forever (each chunk within Tutor.timeout) took every slot until someone pressed stop."""
    path = notebook(jp_root_dir)
    ltt_fake_llm.script(
        *[Reply(text="still thinking ", mode="endless", token_delay=0.2)] * 2, "A real answer."
    )
    stuck = [await ask(jp_fetch, path, f"question {i}") for i in range(2)]  # both concurrency slots
    await ltt_fake_llm.wait_for_requests(2)

    for reply in stuck:
        got = await wait_until(lambda reply=reply: finished(jp_fetch, path, reply["id"]), timeout=30)
        assert got["status"] == "done" and got["engine"] == "builtin"
        assert "did not finish within 2 s" in got["text"] and "offline tutor" in got["text"]
        assert "still thinking" not in got["text"]
    third = await ask(jp_fetch, path, "and now?")  # held slots would leave it waiting, then falling back
    got = await wait_until(lambda: finished(jp_fetch, path, third["id"]), timeout=30)
    assert got["engine"] == "llm" and got["text"] == "A real answer."  # the slots came back
    await wait_until(lambda: ltt_fake_llm.active == 0, timeout=10)  # the endless HTTP streams were closed


async def test_an_answer_is_cut_at_max_answer_chars(jp_fetch, jp_root_dir, ltt_fake_llm):
    path = notebook(jp_root_dir)
    ltt_fake_llm.script(Reply(text="blah ", mode="endless"))
    reply = await ask(jp_fetch, path, "tell me everything")
    got = await wait_until(lambda: finished(jp_fetch, path, reply["id"]), timeout=30)
    assert got["status"] == "done" and got["engine"] == "llm"
    body, marker = got["text"].split("\n\n")
    assert len(body) == 300 and body.startswith("blah blah") and "too long" in marker
    await wait_until(lambda: ltt_fake_llm.active == 0, timeout=10)


async def test_rate_limited_says_busy_then_retries_once(jp_fetch, jp_ws_fetch, jp_root_dir, ltt_fake_llm):
    path = notebook(jp_root_dir)
    ws = await jp_ws_fetch("ltt", "api", "tutor", "stream", params={"path": path})
    ltt_fake_llm.script(
        Reply(mode="error", status=429, headers={"Retry-After": "1"}), "Answer after the wait."
    )
    reply = await ask(jp_fetch, path, "help?")
    while True:  # the panel is told while the tutor waits
        ev = json.loads(await asyncio.wait_for(ws.read_message(), 30))
        if ev["type"] == "message" and ev["message"]["kind"] == "notice":
            break
    assert (
        ev["message"]["text"] == "The tutor is busy, retrying in 1 s…" and ev["message"]["role"] == "system"
    )
    assert len(ltt_fake_llm.requests) == 1
    got = await wait_until(lambda: finished(jp_fetch, path, reply["id"]), timeout=30)
    assert (
        got["engine"] == "llm" and got["text"] == "Answer after the wait." and len(ltt_fake_llm.requests) == 2
    )
    kinds = [(m["role"], m["kind"]) for m in await history(jp_fetch, path)]
    assert kinds == [("learner", "question"), ("tutor", "answer"), ("system", "notice")]
    ws.close()


async def test_rate_limited_for_too_long_falls_back_at_once(jp_fetch, jp_root_dir, ltt_fake_llm):
    path = notebook(jp_root_dir)
    ltt_fake_llm.script(Reply(mode="error", status=429, headers={"Retry-After": "30"}))
    reply = await ask(jp_fetch, path, "help?")
    got = await wait_until(lambda: finished(jp_fetch, path, reply["id"]), timeout=15)  # < the 30 s asked for
    assert got["engine"] == "builtin" and "busy (it asked to wait 30 s)" in got["text"]
    assert len(ltt_fake_llm.requests) == 1


@pytest.mark.parametrize(
    "reply,reason",
    [
        (Reply(mode="html"), "answered with text/html, not a stream"),
        (Reply(mode="empty"), "used up its token limit before writing an answer"),
    ],
)
async def test_an_answer_without_text_falls_back(jp_fetch, jp_root_dir, ltt_fake_llm, reply, reason):
    path = notebook(jp_root_dir)
    ltt_fake_llm.script(reply)
    sent = await ask(jp_fetch, path, "What is a list comprehension?")
    got = await wait_until(lambda: finished(jp_fetch, path, sent["id"]), timeout=30)
    assert got["status"] == "done" and got["engine"] == "builtin" and got["model"] is None
    notice, builtin_answer = got["text"].split("offline tutor's help._", 1)
    assert notice.startswith("_The AI tutor is unavailable right now (") and reason in notice
    assert builtin_answer.strip()  # never an empty bubble
