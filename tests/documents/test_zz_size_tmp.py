import pytest
from ltt_ext.testing import wait_until

@pytest.fixture
def jp_server_config(jp_server_config):
    jp_server_config["LargeOutputsManager"] = {"inline_limit": 262144}
    return jp_server_config

async def test_size(make_notebook, notebook_session, kernel_ws):
    code = "for i in range(60000):\n    print(i, flush=True)"
    path, cells = make_notebook([code])
    session, room = await notebook_session(path)
    ws = await kernel_ws(session["kernel"]["id"])
    doc = room._jupyter_ydoc.ydoc
    print("empty", len(doc.get_update()))
    await ws.wait_idle(ws.execute(code, cell_id=cells[0]), timeout=120)
    c = room._jupyter_ydoc.ycells[0]
    await wait_until(lambda: c["execution_state"] == "idle")
    print("after", len(doc.get_update()), c["outputs"].to_py())
    n = sum(1 for m in ws.messages if m[1]["header"]["msg_type"] == "stream")
    print("stream msgs", n)
    assert 0
