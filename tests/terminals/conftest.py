import pytest


@pytest.fixture
def jp_server_config(ltt_tutored_server_config):
    """A tutored server with jupyter_server_terminals, whose shell is plain bash (no rc files: a
    known prompt, ``bash-5.x$ `` or ``# ``) so the tests do not depend on the machine's profile."""
    config = ltt_tutored_server_config
    config["ServerApp"]["jpserver_extensions"]["jupyter_server_terminals"] = True
    config["ServerApp"]["terminado_settings"] = {"shell_command": ["bash", "--norc", "--noprofile", "-i"]}
    config["Tutor"]["model"] = ""
    return config
