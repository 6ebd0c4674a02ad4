"""Clients written elsewhere, against ltt-ext on a real server: Datalayer's jupyter-kernel-client
(the JSON protocol) and @jupyterlab/services in Node, as JupyterLab uses it."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
SERVICES = HERE.parent.parent / "labextension" / "node_modules" / "@jupyterlab" / "services"


def test_jupyter_kernel_client(server_subprocess):
    # Its default, the JSON protocol. (Its V1 mode cannot read any server's messages: 1.0.2 formats
    # a log line with a missing "channel" key in its message callback.)
    client_mod = pytest.importorskip("jupyter_kernel_client")
    from jupyter_kernel_client.wsclient import JupyterSubprotocol

    _, base, token, _ = server_subprocess
    client = client_mod.JupyterKernelClient(
        server_url=base,
        token=token,
        client_kwargs={"subprotocol": JupyterSubprotocol.DEFAULT},
    )
    client.start(timeout=60)
    try:
        reply = client.execute("print('hello'); 6*7", timeout=60)
        failed = client.execute("1/0", timeout=60)
    finally:
        client.stop()
    assert reply["status"] == "ok"
    texts = [o.get("text") or o.get("data", {}).get("text/plain") for o in reply["outputs"]]
    assert texts == ["hello\n", "42"]
    assert failed["status"] == "error"
    assert any(o.get("ename") == "ZeroDivisionError" for o in failed["outputs"])


@pytest.mark.skipif(
    shutil.which("node") is None or not SERVICES.exists(),
    reason="node and labextension/node_modules (jlpm install) are needed",
)
def test_jupyterlab_services_in_node(server_subprocess):
    _, base, token, _ = server_subprocess
    proc = subprocess.run(
        ["node", str(HERE / "services_client.js"), base + "/", token],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["status"] == "ok" and result["replyParent"]
    assert result["implementation"] == "ipython"
    assert result["outputs"] == ["from node\n", "42"]
