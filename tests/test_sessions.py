"""Sessions that have no notebook room (no name, or not a notebook) work as on stock Jupyter Server."""

import json

import pytest

from ltt_ext.sessions import SharedClientSessionManager


async def create(jp_fetch, **body):
    r = await jp_fetch("api", "sessions", method="POST", body=json.dumps(body))
    assert r.code == 201
    return json.loads(r.body)


async def test_the_session_manager_is_ltt_exts(jp_serverapp):
    assert isinstance(jp_serverapp.session_manager, SharedClientSessionManager)


@pytest.mark.parametrize(
    "body",
    [
        # What upstream's own tests (and scripts) send: no name.
        {"path": "foo/nb1.ipynb", "type": "notebook", "kernel": {"name": "python3"}},
        {"path": "foo/script.py", "name": "script.py", "type": "file", "kernel": {"name": "python3"}},
    ],
    ids=["notebook-without-name", "file"],
)
async def test_delete_and_repoint_sessions_without_a_room(jp_fetch, jp_root_dir, body):
    (jp_root_dir / "foo").mkdir()
    session = await create(jp_fetch, **body)
    # Before: LookupError("No room found for session ...") from jupyter-server-documents: 500.
    r = await jp_fetch("api", "kernels", method="POST", body=json.dumps({"name": "python3"}))
    other = json.loads(r.body)["id"]
    r = await jp_fetch(
        "api", "sessions", session["id"], method="PATCH", body=json.dumps({"kernel": {"id": other}})
    )
    assert r.code == 200 and json.loads(r.body)["kernel"]["id"] == other
    r = await jp_fetch("api", "sessions", session["id"], method="DELETE")
    assert r.code == 204
    r = await jp_fetch("api", "sessions")
    assert json.loads(r.body) == []


async def test_notebook_sessions_still_get_their_room(jp_fetch, jp_serverapp, make_notebook):
    path, _ = make_notebook(["1+1"])
    session = await create(jp_fetch, path=path, name=path, type="notebook", kernel={"name": "python3"})
    manager = jp_serverapp.session_manager
    room = manager.get_yroom(session["id"])
    assert room._kernel_manager is not None
    r = await jp_fetch("api", "sessions", session["id"], method="DELETE")
    assert r.code == 204
    assert room._kernel_manager is None
