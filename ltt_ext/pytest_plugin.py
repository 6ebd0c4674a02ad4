"""pytest fixtures for ltt-ext and its downstream users. Opt in from a ``conftest.py``::

    pytest_plugins = ["pytest_jupyter.jupyter_server", "ltt_ext.pytest_plugin"]

``ltt_fake_llm``
    A real OpenAI-compatible HTTP server on 127.0.0.1 (:mod:`ltt_ext.fake_llm`): scripted replies,
    delays and failure modes; every request it got.

``ltt_tutor_config`` / ``ltt_tutored_server_config``
    Configuration of a tutor pointing at the fake LLM, and a whole ``jp_server_config`` enabling
    ltt-ext with it. Use it in your tests with pytest-jupyter::

        @pytest.fixture
        def jp_server_config(ltt_tutored_server_config):
            return ltt_tutored_server_config
"""

from __future__ import annotations

import json

import pytest

from .fake_llm import MODES, FakeLLM, Reply, fake_llm_app, serve_fake_llm, stop_fake_llm

__all__ = ["MODES", "FakeLLM", "Reply", "fake_llm_app", "serve_fake_llm", "stop_fake_llm"]


@pytest.fixture
def ltt_fake_llm(jp_asyncio_loop):
    """A running fake OpenAI-compatible server; ``.base_url`` ends in ``/v1``."""
    llm = FakeLLM()
    server = jp_asyncio_loop.run_until_complete(serve_fake_llm(llm))
    yield llm
    if not jp_asyncio_loop.is_closed():
        jp_asyncio_loop.run_until_complete(stop_fake_llm(llm, server))


@pytest.fixture
def ltt_tutor_config(ltt_fake_llm, tmp_path) -> dict:
    """``c.Tutor`` settings for a tutor that uses the fake LLM, fast timers, and a temp store."""
    return {
        "model": "fake-tutor",
        "base_url": ltt_fake_llm.base_url,
        "api_key": "sk-test-secret-key",
        "timeout": 5.0,
        "max_retries": 0,
        "db_path": str(tmp_path / "ltt_tutor.sqlite"),
        "proactive_delay": 0.05,
        "proactive_interval": 0.0,
        "requests_per_minute": 0,
        "tokens_per_hour": 0,
    }


@pytest.fixture
def ltt_tutored_server_config(ltt_tutor_config, tmp_path) -> dict:
    """A whole ``jp_server_config``: ltt-ext + jupyter-server-documents, the tutor on the fake LLM."""
    return {
        "ServerApp": {
            "jpserver_extensions": {
                "ltt_ext": True,
                "jupyter_server_documents": True,
                "jupyter_server_fileid": True,
            }
        },
        "BaseFileIdManager": {"db_path": str(tmp_path / "file_id_manager.db")},
        "Tutor": dict(ltt_tutor_config),
    }


@pytest.fixture
def ltt_tutor(jp_serverapp):
    """The running server's :class:`~ltt_ext.tutor.service.Tutor`."""
    return jp_serverapp.web_app.settings["ltt_tutor"]


class TutoredNotebook:
    """A notebook on disk with a live session (kernel + jupyter-server-documents room)."""

    def __init__(self, fetch, serverapp, path: str, kernel_id: str, session_id: str, cells: dict[str, str]):
        self.fetch, self.serverapp = fetch, serverapp
        self.path, self.kernel_id, self.session_id, self.cells = path, kernel_id, session_id, cells

    @property
    def room_id(self) -> str:
        return f"json:notebook:{self.serverapp.web_app.settings['file_id_manager'].index(self.path)}"

    async def run_cell(self, cell_id: str) -> None:
        """Execute a cell the way jupyter-server-documents' front end does (REST, no browser)."""
        from jupyter_server_documents.rooms.ynotebook_room import _source_hash

        body = {
            "document_id": self.room_id,
            "cells": [{"cell_id": cell_id, "source_hash": _source_hash(self.cells[cell_id])}],
        }
        await self.fetch("api", "kernels", self.kernel_id, "execute", method="POST", body=json.dumps(body))


@pytest.fixture
def ltt_notebook(jp_fetch, jp_serverapp, jp_root_dir):
    """Factory: ``await ltt_notebook("lesson.ipynb", {"c1": "x = 1", "c2": "print(y)"})``."""

    async def make(path: str, cells: dict[str, str]) -> TutoredNotebook:
        import nbformat

        nb = nbformat.v4.new_notebook()
        for cid, src in cells.items():
            cell = nbformat.v4.new_code_cell(src)
            cell["id"] = cid
            nb.cells.append(cell)
        target = jp_root_dir / path
        target.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, target)
        r = await jp_fetch(
            "api",
            "sessions",
            method="POST",
            body=json.dumps(
                {
                    "path": path,
                    "name": path.rsplit("/", 1)[-1],
                    "type": "notebook",
                    "kernel": {"name": "python3"},
                }
            ),
        )
        model = json.loads(r.body)
        return TutoredNotebook(jp_fetch, jp_serverapp, path, model["kernel"]["id"], model["id"], cells)

    return make
