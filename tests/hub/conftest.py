"""Fixtures of the real-hub tests (the hub itself: hubtools.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hubtools import CHP, FAILING, HERE, INSTRUCTOR, LEARNERS, NB, Hub, hub_fake_llm, write_notebook

REAL_HUB = {"hub", "culler_hub"}  # the fixtures that start a real JupyterHub


def pytest_collection_modifyitems(config, items):
    missing = []
    if not CHP.exists():
        missing.append(f"{CHP} (make test-deps runs npm ci in tests/hub)")
    try:
        import jupyterhub  # noqa: F401
        import sqlalchemy  # noqa: F401
    except ImportError:
        missing.append("jupyterhub and sqlalchemy (the test extra has them)")
    if not missing:
        return
    skip = pytest.mark.skip(reason="missing: " + "; ".join(missing))
    for item in items:
        if str(item.fspath).startswith(str(HERE)) and REAL_HUB & set(getattr(item, "fixturenames", ())):
            item.add_marker(skip)


@pytest.fixture(scope="session")
def hub_llm():
    server = hub_fake_llm()
    yield server
    server.close()


@pytest.fixture(scope="session")
def hub_root(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("hub")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    hub = getattr(item, "funcargs", {}).get("hub")
    if report.failed and isinstance(hub, Hub):
        report.sections.append(("jupyterhub log (tail)", hub.log_tail(120)))


@pytest.fixture(scope="session")
def hub(hub_root, hub_llm):
    h = Hub(hub_root, hub_llm.llm.base_url)
    yield h
    h.stop()


@pytest.fixture(scope="session")
def tokens(hub):
    return {u: hub.token_for(u) for u in (*LEARNERS, INSTRUCTOR)}


@pytest.fixture(scope="session")
def servers(hub, tokens):
    for user in LEARNERS:
        write_notebook(hub.home(user) / NB, [FAILING, "print('ok')"])
    hub.start_server(*LEARNERS)
    return LEARNERS
