import pytest


@pytest.fixture
def jp_server_config(ltt_tutored_server_config):
    """Tutor tests run against the fake LLM of ltt_ext.pytest_plugin (modules may override)."""
    return ltt_tutored_server_config
