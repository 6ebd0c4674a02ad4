"""The default, offline tutor in a real server: proactive hints, the ladder, "more", free questions,
websocket executions carrying a cell id, and history surviving a restart of the tutor."""

import json

import pytest

from ltt_ext.store import Store
from ltt_ext.testing import wait_until
from ltt_ext.tutor.service import Tutor


@pytest.fixture
def jp_server_config(ltt_tutored_server_config):
    ltt_tutored_server_config["Tutor"]["model"] = ""  # no LLM configured: the built-in engine
    return ltt_tutored_server_config


async def hints(tutor, path, skip=0):
    return [m for m in await tutor.messages(path) if m.kind == "hint" and m.status == "done"][skip:]


async def finished(tutor, msg_id):
    m = await tutor.store.get(msg_id)
    return m if m.status == "done" else None


async def post(jp_fetch, what, body):
    r = await jp_fetch("ltt", "api", "tutor", what, method="POST", body=json.dumps(body))
    return r.code, json.loads(r.body)


async def test_offline_tutor_end_to_end(
    jp_fetch, jp_serverapp, ltt_notebook, ltt_tutor, ltt_fake_llm, kernel_ws
):
    from ltt_ext.events import TUTOR_MESSAGE_URI

    events = []

    async def on_event(logger, schema_id, data):
        events.append(data)

    jp_serverapp.event_logger.add_listener(schema_id=TUTOR_MESSAGE_URI, listener=on_event)
    r = await jp_fetch("ltt", "api", "tutor", "info")
    assert json.loads(r.body) == {
        "engine": "builtin",
        "model": None,
        "proactive": True,
        "allow_solutions": False,
        "consent_required": False,
    }
    nb = await ltt_notebook("lesson.ipynb", {"a": "greeting = 'hi'", "b": "print(greting)"})
    await nb.run_cell("a")
    await nb.run_cell("b")
    first = (await wait_until(lambda: hints(ltt_tutor, nb.path)))[0]
    assert first.engine == "builtin" and first.level == 1 and first.cell_id == "b"
    assert "greting" in first.text and "line 1" in first.text

    # the same error again climbs the ladder on its own
    await nb.run_cell("b")
    second = (await wait_until(lambda: hints(ltt_tutor, nb.path, 1)))[0]
    assert second.level == 2 and "Did you mean `greeting`?" in second.text

    # "more help" climbs to the explanation, with an example that is not the learner's fix
    code, body = await post(jp_fetch, "more", {"path": nb.path})
    assert code == 202 and body["question"]["kind"] == "more" and body["reply"]["level"] == 3
    third = (await wait_until(lambda: hints(ltt_tutor, nb.path, 2)))[0]
    assert third.level == 3 and "```python" in third.text and "print(greeting)" not in third.text

    # a free question: honest about being offline, still helpful about the error
    code, body = await post(jp_fetch, "ask", {"path": nb.path, "text": "what does zip() do?"})
    answer = await wait_until(lambda: finished(ltt_tutor, body["reply"]["id"]))
    assert "configure an LLM" in answer.text and answer.engine == "builtin"
    assert ltt_fake_llm.requests == []  # nothing left the server

    # an execution over the kernel websocket carries its cell id in the msg id (JupyterLab's way)
    ws = await kernel_ws(nb.kernel_id)
    msg_id = ws.execute("1/0", cell_id="b")
    await ws.wait_idle(msg_id)

    async def zero_hints():
        return [
            h
            for h in await hints(ltt_tutor, nb.path)
            if "ZeroDivisionError" in (h.extra.get("error") or {}).get("ename", "")
        ]

    zero = (await wait_until(zero_hints))[0]
    assert zero.cell_id == "b" and zero.level == 1 and "divis" in zero.text

    # the event bus saw every finished message, without its text
    await wait_until(lambda: len([e for e in events if e["kind"] == "hint"]) == 4)
    assert {(e["role"], e["kind"]) for e in events} >= {
        ("tutor", "hint"),
        ("learner", "more"),
        ("tutor", "answer"),
    }
    assert all("text" not in e and e["status"] != "streaming" for e in events)
    # each event says which learner it is about (the budget key here: one learner per server)
    assert {e["learner"] for e in events if e["role"] == "tutor"} == {"server"}


async def test_history_survives_a_restart(jp_fetch, jp_root_dir, ltt_tutor, ltt_tutor_config):
    import nbformat

    nbformat.write(nbformat.v4.new_notebook(), jp_root_dir / "nb.ipynb")
    code, body = await post(jp_fetch, "ask", {"path": "nb.ipynb", "text": "hello?"})
    await wait_until(lambda: finished(ltt_tutor, body["reply"]["id"]))
    r = await jp_fetch("ltt", "api", "tutor", "history", params={"path": "nb.ipynb"})
    before = json.loads(r.body)["messages"]
    assert [m["kind"] for m in before] == ["question", "answer"]
    await ltt_tutor.stop()  # what the server does at shutdown: the store is closed

    # a new tutor (a restarted server) on the same database file
    store = Store(ltt_tutor_config["db_path"])
    file_id = ltt_tutor.workspace.file_id("nb.ipynb")
    assert [{**m.to_json(), "path": "nb.ipynb"} for m in await store.history(file_id)] == before
    await store.close()
    again = Tutor(db_path=ltt_tutor_config["db_path"], workspace=ltt_tutor.workspace)
    await again.start()
    assert await again.history("nb.ipynb") == before
    await again.stop()
    await ltt_tutor.start()  # leave the server's tutor usable for its own shutdown
