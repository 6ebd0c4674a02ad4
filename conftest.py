"""Shared pytest set-up: a real Jupyter server (pytest-jupyter) with ltt-ext enabled."""

import pytest

# ltt-ext's fixtures are opt-in, for us as for downstream projects (no pytest11 entry point).
pytest_plugins = ["pytest_jupyter.jupyter_server", "ltt_ext.pytest_plugin"]


@pytest.fixture
def jp_server_config(tmp_path):
    """Enable ltt_ext the way users do (it requires jupyter_server_documents)."""
    return {
        "ServerApp": {
            "jpserver_extensions": {
                "ltt_ext": True,
                "jupyter_server_documents": True,
                "jupyter_server_fileid": True,
            },
        },
        # A real file: the fileid extension refuses to load without a writable db.
        "BaseFileIdManager": {"db_path": str(tmp_path / "file_id_manager.db")},
        "Tutor": {"db_path": str(tmp_path / "tutor.db")},
    }
