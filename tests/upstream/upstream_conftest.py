"""Root conftest for Jupyter Server's own tests, run with ltt-ext in force.

``tests/upstream/run.py`` copies this file as ``conftest.py`` next to the extracted ``tests/``
of the installed jupyter_server's sdist. It is a *conftest* (not a ``-p`` plugin) because pytest
gives conftest fixtures precedence over plugin fixtures, and ``jp_configurable_serverapp`` comes
from the pytest-jupyter plugin that upstream's own conftest registers.

Every server an upstream test starts gets ltt-ext, jupyter-server-documents and
jupyter-server-fileid enabled, whatever ``jp_server_config`` the test chose (many tests
parametrize it, so overriding that fixture would not reach them). ltt-ext then installs its
kernel manager and websocket connection classes itself, exactly as on a user's server.

``LTT_UPSTREAM_STOCK=1`` runs the same tests without ltt-ext (the stock baseline).
``tests/upstream/allowlist.txt`` names the tests that poke at upstream internals; they are
marked xfail (not strict: they may pass) with the reason given there.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from traitlets.config import Config

STOCK = os.environ.get("LTT_UPSTREAM_STOCK") == "1"
ALLOWLIST = os.environ.get("LTT_UPSTREAM_ALLOWLIST", "")

LTT_EXTENSIONS = {"ltt_ext": True, "jupyter_server_documents": True, "jupyter_server_fileid": True}


def ltt_config(base: Config, tmp_path: Path) -> Config:
    c = Config(base)
    if STOCK:
        return c
    server = c.ServerApp
    extensions = dict(server.get("jpserver_extensions", {}))
    extensions.update(LTT_EXTENSIONS)
    server.jpserver_extensions = extensions
    # The fileid extension refuses to load without a writable db (then /api/sessions answers
    # 500); the tutor's store goes to the test's temp dir, not the user's data dir.
    c.BaseFileIdManager.db_path = str(tmp_path / "ltt-upstream-fileid.db")
    c.Tutor.db_path = str(tmp_path / "ltt-upstream-tutor.db")
    return c


@pytest.fixture
def jp_configurable_serverapp(jp_configurable_serverapp, jp_server_config, tmp_path):
    upstream_factory = jp_configurable_serverapp

    def factory(config=None, **kwargs):
        config = jp_server_config if config is None else config
        return upstream_factory(config=ltt_config(config, tmp_path), **kwargs)

    return factory


def read_allowlist(path: str) -> dict[str, str]:
    """``<node id>  # <reason>`` per line; blank lines and ``#`` comment lines are skipped."""
    entries: dict[str, str] = {}
    if not path:
        return entries
    for number, line in enumerate(Path(path).read_text().splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        nodeid, sep, reason = line.partition(" # ")
        if not sep or not reason.strip():
            raise pytest.UsageError(f"{path}:{number}: an allow-list entry needs ' # <reason>'")
        entries[nodeid.strip()] = reason.strip()
    return entries


def pytest_configure(config):
    # Markers upstream uses; its `flaky` plugin is not a dependency here (no reruns).
    config.addinivalue_line("markers", "flaky: upstream marks tests it reruns")
    config._ltt_allowlist = {} if STOCK else read_allowlist(ALLOWLIST)


def pytest_collection_modifyitems(config, items):
    allowlist = config._ltt_allowlist
    seen = set()
    for item in items:
        reason = allowlist.get(item.nodeid)
        if reason is not None:
            seen.add(item.nodeid)
            item.add_marker(pytest.mark.xfail(reason=f"allow-listed: {reason}", strict=False))
    stale = sorted(set(allowlist) - seen)
    if stale and os.environ.get("LTT_UPSTREAM_FULL_RUN") == "1":
        # A renamed or removed upstream test must not keep an excuse around silently.
        raise pytest.UsageError("allow-list entries match no collected test: " + ", ".join(stale))
