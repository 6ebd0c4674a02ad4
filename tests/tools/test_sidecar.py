"""The sidecar kernel and the panel's "Try it" endpoint, against a real server and real kernels."""

import json
import os

import nbformat
import pytest
from tornado.httpclient import HTTPClientError

from ltt_ext.testing import read_notebook, wait_until


async def try_it(jp_fetch, path, code):
    r = await jp_fetch(
        "ltt", "api", "tutor", "try", method="POST", body=json.dumps({"path": path, "code": code})
    )
    assert r.code == 200
    return json.loads(r.body)


def texts(result):
    out = []
    for o in result["outputs"]:
        if o["output_type"] == "stream":
            out.append(o["text"])
        elif o["output_type"] in ("execute_result", "display_data"):
            out.append(o["data"].get("text/plain", ""))
        elif o["output_type"] == "error":
            out.append(f"{o['ename']}: {o['evalue']}")
    return "".join(out)


async def test_try_it_runs_in_a_separate_kernel(
    jp_fetch, jp_root_dir, ltt_notebook, ltt_tools, jp_serverapp, kernel_ws
):
    nb = await ltt_notebook("lesson.ipynb", {"c1": "secret = 41"})
    await nb.run_cell("c1")
    ws = await kernel_ws(nb.kernel_id)  # a browser's websocket on the learner's kernel
    before = (jp_root_dir / "lesson.ipynb").read_text()
    await wait_until(
        lambda: (read_notebook(jp_root_dir, "lesson.ipynb") or {"cells": [{}]})["cells"][0].get(
            "execution_count"
        )
    )

    first = await try_it(
        jp_fetch, "lesson.ipynb", "print('hello from the sidecar')\nsidecar_only = 2\n'secret' in dir()"
    )
    assert first["status"] == "ok" and first["fresh"] is True
    assert "hello from the sidecar" in texts(first)
    assert "False" in texts(first)  # the learner's variables are not there

    second = await try_it(jp_fetch, "lesson.ipynb", "sidecar_only + 1")
    assert second["fresh"] is False and "3" in texts(second)  # same sidecar, its own namespace

    # the learner's kernel never saw the sidecar's names
    from ltt_ext.kernels.execute import execute

    km = jp_serverapp.kernel_manager.get_kernel(nb.kernel_id)
    learner = await execute(km, "'sidecar_only' in dir(), secret")
    assert "(False, 41)" in learner.outputs[0]["data"]["text/plain"]

    # not a kernel of the server: /api/kernels lists the learner's kernel only
    kernels = json.loads((await jp_fetch("api", "kernels")).body)
    sidecar_ids = {s["kernel_id"] for s in ltt_tools.sidecars.running()}
    assert len(sidecar_ids) == 1
    assert {k["id"] for k in kernels} == {nb.kernel_id}
    # its connection file (with the HMAC key) is in the server's runtime dir, like the server's
    # kernels', never in the working directory or the learner's folder
    (sidecar_id,) = sidecar_ids
    connection = ltt_tools.sidecars.kernel_manager.get_kernel(sidecar_id).connection_file
    assert os.path.dirname(connection) == jp_serverapp.runtime_dir
    # and nothing of the sidecar's reached the notebook, or the learner's websocket
    after = await wait_until(lambda: read_notebook(jp_root_dir, "lesson.ipynb"))
    assert "hello from the sidecar" not in json.dumps(after) and "hello from the sidecar" not in before
    await ws.wait_idle(ws.execute("print('learner run')"))  # everything sent before this has arrived
    seen = json.dumps(ws.messages)
    assert "learner run" in seen and "hello from the sidecar" not in seen


async def test_a_sidecar_that_dies_comes_back(jp_fetch, jp_root_dir, ltt_tools):
    nbformat.write(nbformat.v4.new_notebook(), jp_root_dir / "dies.ipynb")
    died = await try_it(jp_fetch, "dies.ipynb", "import os\nos._exit(1)")
    assert died["status"] == "error" and died["restarted"] is True
    again = await try_it(jp_fetch, "dies.ipynb", "6 * 7")
    assert again["status"] == "ok" and "42" in texts(again)


