"""nextgen_kernels_api enabled as well (its README says to): ltt-ext's classes stay in force, and
one clear line at start-up says which extension to disable."""

import json

import pytest

from ltt_ext.kernels.client import SharedKernelClient
from ltt_ext.kernels.manager import SharedClientKernelManager, SharedClientMultiKernelManager
from ltt_ext.kernels.websocket import SharedClientWebsocketConnection
from ltt_ext.sessions import SharedClientSessionManager


@pytest.fixture
def jp_server_config(jp_server_config):
    # nextgen_kernels_api links after ltt_ext (alphabetical) and sets its own kernel manager,
    # per-kernel manager and websocket classes.
    jp_server_config["ServerApp"]["jpserver_extensions"]["nextgen_kernels_api"] = True
    return jp_server_config


async def test_ltt_ext_classes_win_and_the_extension_to_disable_is_named(capsys, jp_serverapp, jp_fetch):
    # capsys is requested first, so it holds what the server logged while starting.
    err = capsys.readouterr().err
    assert "nextgen_kernels_api" in jp_serverapp.extension_manager.extensions
    assert type(jp_serverapp.kernel_manager) is SharedClientMultiKernelManager
    assert jp_serverapp.kernel_websocket_connection_class is SharedClientWebsocketConnection
    assert isinstance(jp_serverapp.session_manager, SharedClientSessionManager)

    reported = [line for line in err.splitlines() if "ltt_ext: extension nextgen_kernels_api" in line]
    assert len(reported) == 1, err
    assert "jupyter server extension disable nextgen_kernels_api" in reported[0]
    assert "ServerApp.kernel_manager_class" in reported[0]
    assert not [line for line in err.splitlines() if "ltt_ext: the kernel manager is" in line]

    # Kernels get ltt-ext's per-kernel manager and shared client, not nextgen's.
    r = await jp_fetch("api", "kernels", method="POST", body=json.dumps({"name": "python3"}))
    km = jp_serverapp.kernel_manager.get_kernel(json.loads(r.body)["id"])
    assert type(km) is SharedClientKernelManager
    assert type(km.kernel_client) is SharedKernelClient
    assert await km.kernel_client.wait_for_connection_ready(timeout=60)
