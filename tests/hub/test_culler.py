"""jupyterhub-idle-culler (a hub service) with ltt-ext and the tutor service: it still culls idle
servers and keeps a server whose cell is running with no browser attached, even a silent one
(ltt-ext counts a busy kernel as activity: LttExtApp.busy_activity_interval).

Its own hub (the culler would cull the other modules' servers): timeout 15 s, a check every 3 s,
activity reported to the hub every 2 s.
"""

from __future__ import annotations

import threading
import time

import pytest
from hubtools import Hub, write_notebook

pytestmark = pytest.mark.timeout(240)

TIMEOUT, EVERY = 15, 3
LONG_CELL = "import time\ntime.sleep(50)  # silent: no output at all"


@pytest.fixture(scope="module")
def culler_hub(tmp_path_factory, hub_llm):
    h = Hub(
        tmp_path_factory.mktemp("culler-hub"),
        hub_llm.llm.base_url,
        culler={"timeout": TIMEOUT, "cull-every": EVERY},
    )
    yield h
    h.stop()


def test_the_culler_culls_idle_servers_and_keeps_running_ones(culler_hub):
    hub = culler_hub
    for user in ("alice", "bob"):
        write_notebook(hub.home(user) / "long.ipynb", [LONG_CELL])
    hub.start_server("alice", "bob")
    token = hub.token_for("bob")
    r = hub.user_api(
        "bob",
        token,
        "POST",
        "api/sessions",
        {"path": "long.ipynb", "name": "long.ipynb", "type": "notebook", "kernel": {"name": "python3"}},
    )
    assert r.status == 201, r.body
    kernel = r.json()["kernel"]["id"]
    result: dict = {}

    def run():  # the cell runs 50 s, prints nothing; nobody watches it
        result["r"] = hub.user_api(
            "bob",
            token,
            "POST",
            f"ltt/api/kernels/{kernel}/execute",
            {"code": LONG_CELL, "path": "long.ipynb", "cell_id": "cell-0", "timeout": 120},
        )

    started = time.monotonic()
    runner = threading.Thread(target=run, daemon=True)
    runner.start()
    # alice does nothing: culled
    hub.wait_until(lambda: not hub.server_ready("alice"), timeout=120, what="alice's idle server culled")
    hub.wait_until(lambda: not hub.server_pids("alice"), timeout=30, what="alice's processes gone")
    # bob's cell has been running longer than the culler's timeout plus two of its checks, silent, with
    # no request from anyone since it started: only his busy kernel keeps his server
    hub.wait_until(
        lambda: time.monotonic() - started > TIMEOUT + 2 * EVERY + 2,
        timeout=120,
        what="time past the timeout",
    )
    assert hub.server_ready("bob") and hub.server_pids("bob")
    hub.stop_server("bob")
    runner.join(10)