async def test_try_it_timeout_interrupts_and_the_sidecar_keeps_working(jp_fetch, jp_root_dir, ltt_tools):
    nbformat.write(nbformat.v4.new_notebook(), jp_root_dir / "loop.ipynb")
    await try_it(jp_fetch, "loop.ipynb", "kept = 'still here'")
    result = await try_it(jp_fetch, "loop.ipynb", "while True:\n    pass")
    assert result["status"] == "timeout" and result["timed_out"] is True
    assert result["restarted"] is False  # the interrupt stopped it
    after = await try_it(jp_fetch, "loop.ipynb", "kept")
    assert after["status"] == "ok" and "still here" in texts(after)


async def test_a_sidecar_ignoring_interrupts_is_restarted(jp_fetch, jp_root_dir, ltt_tools):
    nbformat.write(nbformat.v4.new_notebook(), jp_root_dir / "stubborn.ipynb")
    code = (
        "import signal, time\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True:\n    time.sleep(0.1)"
    )
    result = await try_it(jp_fetch, "stubborn.ipynb", code)
    assert result["status"] == "timeout" and result["restarted"] is True
    again = await try_it(jp_fetch, "stubborn.ipynb", "1 + 1")
    assert again["status"] == "ok" and "2" in texts(again)


async def test_output_is_capped(jp_fetch, jp_root_dir):
    nbformat.write(nbformat.v4.new_notebook(), jp_root_dir / "flood.ipynb")
    result = await try_it(jp_fetch, "flood.ipynb", "for i in range(10**7):\n    print('x' * 50)")
    assert result["truncated"] is True
    assert sum(len(o.get("text", "")) for o in result["outputs"]) <= 5000 + 200
    assert "output cut" in texts(result)


async def test_sidecars_are_capped_and_idle_ones_make_room(jp_fetch, jp_root_dir, ltt_tools):
    ltt_tools.sidecars.max_sidecars = 1
    for name in ("a.ipynb", "b.ipynb"):
        nbformat.write(nbformat.v4.new_notebook(), jp_root_dir / name)
    await try_it(jp_fetch, "a.ipynb", "x = 1")
    result = await try_it(jp_fetch, "b.ipynb", "'x' in dir()")
    assert "False" in texts(result)
    assert [s["path"] for s in ltt_tools.sidecars.running()] == ["b.ipynb"]
    again = await try_it(jp_fetch, "a.ipynb", "'x' in dir()")
    assert again["fresh"] is True and "False" in texts(again)  # a.ipynb's sidecar was shut down


async def test_idle_sidecars_are_shut_down(jp_fetch, jp_root_dir, ltt_tools):
    nbformat.write(nbformat.v4.new_notebook(), jp_root_dir / "idle.ipynb")
    ltt_tools.sidecars.idle_timeout = 1.0
    await try_it(jp_fetch, "idle.ipynb", "1")
    mkm = ltt_tools.sidecars.kernel_manager
    kernel_id = ltt_tools.sidecars.running()[0]["kernel_id"]
    await wait_until(lambda: not ltt_tools.sidecars.running() and kernel_id not in mkm, timeout=20)


@pytest.mark.parametrize(
    "body, status",
    [
        ({"path": "nb.ipynb"}, 400),
        ({"path": "nb.ipynb", "code": 3}, 400),
        ({"path": "../x.ipynb", "code": "1"}, 400),
        ({"path": "missing.ipynb", "code": "1"}, 404),
        ({"path": "notes.md", "code": "1"}, 400),
    ],
)
async def test_bad_input_is_a_4xx(jp_fetch, jp_root_dir, body, status):
    nbformat.write(nbformat.v4.new_notebook(), jp_root_dir / "nb.ipynb")
    (jp_root_dir / "notes.md").write_text("# notes")
    with pytest.raises(HTTPClientError) as e:
        await jp_fetch("ltt", "api", "tutor", "try", method="POST", body=json.dumps(body))
    assert e.value.code == status
    assert "message" in json.loads(e.value.response.body)


async def test_turned_off_is_a_503(jp_fetch, jp_root_dir, ltt_tools):
    nbformat.write(nbformat.v4.new_notebook(), jp_root_dir / "nb.ipynb")
    ltt_tools.sidecars.enabled = False
    with pytest.raises(HTTPClientError) as e:
        await jp_fetch(
            "ltt", "api", "tutor", "try", method="POST", body=json.dumps({"path": "nb.ipynb", "code": "1"})
        )
    assert e.value.code == 503
