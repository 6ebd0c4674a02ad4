"""The store never blocks the event loop (issue 9, item 6): while another process holds the tutor database's
write lock, the server keeps answering, and the tutor API answers 503 with a JSON message (not a 500)."""

import asyncio
import json
import sys

import nbformat
import pytest
from tornado.httpclient import HTTPClientError

HOLD_LOCK = """
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("BEGIN IMMEDIATE")  # the write lock, as another server or a backup tool would take it
print("locked", flush=True)
sys.stdin.readline()
conn.execute("ROLLBACK")
"""


@pytest.fixture
def jp_server_config(ltt_tutored_server_config):
    ltt_tutored_server_config["Tutor"]["db_timeout"] = 5.0
    return ltt_tutored_server_config


async def test_locked_store_gives_503_and_the_server_stays_responsive(
    jp_fetch, jp_root_dir, ltt_tutor_config
):
    nbformat.write(nbformat.v4.new_notebook(), jp_root_dir / "nb.ipynb")
    body = json.dumps({"path": "nb.ipynb", "text": "hello?"})
    r = await jp_fetch("ltt", "api", "tutor", "ask", method="POST", body=body)
    assert r.code == 202  # the store works

    holder = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        HOLD_LOCK,
        ltt_tutor_config["db_path"],
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        assert await asyncio.wait_for(holder.stdout.readline(), 30) == b"locked\n"
        ask = asyncio.ensure_future(jp_fetch("ltt", "api", "tutor", "ask", method="POST", body=body))
        r = await jp_fetch("api", "status")
        assert r.code == 200 and not ask.done()  # answered while the ask still waits for the lock
        with pytest.raises(HTTPClientError) as e:
            await ask
        assert e.value.code == 503
        assert "database is locked" in json.loads(e.value.response.body)["message"]
    finally:
        holder.stdin.write(b"\n")
        await holder.wait()

    r = await jp_fetch("ltt", "api", "tutor", "ask", method="POST", body=body)
    assert r.code == 202  # the lock is gone: back to normal
    r = await jp_fetch("ltt", "api", "tutor", "history", params={"path": "nb.ipynb"})
    assert [m["text"] for m in json.loads(r.body)["messages"] if m["kind"] == "question"] == [
        "hello?",
        "hello?",
    ]
