"""Kernels that fail to start behave as on stock Jupyter Server: quick answers, then dead, no leftovers."""

import json
import sys

import pytest
from tornado.httpclient import HTTPClientError

from ltt_ext.testing import wait_until


def write_kernelspec(jp_data_dir, name, argv):
    spec = jp_data_dir / "kernels" / name
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(
        json.dumps({"argv": argv, "display_name": name, "language": "python"})
    )
    return name


@pytest.fixture
def dying_kernel(jp_data_dir):
    """A kernel whose process exits at once, as a broken environment's would."""
    return write_kernelspec(
        jp_data_dir, "dies", [sys.executable, "-c", "raise SystemExit(3)", "{connection_file}"]
    )


async def kernel_gone_or_dead(jp_fetch, kid) -> bool:
    try:
        r = await jp_fetch("api", "kernels", kid)
    except HTTPClientError as e:
        return e.code == 404
    return json.loads(r.body)["execution_state"] == "dead"


async def test_a_kernel_that_dies_at_start_is_created_then_reported_dead(
    jp_fetch, jp_serverapp, dying_kernel
):
    # Stock: 201 at once, then the restarter retries and gives up (about 18 s). Before the fix
    # the shared client's connection test waited 120 s and the answer was a 500: this request's
    # 60 s bound failed it.
    r = await jp_fetch("api", "kernels", method="POST", body=json.dumps({"name": dying_kernel}),
                       request_timeout=60)
    assert r.code == 201
    kid = json.loads(r.body)["id"]
    assert await wait_until(lambda: kernel_gone_or_dead(jp_fetch, kid), timeout=120, interval=0.5)
    # The server still starts working kernels.
    r = await jp_fetch("api", "kernels", method="POST", body=json.dumps({"name": "python3"}))
    ok = json.loads(r.body)["id"]
    client = jp_serverapp.kernel_manager.get_kernel(ok).kernel_client
    assert await client.wait_for_connection_ready(timeout=60)
