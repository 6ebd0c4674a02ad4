"""Pending kernels (``use_pending_kernels``) that fail to start: refused websockets, clean shutdown."""

import json

import pytest
from tornado.httpclient import HTTPClientError


@pytest.fixture
def missing_kernel(jp_data_dir):
    """A kernel that cannot even be launched (its program does not exist)."""
    spec = jp_data_dir / "kernels" / "missing"
    spec.mkdir(parents=True)
    argv = ["/nonexistent/ltt-kernel", "{connection_file}"]
    (spec / "kernel.json").write_text(json.dumps({"argv": argv, "display_name": "missing"}))
    return "missing"


@pytest.fixture
def jp_server_config(jp_server_config):
    jp_server_config["AsyncMappingKernelManager"] = {"use_pending_kernels": True}
    return jp_server_config


async def test_pending_kernel_that_failed_refuses_websockets_and_shuts_down(
    jp_fetch, jp_ws_fetch, jp_serverapp, missing_kernel
):
    assert jp_serverapp.kernel_manager.use_pending_kernels
    r = await jp_fetch(
        "api", "kernels", method="POST", body=json.dumps({"name": missing_kernel}), request_timeout=60
    )
    assert r.code == 201
    kid = json.loads(r.body)["id"]
    # As upstream: the websocket waits for the start, which failed: refused, never 101.
    with pytest.raises(HTTPClientError) as refused:
        await jp_ws_fetch("api", "kernels", kid, "channels", request_timeout=60)
    assert refused.value.code == 500
    r = await jp_fetch("api", "kernels", kid)
    model = json.loads(r.body)
    assert model["execution_state"] == "dead" and model["connections"] == 0
    # Shutting it down answers (and removes it) rather than hanging.
    r = await jp_fetch("api", "kernels", kid, method="DELETE", request_timeout=60)
    assert r.code == 204
    r = await jp_fetch("api", "kernels")
    assert kid not in [k["id"] for k in json.loads(r.body)]
