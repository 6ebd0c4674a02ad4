"""Behave like Jupyter Server for every client: replies to their sender, ids unchanged, both
websocket protocols, input(), malformed frames, kernel death — on a real server and kernel."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import uuid

import psutil
import pytest
from jupyter_client.session import Session
from jupyter_server.services.kernels.connection.base import serialize_msg_to_ws_v1

from ltt_ext.testing import KernelWS, execute_content, wait_until


class JsonWS:
    """A client of the JSON protocol (no subprotocol), like jupyter-kernel-client or the gateway."""

    def __init__(self, conn):
        self.conn = conn
        self.session = Session()
        self.messages: list[dict] = []
        self.frames: list[str | bytes] = []
        self._reader = asyncio.ensure_future(self._read())
        self.close_code = None

    async def _read(self):
        while True:
            frame = await self.conn.read_message()
            if frame is None:
                self.close_code = self.conn.close_code
                return
            self.frames.append(frame)
            self.messages.append(json.loads(frame))

    def send(self, msg_type, content, metadata=None, msg_id=None, channel="shell"):
        msg = self.session.msg(msg_type, content=content, metadata=metadata or {})
        if msg_id:
            msg["header"]["msg_id"] = msg["msg_id"] = msg_id
        msg["channel"] = channel
        self.conn.write_message(json.dumps(msg, default=str))
        return msg["header"]["msg_id"]

    def replies_to(self, msg_id, msg_type=None):
        return [
            m
            for m in self.messages
            if m["parent_header"].get("msg_id") == msg_id
            and (msg_type is None or m["header"]["msg_type"] == msg_type)
        ]


@pytest.fixture
def json_ws(jp_ws_fetch):
    opened = []

    async def _open(kernel_id):
        conn = await jp_ws_fetch(
            "api", "kernels", kernel_id, "channels", params={"session_id": uuid.uuid4().hex}
        )
        ws = JsonWS(conn)
        opened.append(ws)
        return ws

    yield _open
    for ws in opened:
        ws.conn.close()
        ws._reader.cancel()


def send_v1(ws: KernelWS, channel, msg_type, content, msg_id=None, metadata=None):
    msg = ws.session.msg(msg_type, content=content, metadata=metadata or {})
    if msg_id:
        msg["header"]["msg_id"] = msg_id
    parts = [ws.session.pack(msg[k]) for k in ("header", "parent_header", "metadata", "content")]
    ws.conn.write_message(serialize_msg_to_ws_v1(parts, channel), binary=True)
    return msg["header"]["msg_id"]


def shell_ids(ws: KernelWS):
    return [m["parent_header"].get("msg_id") for ch, m in ws.messages if ch != "iopub"]


async def test_replies_go_to_their_sender_with_the_id_it_sent(start_kernel, kernel_ws):
    kid = await start_kernel()
    a, b = await kernel_ws(kid), await kernel_ws(kid)
    # Ids nextgen's encoding used to mangle, and an id both clients use at once.
    ids = ["req-4d2f#42", "shell:abc", "control:x#y", "same-id"]
    for msg_id in ids:
        send_v1(a, "shell", "execute_request", execute_content("1+1"), msg_id=msg_id)
    send_v1(b, "shell", "execute_request", execute_content("2+2"), msg_id="same-id")
    for msg_id in ids:
        await a.wait_for(lambda ch, m, i=msg_id: ch == "shell" and m["parent_header"]["msg_id"] == i)
    await b.wait_for(lambda ch, m: ch == "shell" and m["parent_header"]["msg_id"] == "same-id")
    await a.wait_idle("same-id")
    await b.wait_for(
        lambda ch, m: (
            m["header"]["msg_type"] == "execute_result"
            and m["parent_header"]["msg_id"] == "same-id"
            and m["content"]["data"]["text/plain"] == "4"
        )
    )
    assert sorted(shell_ids(a)) == sorted(ids)  # its own replies only, ids byte-identical
    assert shell_ids(b) == ["same-id"]
    reply_b = next(m for ch, m in b.messages if ch == "shell")
    assert reply_b["content"]["status"] == "ok"
    # b's "same-id" was b's own run (4), a's was a's (2): neither got the other's result.
    results_a = [m["content"]["data"]["text/plain"] for m in a.replies_to("same-id", "execute_result")]
    assert "2" in results_a
    # IOPub stays broadcast, as upstream.
    assert b.replies_to("req-4d2f#42", "execute_result")


async def test_input_prompts_only_the_connection_that_ran_the_cell(start_kernel, kernel_ws):
    kid = await start_kernel()
    runner, other = await kernel_ws(kid), await kernel_ws(kid)
    code = "import getpass\nname = input('Name? ')\nsecret = getpass.getpass('Secret? ')\nprint(name, len(secret))"
    msg_id = send_v1(runner, "shell", "execute_request", execute_content(code, allow_stdin=True))
    _, prompt = await runner.wait_for(lambda ch, m: ch == "stdin")
    assert prompt["content"] == {"prompt": "Name? ", "password": False}
    send_v1(runner, "stdin", "input_reply", {"value": "Ada"})
    await runner.wait_for(lambda ch, m: ch == "stdin" and m["content"].get("password"))
    send_v1(runner, "stdin", "input_reply", {"value": "hunter2"})
    await runner.wait_idle(msg_id)
    text = "".join(m["content"]["text"] for m in runner.replies_to(msg_id, "stream"))
    assert text == "Ada 7\n"
    assert not [m for ch, m in other.messages if ch != "iopub"]  # no prompt, no reply


async def test_json_protocol_clients_are_served_json(jp_fetch, start_kernel, json_ws, kernel_ws):
    kid = await start_kernel()
    client = await json_ws(kid)
    v1 = await kernel_ws(kid)
    msg_id = client.send("execute_request", execute_content("print('hi'); 6*7"), msg_id="json-1#7")
    await wait_until(
        lambda: (
            client.replies_to(msg_id, "execute_reply")
            and any(
                m["content"].get("execution_state") == "idle" for m in client.replies_to(msg_id, "status")
            )
        )
    )
    assert all(isinstance(f, str) for f in client.frames)  # text frames: the JSON protocol
    stream = client.replies_to(msg_id, "stream")[0]
    assert stream["channel"] == "iopub" and stream["content"]["text"] == "hi\n"
    reply = client.replies_to(msg_id, "execute_reply")[0]
    assert reply["channel"] == "shell" and reply["content"]["status"] == "ok"
    assert reply["msg_type"] == "execute_reply" and reply["parent_header"]["msg_id"] == "json-1#7"
    # The v1 client on the same kernel sees the same run as binary frames.
    await v1.wait_for(
        lambda ch, m: (
            m["header"]["msg_type"] == "execute_result" and m["parent_header"]["msg_id"] == "json-1#7"
        )
    )


async def test_a_json_client_with_a_cell_id_reaches_the_notebook(
    make_notebook, notebook_session, json_ws, jp_root_dir
):
    from ltt_ext.testing import wait_for_cell

    path, cells = make_notebook(["print('from json')"])
    session, _ = await notebook_session(path)
    client = await json_ws(session["kernel"]["id"])
    client.send("execute_request", execute_content("print('from json')"), metadata={"cellId": cells[0]})
    cell = await wait_for_cell(jp_root_dir, path, 0, lambda c: c.outputs)
    assert cell.outputs[0]["text"] == "from json\n"


@pytest.mark.parametrize(
    "frame",
    [
        b"\xff" * 8,  # one huge offset count (read as ~1.8e19 offsets before)
        (7).to_bytes(8, "little") + (2**62).to_bytes(8, "little") * 7,  # offsets past the frame
        (6).to_bytes(8, "little") + b"".join((56 - i).to_bytes(8, "little") for i in range(6)),  # decreasing
        b"abc",  # truncated
        "a text frame on the v1 protocol",
    ],
)
async def test_malformed_v1_frames_close_the_socket_and_allocate_nothing(
    jp_serverapp, start_kernel, kernel_ws, frame, caplog
):
    kid = await start_kernel()
    good, bad = await kernel_ws(kid), await kernel_ws(kid)
    rss = psutil.Process().memory_info().rss
    bad.conn.write_message(frame, binary=isinstance(frame, bytes))
    await wait_until(lambda: bad.closed)
    assert bad.conn.close_code == 1007
    assert psutil.Process().memory_info().rss - rss < 50 * 2**20
    assert "token=" not in caplog.text and "Traceback" not in caplog.text
    await good.wait_idle(good.execute("1+1"))  # the kernel and the other clients carry on


async def test_malformed_json_messages_close_the_socket(start_kernel, json_ws, kernel_ws):
    kid = await start_kernel()
    good = await kernel_ws(kid)
    for payload in [
        "not json",
        json.dumps({"channel": "shell", "header": "nope"}),
        (2**31 - 1).to_bytes(4, "big") + b"{}",
    ]:
        client = await json_ws(kid)
        client.conn.write_message(payload, binary=isinstance(payload, bytes))
        await wait_until(lambda c=client: c._reader.done())
        assert client.close_code == 1007
    await good.wait_idle(good.execute("1+1"))


async def test_messages_not_allowed_are_dropped(jp_serverapp, start_kernel, kernel_ws):
    kid = await start_kernel()
    jp_serverapp.kernel_manager.allowed_message_types = ["kernel_info_request"]
    ws = await kernel_ws(kid)
    blocked = ws.execute("print('should not run')")
    info = ws.send("shell", "kernel_info_request", {})
    await ws.wait_for(lambda ch, m: ch == "shell" and m["parent_header"]["msg_id"] == info)
    assert not ws.replies_to(blocked)


async def test_a_kernel_that_dies_is_reported_to_everyone(jp_serverapp, jp_fetch, start_kernel, kernel_ws):
    kid = await start_kernel()
    km = jp_serverapp.kernel_manager.get_kernel(kid)
    runner, watcher = await kernel_ws(kid), await kernel_ws(kid)
    msg_id = runner.execute("import time; time.sleep(60)")
    await wait_until(lambda: runner.replies_to(msg_id, "execute_input"))
    os.kill(km.provisioner.process.pid, signal.SIGKILL)
    for ws in (runner, watcher):
        await ws.wait_for(
            lambda ch, m: (
                m["header"]["msg_type"] == "status" and m["content"]["execution_state"] == "restarting"
            ),
            timeout=30,
        )
    _, reply = await runner.wait_for(lambda ch, m: ch == "shell" and m["parent_header"]["msg_id"] == msg_id)
    assert reply["content"]["status"] == "aborted"

    async def idle_again():
        return json.loads((await jp_fetch("api", "kernels", kid)).body)["execution_state"] == "idle"

    await wait_until(idle_again, timeout=60)
    late = await kernel_ws(kid)
    await late.wait_for(lambda ch, m: m["header"]["msg_type"] == "status", timeout=10)
    assert next(m for ch, m in late.messages)["content"]["execution_state"] == "idle"
    after = runner.execute("'alive'")
    await runner.wait_for(
        lambda ch, m: m["header"]["msg_type"] == "execute_result" and m["parent_header"]["msg_id"] == after,
        timeout=30,
    )


async def test_input_in_a_cell_the_server_runs_prompts_the_client_that_ran_it(
    jp_fetch, jp_ws_fetch, jp_root_dir, make_notebook, notebook_session, kernel_ws
):
    # JupyterLab with jupyter-server-documents runs cells with POST /api/kernels/<id>/execute.
    from jupyter_server_documents.rooms.ynotebook_room import _source_hash

    from ltt_ext.testing import V1, wait_for_cell

    source = "name = input('Your name? ')\nprint('hello', name)"
    path, cells = make_notebook([source])
    session, room = await notebook_session(path)
    kid = session["kernel"]["id"]
    ws_session = uuid.uuid4().hex
    mine = KernelWS(
        await jp_ws_fetch(
            "api", "kernels", kid, "channels", params={"session_id": ws_session}, subprotocols=[V1]
        )
    )
    other = await kernel_ws(kid)
    await jp_fetch(
        "ltt",
        "api",
        "kernels",
        kid,
        "stdin",
        method="PUT",
        body=json.dumps({"client_id": "4242", "session_id": ws_session}),
    )
    await jp_fetch(
        "api",
        "kernels",
        kid,
        "execute",
        method="POST",
        body=json.dumps(
            {
                "document_id": room.room_id,
                "client_id": 4242,
                "cells": [{"cell_id": cells[0], "source_hash": _source_hash(source)}],
            }
        ),
    )
    _, prompt = await mine.wait_for(lambda ch, m: ch == "stdin")
    assert prompt["content"]["prompt"] == "Your name? "
    assert prompt["parent_header"]["msg_id"].endswith(f"#{cells[0]}")  # the front end finds the cell
    send_v1(mine, "stdin", "input_reply", {"value": "Grace"}, metadata={})
    cell = await wait_for_cell(jp_root_dir, path, 0, lambda c: c.outputs)
    assert cell.outputs[0]["text"] == "hello Grace\n"
    assert not [m for ch, m in other.messages if ch == "stdin"]
    await mine.close()


async def test_a_console_run_logs_no_warning_per_output(capsys, start_kernel, kernel_ws):
    # JupyterLab's console tags its runs with a cell id too; no notebook uses its kernel.
    kid = await start_kernel()
    console = await kernel_ws(kid)
    capsys.readouterr()
    msg_id = console.execute("for i in range(300): print(i, flush=True)", cell_id=uuid.uuid4().hex)
    await console.wait_idle(msg_id)
    text = "".join(m["content"]["text"] for m in console.replies_to(msg_id, "stream"))
    assert len(text.splitlines()) == 300
    warnings = [line for line in capsys.readouterr().err.splitlines() if "[W " in line or "WARNING" in line]
    assert not [w for w in warnings if kid in w], warnings[:5]


async def test_a_kernel_death_ends_the_running_cell_in_the_notebook(
    jp_serverapp, jp_root_dir, make_notebook, notebook_session, kernel_ws
):
    from ltt_ext.testing import wait_for_cell

    path, cells = make_notebook(["import time; time.sleep(60)"])
    session, room = await notebook_session(path)
    kid = session["kernel"]["id"]
    ws = await kernel_ws(kid)
    msg_id = ws.execute("import time; time.sleep(60)", cell_id=cells[0])
    await wait_until(lambda: ws.replies_to(msg_id, "execute_input"))
    ycell = next(c for c in (await room.get_jupyter_ydoc()).ycells if c["id"] == cells[0])
    await wait_until(lambda: ycell.get("execution_state") == "running")
    os.kill(jp_serverapp.kernel_manager.get_kernel(kid).provisioner.process.pid, signal.SIGKILL)
    await wait_until(lambda: ycell.get("execution_state") == "idle", timeout=30)
    cell = await wait_for_cell(jp_root_dir, path, 0, lambda c: c.get("execution_count") is not None)
    assert cell.execution_count == 1  # the run is over and stays recorded as it was
    km = jp_serverapp.kernel_manager.get_kernel(kid)
    # Let the automatic restart finish: jupyter_client cannot shut a kernel down mid-restart.
    await wait_until(lambda: km.ready.done() and km.execution_state == "idle", timeout=60)
