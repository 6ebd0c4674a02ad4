"""Every execution of a notebook cell reaches the server YDoc and the .ipynb, exactly once."""

import asyncio
import json
import logging
import uuid

from jupyter_server_documents.rooms.ynotebook_room import _source_hash
from pycrdt import Map, Text

from ltt_ext.documents.rooms import SharedClientNotebookRoom
from ltt_ext.documents.writer import NotebookWriter
from ltt_ext.kernels.message import KernelMessage
from ltt_ext.kernels.requests import Request
from ltt_ext.testing import wait_for_cell, wait_until


def ycell(room, cell_id):
    return next(c for c in room._jupyter_ydoc.ycells if c.get("id") == cell_id)


async def rest_execute(jp_fetch, room, kid, cell_id):
    source = str(ycell(room, cell_id)["source"])
    body = {"document_id": room.room_id, "cells": [{"cell_id": cell_id, "source_hash": _source_hash(source)}]}
    await jp_fetch("api", "kernels", kid, "execute", method="POST", body=json.dumps(body))


async def test_notebook_rooms_run_through_the_shared_client(make_notebook, notebook_session, jp_serverapp):
    path, _ = make_notebook(["1"])
    session, room = await notebook_session(path)
    km = jp_serverapp.kernel_manager.get_kernel(session["kernel"]["id"])
    assert isinstance(room, SharedClientNotebookRoom)
    assert room._kernel_client is km.kernel_client  # no second ZMQ client per notebook


async def test_rest_execution_is_recorded_once_with_merged_streams(
    jp_fetch, jp_root_dir, make_notebook, notebook_session
):
    code = "import sys\nfor i in range(50): print(i, flush=True)\nprint('oops', file=sys.stderr)\n'done'"
    path, cells = make_notebook([code])
    session, room = await notebook_session(path)
    await rest_execute(jp_fetch, room, session["kernel"]["id"], cells[0])

    cell = await wait_for_cell(jp_root_dir, path, 0, lambda c: c.execution_count and len(c.outputs) == 3)
    stdout, stderr, result = cell.outputs
    assert stdout.name == "stdout" and stdout.text.split() == [str(i) for i in range(50)]
    assert stderr.name == "stderr" and stderr.text == "oops\n"
    assert result.data["text/plain"] == "'done'"
    # In the YDoc, as JupyterLab's front end stores it: a Map per output, stream text as Text.
    youts = ycell(room, cells[0])["outputs"]
    assert all(isinstance(o, Map) for o in youts) and isinstance(youts[0]["text"], Text)
    assert ycell(room, cells[0])["execution_state"] == "idle"


async def test_websocket_execution_with_a_cell_id_lands_in_the_ydoc_and_on_disk(
    jp_root_dir, make_notebook, notebook_session, kernel_ws
):
    path, cells = make_notebook(["a = 1", "print('hello from another client')\n40 + 2"])
    session, room = await notebook_session(path)
    ws = await kernel_ws(session["kernel"]["id"])
    msg_id = ws.execute("print('hello from another client')\n40 + 2", cell_id=cells[1])
    await ws.wait_idle(msg_id)
    cell = await wait_for_cell(jp_root_dir, path, 1, lambda c: c.outputs)
    assert [o.output_type for o in cell.outputs] == ["stream", "execute_result"]
    assert cell.execution_count == 1
    # Executions without a cell id (a console, the tutor's tools) are not cell outputs.
    await ws.wait_idle(ws.execute("print('console')"))
    assert not (await wait_for_cell(jp_root_dir, path, 0, lambda c: True)).outputs


async def test_closing_every_websocket_mid_run_loses_nothing(
    jp_root_dir, make_notebook, notebook_session, kernel_ws, jp_fetch
):
    code = "import time\nfor i in range(8):\n    print(i, flush=True)\n    time.sleep(0.25)\n1/0"
    path, cells = make_notebook([code])
    session, room = await notebook_session(path)
    kid = session["kernel"]["id"]
    ws = await kernel_ws(kid)
    ws.execute(code, cell_id=cells[0])
    await ws.wait_for(lambda ch, m: m["header"]["msg_type"] == "stream")
    await ws.close()  # the learner closes the laptop: nothing is attached from here on
    cell = await wait_for_cell(
        jp_root_dir, path, 0, lambda c: c.outputs and c.outputs[-1].output_type == "error"
    )
    assert cell.outputs[0].text.split() == [str(i) for i in range(8)]
    assert cell.outputs[-1].ename == "ZeroDivisionError"
    assert cell.execution_count == 1


async def test_a_running_cell_shows_running_then_its_count(jp_fetch, make_notebook, notebook_session):
    # JupyterLab marks a cell idle ([n] instead of [*]) as soon as its count changes, so the count
    # comes with the end of the run, as jupyter-server-documents writes it.
    path, cells = make_notebook(["import time\nprint('started', flush=True)\ntime.sleep(3)"])
    session, room = await notebook_session(path)
    await rest_execute(jp_fetch, room, session["kernel"]["id"], cells[0])
    cell = ycell(room, cells[0])
    await wait_until(lambda: len(cell["outputs"]) == 1)
    assert cell["execution_state"] == "running" and cell["execution_count"] is None
    await wait_until(lambda: cell["execution_state"] == "idle", timeout=30)
    assert cell["execution_count"] == 1


