"""Large outputs live outside the notebook's YDoc, are served by /api/outputs, and reach the .ipynb in full."""

import json

import pytest
from pycrdt import Text

from ltt_ext.documents.outputs import LargeOutputsManager, is_placeholder
from ltt_ext.testing import read_notebook, wait_for_cell, wait_until

LIMIT = 20_000  # bytes: small enough for quick cells, far above the small outputs below


@pytest.fixture
def jp_server_config(jp_server_config):
    jp_server_config["LargeOutputsManager"] = {"inline_limit": LIMIT, "flush_interval": 0.2}
    return jp_server_config


def ycell(room, cell_id):
    return next(c for c in room._jupyter_ydoc.ycells if c.get("id") == cell_id)


def youtputs(room, cell_id):
    return [o.to_py() for o in ycell(room, cell_id)["outputs"]]


async def fetch_json(jp_fetch, url):
    r = await jp_fetch(*url.split("?")[0].strip("/").split("/"))
    body = r.body.decode()
    if "ndjson" in r.headers.get("Content-Type", ""):
        return [json.loads(line) for line in body.strip().splitlines()]
    return json.loads(body)


async def test_the_outputs_service_is_on_with_our_manager(jp_serverapp):
    settings = jp_serverapp.web_app.settings
    assert isinstance(settings["outputs_manager"], LargeOutputsManager)
    assert settings["outputs_manager"].inline_limit == LIMIT
    # jupyter-server-documents' JupyterLab plugin fetches placeholders only when told so.
    assert settings["page_config_data"]["outputsServiceEnabled"] == "true"


async def test_a_large_stream_stays_out_of_the_ydoc_and_reaches_disk_in_full(
    jp_fetch, jp_root_dir, make_notebook, notebook_session, kernel_ws
):
    code = "print('before')\nfor i in range(20000): print(i)"
    path, cells = make_notebook(["1 + 1", code])
    session, room = await notebook_session(path)
    ws = await kernel_ws(session["kernel"]["id"])
    await ws.wait_idle(ws.execute("1 + 1", cell_id=cells[0]))
    await ws.wait_idle(ws.execute(code, cell_id=cells[1]))
    await wait_until(lambda: ycell(room, cells[1])["execution_state"] == "idle")

    # The YDoc: one small placeholder for the large cell, the small cell untouched.
    (placeholder,) = youtputs(room, cells[1])
    assert is_placeholder(placeholder) and placeholder["output_type"] == "stream"
    assert len(json.dumps(placeholder)) < 300
    (small,) = youtputs(room, cells[0])
    assert small["data"]["text/plain"] == "2" and not is_placeholder(small)

    # What the browser fetches: the output itself, and the whole cell (JSD's front end, on open).
    expected = "before\n" + "".join(f"{i}\n" for i in range(20000))
    served = await fetch_json(jp_fetch, placeholder["metadata"]["url"])
    assert served == {"output_type": "stream", "name": "stdout", "text": expected}
    file_id = room.room_id.split(":")[2]
    assert await fetch_json(jp_fetch, f"/api/outputs/{file_id}/{cells[1]}") == [served]

    # The .ipynb on disk: everything, in full.
    cell = await wait_for_cell(jp_root_dir, path, 1, lambda c: c.outputs and c.outputs[0].get("text"))
    assert cell.outputs[0].text == expected and cell.execution_count == 2
    first = await wait_for_cell(jp_root_dir, path, 0, lambda c: c.outputs)
    assert first.outputs[0].data["text/plain"] == "2"


