import pytest


@pytest.fixture
def jp_server_config(ltt_tutored_server_config):
    """A tutored server on the fake LLM, with quick sidecar limits."""
    config = ltt_tutored_server_config
    config["Sidecars"] = {"run_timeout": 5.0, "interrupt_grace": 3.0, "max_output_chars": 5000}
    return config


@pytest.fixture
def ltt_tools(jp_serverapp):
    return jp_serverapp.web_app.settings["ltt_tools"]
