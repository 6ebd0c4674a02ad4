"""Another extension replacing the kernel manager is reported in one clear line at start-up."""

import pytest


@pytest.fixture
def jp_server_config(jp_server_config):
    # nextgen_kernels_api links after ltt_ext (alphabetical) and sets its own kernel manager class.
    jp_server_config["ServerApp"]["jpserver_extensions"]["nextgen_kernels_api"] = True
    return jp_server_config


async def test_overridden_kernel_manager_is_reported(capsys, jp_serverapp):
    # capsys is requested first, so it holds what the server logged while starting.
    err = capsys.readouterr().err
    reported = [line for line in err.splitlines() if "ltt_ext: the kernel manager is" in line]
    assert len(reported) == 1
    assert "nextgen_kernels_api" in reported[0] and "overrode" in reported[0]