async def test_a_growing_large_stream_reaches_browsers_while_its_cell_runs(
    jp_fetch, jp_root_dir, make_notebook, notebook_session, kernel_ws
):
    code = "import time\nprint('x' * 30000)\ntime.sleep(1.5)\nprint('done')"
    path, cells = make_notebook([code])
    session, room = await notebook_session(path)
    ws = await kernel_ws(session["kernel"]["id"])
    run = ws.execute(code, cell_id=cells[0])

    def placeholder(other_than=None):
        outs = youtputs(room, cells[0])
        if outs and is_placeholder(outs[0]) and outs[0]["metadata"]["url"] != other_than:
            return outs[0]
        return None

    # While the cell sleeps, a browser opening the output gets what was printed so far (served
    # from the server's memory: the run's outputs reach the disk when it ends).
    first = await wait_until(placeholder)
    assert (await fetch_json(jp_fetch, first["metadata"]["url"]))["text"] == "x" * 30000 + "\n"
    assert ycell(room, cells[0])["execution_state"] == "running"
    # More output renews the placeholder's URL, and fetching it again gives the whole stream.
    second = await wait_until(lambda: placeholder(other_than=first["metadata"]["url"]))
    assert (await fetch_json(jp_fetch, second["metadata"]["url"]))["text"] == "x" * 30000 + "\ndone\n"
    await ws.wait_idle(run)
    cell = await wait_for_cell(
        jp_root_dir, path, 0, lambda c: c.outputs and c.outputs[0].text.endswith("done\n")
    )
    assert cell.outputs[0].text == "x" * 30000 + "\ndone\n"


async def test_a_large_image_moves_its_whole_cell_and_a_rerun_brings_it_back(
    jp_fetch, jp_root_dir, make_notebook, notebook_session, kernel_ws
):
    big = (
        "import base64, os\nfrom IPython.display import Image, display\nprint('small first')\n"
        "display({'image/png': base64.b64encode(os.urandom(30000)).decode()}, raw=True)"
    )
    path, cells = make_notebook([big])
    session, room = await notebook_session(path)
    ws = await kernel_ws(session["kernel"]["id"])
    await ws.wait_idle(ws.execute(big, cell_id=cells[0]))
    await wait_until(lambda: ycell(room, cells[0])["execution_state"] == "idle")
    outs = youtputs(room, cells[0])
    # All or none per cell: the front end fetches a cell's outputs together when it opens.
    assert [o["output_type"] for o in outs] == ["stream", "display_data"]
    assert all(is_placeholder(o) for o in outs) and "data" not in outs[1]
    image = await fetch_json(jp_fetch, outs[1]["metadata"]["url"])
    assert len(image["data"]["image/png"]) == 40000
    cell = await wait_for_cell(jp_root_dir, path, 0, lambda c: len(c.outputs) == 2)
    assert (
        cell.outputs[0].text == "small first\n"
        and cell.outputs[1].data["image/png"] == image["data"]["image/png"]
    )

    # Run small code in the same cell: back in the YDoc as usual, the stored copy is gone.
    await ws.wait_idle(ws.execute("print('tiny')", cell_id=cells[0]))
    await wait_until(lambda: youtputs(room, cells[0]) and youtputs(room, cells[0])[0].get("text") == "tiny\n")
    assert isinstance(ycell(room, cells[0])["outputs"][0]["text"], Text)
    cell = await wait_for_cell(jp_root_dir, path, 0, lambda c: len(c.outputs) == 1)
    assert cell.outputs[0].text == "tiny\n"


async def test_a_notebook_opened_with_a_large_output_keeps_it_out_of_the_ydoc(
    jp_fetch, jp_root_dir, make_notebook, notebook_session
):
    import nbformat

    path, cells = make_notebook(["print('x' * 50000)", "2"])
    nb = nbformat.read(jp_root_dir / path, as_version=4)
    nb.cells[0].outputs = [nbformat.v4.new_output("stream", name="stdout", text="x" * 50000 + "\n")]
    nb.cells[1].outputs = [
        nbformat.v4.new_output("execute_result", data={"text/plain": "2"}, execution_count=1)
    ]
    nbformat.write(nb, jp_root_dir / path)
    session, room = await notebook_session(path)
    (ph,) = youtputs(room, cells[0])
    assert is_placeholder(ph)
    assert (await fetch_json(jp_fetch, ph["metadata"]["url"]))["text"] == "x" * 50000 + "\n"
    assert youtputs(room, cells[1])[0]["data"] == {"text/plain": "2"}
    # Saving (any change triggers it) writes the full output back, not the placeholder.
    ycell(room, cells[1])["source"] = "3"
    cell = await wait_for_cell(jp_root_dir, path, 1, lambda c: c.source == "3")
    on_disk = await wait_until(lambda: read_notebook(jp_root_dir, path))
    assert (
        on_disk.cells[0].outputs[0].text == "x" * 50000 + "\n" and cell.outputs[0].data["text/plain"] == "2"
    )
