"""Installing and enabling the extension, on real servers (in-process and as a subprocess)."""

import json
import signal
import subprocess
import sys
import urllib.request

from ltt_ext import __version__
from ltt_ext.testing import V1


def run_module(module, *args, env=None, **kw):
    # `python -m <app module>`, not `python -m jupyter <sub>`: jupyter_core finds `jupyter-<sub>` on
    # PATH, which may be another environment's script (a venv made with --system-site-packages).
    return subprocess.run(
        [sys.executable, "-m", module, *args], capture_output=True, text=True, env=env, timeout=120, **kw
    )


def test_extension_list_shows_ltt_ext_ok():
    out = run_module("jupyter_server.extension.serverextension", "list")
    text = out.stdout + out.stderr
    for name in ("ltt_ext", "jupyter_server_documents", "jupyter_server_fileid"):
        assert f"{name} \x1b[32menabled" in text or f"{name} enabled" in text, text
    assert f"ltt_ext {__version__} \x1b[32mOK" in text or f"ltt_ext {__version__} OK" in text, text


def test_labextension_list_shows_the_prebuilt_front_end_enabled_ok():
    out = run_module("jupyterlab.labextensions", "list")
    text = (out.stdout + out.stderr).replace("\x1b[32m", "").replace("\x1b[0m", "")
    assert f"ltt-ext v{__version__} enabled OK (python, ltt-ext)" in text, text


def api(base, token, path, method="GET", body=None):
    req = urllib.request.Request(
        f"{base}{path}",
        method=method,
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Authorization": f"token {token}"},
    )
    with urllib.request.urlopen(req, timeout=60) as r:
        return json.loads(r.read() or b"null")


def test_a_real_server_runs_cells_and_shuts_down_clean(server_subprocess):
    from jupyter_client.session import Session
    from jupyter_server.services.kernels.connection.base import (
        deserialize_msg_from_ws_v1,
        serialize_msg_to_ws_v1,
    )
    from websocket import create_connection  # websocket-client, a jupyter_server dependency

    proc, base, token, log = server_subprocess
    kid = api(base, token, "/api/kernels", "POST", {"name": "python3"})["id"]
    ws = create_connection(
        f"{base.replace('http', 'ws')}/api/kernels/{kid}/channels?token={token}",
        subprotocols=[V1],
        timeout=60,
    )
    session = Session()
    msg = session.msg("execute_request", {"code": "print('hi')", "silent": False})
    ws.send_binary(
        serialize_msg_to_ws_v1(
            [session.pack(msg[k]) for k in ("header", "parent_header", "metadata", "content")], "shell"
        )
    )
    got = []
    while True:
        channel, parts = deserialize_msg_from_ws_v1(ws.recv())
        header, parent, content = (json.loads(parts[i]) for i in (0, 1, 3))
        if parent.get("msg_id") != msg["header"]["msg_id"]:
            continue
        got.append(header["msg_type"])
        if header["msg_type"] == "status" and content["execution_state"] == "idle":
            break
    assert "stream" in got
    ws.close()

    proc.send_signal(signal.SIGTERM)  # graceful stop: kernels shut down, extensions stopped
    assert proc.wait(60) == 0
    log.seek(0)
    output = log.read()
    assert "Task was destroyed but it is pending" not in output
    assert "Traceback" not in output, output
    assert "Shutting down 1 kernel" in output or "Kernel shutdown" in output, output
