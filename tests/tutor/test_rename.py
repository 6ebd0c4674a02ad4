"""A conversation follows its notebook's file id (issue 9, item 7): rename ``Untitled.ipynb`` the way
JupyterLab does (PATCH /api/contents, then the session's path) and the history and hint ladder go on."""

import json

import pytest

from ltt_ext.testing import wait_until


@pytest.fixture
def jp_server_config(ltt_tutored_server_config):
    ltt_tutored_server_config["Tutor"]["model"] = ""  # the built-in engine: its hints show the ladder level
    return ltt_tutored_server_config


async def history(jp_fetch, path):
    r = await jp_fetch("ltt", "api", "tutor", "history", params={"path": path})
    return json.loads(r.body)["messages"]


async def hints(jp_fetch, path, n):
    found = [m for m in await history(jp_fetch, path) if m["kind"] == "hint" and m["status"] == "done"]
    return found if len(found) >= n else None


async def test_rename_keeps_history_and_ladder(jp_fetch, ltt_notebook, kernel_ws):
    nb = await ltt_notebook("Untitled.ipynb", {"c1": "greeting = 'hi'", "c2": "print(greting)"})
    ws = await kernel_ws(nb.kernel_id)
    await ws.wait_idle(ws.execute("greeting = 'hi'", cell_id="c1"))
    await ws.wait_idle(ws.execute("print(greting)", cell_id="c2"))
    first = (await wait_until(lambda: hints(jp_fetch, "Untitled.ipynb", 1)))[0]
    assert first["level"] == 1

    await jp_fetch(
        "api", "contents", "Untitled.ipynb", method="PATCH", body=json.dumps({"path": "greetings.ipynb"})
    )
    await jp_fetch(
        "api",
        "sessions",
        nb.session_id,
        method="PATCH",
        body=json.dumps({"path": "greetings.ipynb", "name": "greetings.ipynb"}),
    )

    before = await history(jp_fetch, "greetings.ipynb")
    assert [m["id"] for m in before] == [first["id"]] and before[0]["path"] == "greetings.ipynb"

    await ws.wait_idle(ws.execute("print(greting)", cell_id="c2"))  # the same error again: one rung up
    second = (await wait_until(lambda: hints(jp_fetch, "greetings.ipynb", 2)))[1]
    assert (
        second["level"] == 2
        and second["path"] == "greetings.ipynb"
        and "Did you mean `greeting`?" in second["text"]
    )

    r = await jp_fetch(
        "ltt", "api", "tutor", "more", method="POST", body=json.dumps({"path": "greetings.ipynb"})
    )
    assert json.loads(r.body)["reply"]["level"] == 3  # "more help" climbs from where the ladder was

    with pytest.raises(Exception) as e:  # the old name is gone: nothing to show there
        await history(jp_fetch, "Untitled.ipynb")
    assert getattr(e.value, "code", None) == 404