async def test_a_running_notebook_keeps_its_room_with_no_browser(
    jp_fetch, jp_serverapp, jp_root_dir, make_notebook, notebook_session
):
    path, cells = make_notebook(["import time\ntime.sleep(4)\nprint('finished')"])
    session, room = await notebook_session(path)
    manager = jp_serverapp.web_app.settings["yroom_manager"]
    room.inactivity_timeout = 0  # as if an hour had passed with no browser
    await rest_execute(jp_fetch, room, session["kernel"]["id"], cells[0])
    await wait_until(lambda: ycell(room, cells[0])["execution_state"] == "running")
    assert not manager._should_free_room(room)
    cell = await wait_for_cell(jp_root_dir, path, 0, lambda c: c.outputs)
    assert cell.outputs[0].text == "finished\n"
    await wait_until(lambda: manager._should_free_room(room))  # idle again: may be freed


async def test_a_freed_room_comes_back_for_a_websocket_execution(
    jp_root_dir, make_notebook, notebook_session, kernel_ws, jp_serverapp
):
    path, cells = make_notebook(["print('back')"])
    session, room = await notebook_session(path)
    manager = jp_serverapp.web_app.settings["yroom_manager"]
    await manager.delete_room(room.room_id)  # what the GC does to an idle room
    ws = await kernel_ws(session["kernel"]["id"])
    await ws.wait_idle(ws.execute("print('back')", cell_id=cells[0]))
    cell = await wait_for_cell(jp_root_dir, path, 0, lambda c: c.outputs)
    assert cell.outputs[0].text == "back\n"


def iopub(msg_type: str, content: dict, request: Request) -> KernelMessage:
    header = {"msg_id": uuid.uuid4().hex, "msg_type": msg_type, "session": "kernel", "version": "5.3"}
    parent = {"msg_id": request.msg_id, "msg_type": "execute_request"}
    parts = [json.dumps(part).encode() for part in (header, parent, {}, content)]
    return KernelMessage("iopub", parts, request)


async def test_messages_arriving_while_a_room_connects_keep_kernel_order(make_notebook, notebook_session):
    # The room is attached to the writer before its connection finishes; what the kernel sends
    # meanwhile must wait behind the backlog (a stream written before its execute_input was wiped).
    path, cells = make_notebook(["print('in order')"])
    _, room = await notebook_session(path)
    attached = asyncio.Event()

    async def connect_slowly(kernel_id):
        writer.attach_room(kernel_id, room)
        attached.set()
        await asyncio.sleep(0.2)  # the rest of connect_kernel: kernel info, worker start

    writer = NotebookWriter(logging.getLogger("test"), resolver=connect_slowly)
    listener = writer.listener_for("k1")
    parent = Request(uuid.uuid4().hex, "execute_request", "shell", cells[0], origin=None)
    listener("iopub", iopub("status", {"execution_state": "busy"}, parent))
    listener("iopub", iopub("execute_input", {"code": "print('in order')", "execution_count": 7}, parent))
    await attached.wait()
    listener("iopub", iopub("stream", {"name": "stdout", "text": "in order\n"}, parent))
    listener("iopub", iopub("status", {"execution_state": "idle"}, parent))
    await listener._resolving

    cell = ycell(room, cells[0])
    assert cell["execution_count"] == 7 and cell["execution_state"] == "idle"
    assert [str(o["text"]) for o in cell["outputs"]] == ["in order\n"]


async def test_a_display_updated_from_a_later_cell_changes_the_first_cell(
    jp_root_dir, make_notebook, notebook_session, kernel_ws
):
    # Display ids are notebook-wide (nbclient, JupyterLab): the update lands where the display is.
    sources = [
        "h = display('v1', display_id=True)",
        "h.update('v3')",
        "display('v4', display_id=h.display_id)",
        "print('re-run')",
    ]
    path, cells = make_notebook(sources)
    session, room = await notebook_session(path)
    ws = await kernel_ws(session["kernel"]["id"])
    for i in (0, 1):
        await ws.wait_idle(ws.execute(sources[i], cell_id=cells[i]))

    def text(c):
        return str(ycell(room, c)["outputs"][0]["data"]["text/plain"])

    await wait_until(lambda: text(cells[0]) == "'v3'")
    assert not ycell(room, cells[1])["outputs"]  # an update adds no output where it ran
    cell = await wait_for_cell(
        jp_root_dir, path, 0, lambda c: c.outputs and c.outputs[0].data["text/plain"] == "'v3'"
    )
    assert cell.outputs[0].output_type == "display_data"

    # A new display with the same id shows there and updates the earlier one too (nbclient's rule).
    await ws.wait_idle(ws.execute(sources[2], cell_id=cells[2]))
    await wait_until(lambda: text(cells[0]) == "'v4'" and text(cells[2]) == "'v4'")

    # Re-running the first cell replaces its outputs: its old display index is forgotten, so a
    # later update of that id touches only the cell still showing it.
    await ws.wait_idle(ws.execute("print('re-run')", cell_id=cells[0]))
    await ws.wait_idle(ws.execute("h.update('v5')", cell_id=cells[3]))
    await wait_until(lambda: text(cells[2]) == "'v5'")
    assert str(ycell(room, cells[0])["outputs"][0]["text"]) == "re-run\n"
    assert [o["output_type"] for o in ycell(room, cells[0])["outputs"]] == ["stream"]

    # An update from outside any cell (a console on the same kernel) still reaches the display.
    await ws.wait_idle(ws.execute("h.update('v6')"))
    await wait_until(lambda: text(cells[2]) == "'v6'")
    cell = await wait_for_cell(
        jp_root_dir, path, 2, lambda c: c.outputs and c.outputs[0].data["text/plain"] == "'v6'"
    )
