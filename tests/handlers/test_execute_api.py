"""POST /ltt/api/kernels/<id>/execute against a real server and kernel."""

import json

import pytest
from tornado.httpclient import HTTPClientError

from ltt_ext.outputs import strip_ansi
from ltt_ext.testing import wait_for_cell


async def run(jp_fetch, kid, **body):
    r = await jp_fetch("ltt", "api", "kernels", kid, "execute", method="POST", body=json.dumps(body))
    return json.loads(r.body)


async def test_collects_streams_results_and_displays(jp_fetch, start_kernel):
    kid = await start_kernel()
    result = await run(jp_fetch, kid, code="for i in range(3): print(i, flush=True)\ndisplay('shown')\n6*7")
    assert result["status"] == "ok" and result["execution_count"] == 1
    kinds = [o["output_type"] for o in result["outputs"]]
    assert kinds == ["stream", "display_data", "execute_result"]
    assert result["outputs"][0]["text"] == "0\n1\n2\n"  # chunks merged, as JupyterLab shows them
    assert result["outputs"][2]["data"]["text/plain"] == "42"


async def test_reports_errors_with_traceback(jp_fetch, start_kernel):
    kid = await start_kernel()
    result = await run(jp_fetch, kid, code="1/0")
    assert result["status"] == "error"
    assert result["error"]["ename"] == "ZeroDivisionError"
    assert any("1/0" in strip_ansi(line) for line in result["error"]["traceback"])


async def test_timeout_interrupts_and_the_kernel_lives_on(jp_fetch, start_kernel):
    kid = await start_kernel()
    result = await run(
        jp_fetch, kid, code="import time\nprint('start', flush=True)\ntime.sleep(120)", timeout=1.5
    )
    assert result["status"] == "timeout" and result["timed_out"] is True
    assert result["outputs"][0]["text"] == "start\n"
    assert (await run(jp_fetch, kid, code="'alive'"))["outputs"][0]["data"]["text/plain"] == "'alive'"


@pytest.mark.parametrize(
    "body, status",
    [
        ("not json", 400),
        ("[1, 2]", 400),
        (json.dumps({"timeout": 3}), 400),
        (json.dumps({"code": "1", "timeout": -1}), 400),
        (json.dumps({"code": "1", "timeout": "soon"}), 400),
        (json.dumps({"code": "1", "cell_id": "a#b"}), 400),
    ],
)
async def test_bad_bodies_get_a_json_400(jp_fetch, start_kernel, body, status):
    kid = await start_kernel()
    with pytest.raises(HTTPClientError) as e:
        await jp_fetch("ltt", "api", "kernels", kid, "execute", method="POST", body=body)
    assert e.value.code == status
    assert json.loads(e.value.response.body)["message"]
    assert (await run(jp_fetch, kid, code="1"))["status"] == "ok"  # the kernel is untouched


async def test_unknown_kernel_is_a_json_404(jp_fetch):
    with pytest.raises(HTTPClientError) as e:
        await jp_fetch(
            "ltt", "api", "kernels", "0000-nope", "execute", method="POST", body=json.dumps({"code": "1"})
        )
    assert e.value.code == 404
    assert "No such kernel" in json.loads(e.value.response.body)["message"]


async def test_requires_authentication(jp_fetch, start_kernel):
    kid = await start_kernel()
    with pytest.raises(HTTPClientError) as e:
        await jp_fetch(
            "ltt",
            "api",
            "kernels",
            kid,
            "execute",
            method="POST",
            body=json.dumps({"code": "1"}),
            headers={"Authorization": ""},
        )
    assert e.value.code == 403


async def test_a_run_for_a_notebook_cell_lands_in_the_notebook(
    jp_fetch, jp_root_dir, make_notebook, notebook_session
):
    path, cells = make_notebook(["x = 1", "print('placeholder')"])
    session, room = await notebook_session(path)
    kid = session["kernel"]["id"]
    result = await run(jp_fetch, kid, code="print('from the grader')", path=path, cell_id=cells[1])
    assert result["status"] == "ok"

    cell = await wait_for_cell(
        jp_root_dir, path, 1, lambda c: c.outputs and c.outputs[0].get("text") == "from the grader\n"
    )
    assert cell.execution_count == result["execution_count"]
