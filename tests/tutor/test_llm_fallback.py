"""LLM trouble (500, timeout, malformed stream) falls back to the built-in engine, keeping the question;
a stream can be stopped mid-way; the budget says clearly when it is spent."""

import json

import pytest

from ltt_ext.pytest_plugin import Reply
from ltt_ext.testing import wait_until


@pytest.fixture
def jp_server_config(ltt_tutored_server_config):
    ltt_tutored_server_config["Tutor"]["timeout"] = 1.0
    return ltt_tutored_server_config


async def ask(jp_fetch, path, text, **extra):
    r = await jp_fetch(
        "ltt", "api", "tutor", "ask", method="POST", body=json.dumps({"path": path, "text": text, **extra})
    )
    assert r.code == 202
    return json.loads(r.body)


async def history(jp_fetch, path):
    r = await jp_fetch("ltt", "api", "tutor", "history", params={"path": path})
    return json.loads(r.body)["messages"]


async def finished(tutor, msg_id):
    """The stored message once it is done (None while it streams)."""
    m = await tutor.store.get(msg_id)
    return m if m is not None and m.status == "done" else None


def notebook(root, name="nb.ipynb"):
    import nbformat

    nbformat.write(nbformat.v4.new_notebook(), root / name)
    return name


@pytest.mark.parametrize("mode", ["error", "hang", "malformed"])
async def test_llm_failure_falls_back_to_builtin(jp_fetch, jp_root_dir, ltt_fake_llm, ltt_tutor, mode):
    path = notebook(jp_root_dir)
    ltt_fake_llm.script(Reply(text="this answer never arrives whole", mode=mode))
    body = await ask(jp_fetch, path, "What is a list comprehension?")
    assert body["reply"]["status"] == "streaming" and body["reply"]["engine"] == "llm"
    reply_id = body["reply"]["id"]

    reply = await wait_until(lambda: finished(ltt_tutor, reply_id))
    assert reply.engine == "builtin" and reply.model is None
    assert "AI tutor is unavailable" in reply.text and "offline" in reply.text
    assert "never arrives" not in reply.text
    got = await history(jp_fetch, path)
    assert [(m["role"], m["kind"], m["text"]) for m in got][0] == (
        "learner",
        "question",
        "What is a list comprehension?",
    )
    assert got[1]["id"] == reply_id and got[1]["text"] == reply.text
    assert len(ltt_fake_llm.requests) == 1  # max_retries=0: one try, then the fallback


async def test_stop_mid_stream(jp_fetch, jp_ws_fetch, jp_root_dir, ltt_fake_llm, ltt_tutor):
    path = notebook(jp_root_dir)
    ltt_fake_llm.script(Reply(text=" ".join(f"word{i}" for i in range(200)), token_delay=0.02))
    ws = await jp_ws_fetch("ltt", "api", "tutor", "stream", params={"path": path})
    assert json.loads(await ws.read_message())["type"] == "hello"
    body = await ask(jp_fetch, path, "Explain loops at length")
    reply_id = body["reply"]["id"]
    seen = ""
    while seen.count("word") < 5:
        ev = json.loads(await ws.read_message())
        if ev["type"] == "delta" and ev["id"] == reply_id:
            seen += ev["text"]
    r = await jp_fetch(
        "ltt", "api", "tutor", "stop", method="POST", body=json.dumps({"path": path, "id": reply_id})
    )
    assert json.loads(r.body) == {"stopped": True}
    while True:
        ev = json.loads(await ws.read_message())
        if ev["type"] == "update" and ev["message"]["id"] == reply_id:
            break
    final = ev["message"]
    assert final["status"] == "stopped" and final["text"].startswith("word0 word1")
    assert "word199" not in final["text"] and final["completion_tokens"] > 0
    stored = await ltt_tutor.store.get(reply_id)
    assert stored.status == "stopped" and stored.text == final["text"]
    await wait_until(lambda: ltt_fake_llm.active == 0, timeout=10)  # the HTTP stream was closed
    # stopping again, or stopping something unknown, is not an error
    r = await jp_fetch(
        "ltt", "api", "tutor", "stop", method="POST", body=json.dumps({"path": path, "id": reply_id})
    )
    assert json.loads(r.body) == {"stopped": False}
    ws.close()


async def test_budget_is_enforced_with_a_clear_message(jp_fetch, jp_root_dir, ltt_fake_llm, ltt_tutor):
    path = notebook(jp_root_dir)
    ltt_tutor.budget.requests_per_minute = 1
    first = await ask(jp_fetch, path, "one")
    assert first["reply"]["role"] == "tutor"
    second = await ask(jp_fetch, path, "two")
    assert second["reply"]["kind"] == "notice" and second["reply"]["status"] == "done"
    assert "1 questions per minute" in second["reply"]["text"]
    ltt_tutor.budget.requests_per_minute = 0
    ltt_tutor.budget.tokens_per_hour = 1
    await wait_until(lambda: finished(ltt_tutor, first["reply"]["id"]))
    third = await ask(jp_fetch, path, "three")
    assert third["reply"]["kind"] == "notice" and "budget" in third["reply"]["text"]
    assert len(ltt_fake_llm.requests) == 1
    # the questions themselves are all kept
    assert [m["text"] for m in await history(jp_fetch, path) if m["kind"] == "question"] == [
        "one",
        "two",
        "three",
    ]
