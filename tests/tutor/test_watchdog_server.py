"""The runaway-cell watchdog in a real server with real kernels, no browser attached: the warning is
stored and pushed, Interrupt over REST stops the cell, the KeyboardInterrupt gets its own hint, floods
are flagged, and the course policy interrupts by itself."""

import asyncio
import json

import pytest
from tornado.httpclient import HTTPClientError

from ltt_ext.testing import wait_until


@pytest.fixture
def jp_server_config(ltt_tutored_server_config):
    config = ltt_tutored_server_config
    config["Tutor"].update(
        {
            "model": "",  # the built-in engine
            "watchdog_silence": 1.0,
            "watchdog_interval": 0.2,
            "watchdog_lines_per_second": 500.0,
            "watchdog_flood_seconds": 1.0,
        }
    )
    return config


async def watchdog_messages(tutor, path):
    return [m for m in await tutor.messages(path) if m.kind == "watchdog"]


async def interrupt_hint(tutor, path):
    for m in await tutor.messages(path):
        if (
            m.kind == "hint"
            and m.status == "done"
            and (m.extra.get("error") or {}).get("ename") == "KeyboardInterrupt"
        ):
            return m
    return None


async def post(jp_fetch, body):
    r = await jp_fetch("ltt", "api", "tutor", "interrupt", method="POST", body=json.dumps(body))
    return json.loads(r.body)


async def next_event(ws, predicate, timeout=60):
    async def read():
        while True:
            ev = json.loads(await ws.read_message())
            if predicate(ev):
                return ev

    return await asyncio.wait_for(read(), timeout)


async def test_a_silent_loop_is_flagged_and_interrupt_stops_it(
    jp_fetch, jp_ws_fetch, ltt_notebook, ltt_tutor
):
    nb = await ltt_notebook("loop.ipynb", {"setup": "n = 3", "loop": "while n > 0:\n    pass"})
    await nb.run_cell("setup")
    ws = await jp_ws_fetch("ltt", "api", "tutor", "stream", params={"path": nb.path})
    first = await next_event(ws, lambda ev: ev["type"] == "status")
    assert "watchdog" not in first  # a status is a snapshot: no key, no runaway cell
    running = asyncio.create_task(nb.run_cell("loop"))
    try:
        (warning,) = await wait_until(lambda: watchdog_messages(ltt_tutor, nb.path))
        assert warning.cell_id == "loop" and warning.level == 1 and warning.role == "tutor"
        assert (
            "without any output" in warning.text
            and "`while n > 0:`" in warning.text
            and "`n`" in warning.text
        )
        assert "**Interrupt**" in warning.text
        # pushed live, and the status names it: the panel offers Interrupt
        ev = await next_event(ws, lambda ev: ev["type"] == "status" and ev.get("watchdog"))
        assert ev["watchdog"] == warning.id
        assert ltt_tutor.status(nb.path)["watchdog"] == warning.id
        await asyncio.sleep(0.6)  # several more checks: still one warning for this execution
        assert len(await watchdog_messages(ltt_tutor, nb.path)) == 1

        result = await post(jp_fetch, {"path": nb.path})
        assert result["interrupted"] is True and result["caller"] == "learner"
        hint = await wait_until(lambda: interrupt_hint(ltt_tutor, nb.path))
        assert hint.cell_id == "loop"
        await next_event(ws, lambda ev: ev["type"] == "status" and "watchdog" not in ev)
        updated = await wait_until(lambda: watchdog_updated(ltt_tutor, nb.path))
        assert "you interrupted the cell after" in updated.text
        assert "watchdog" not in ltt_tutor.status(nb.path)
    finally:
        await asyncio.wait_for(running, 30)
        ws.close()

    # nothing runs now: nothing to interrupt, said plainly
    result = await post(jp_fetch, {"path": nb.path})
    assert result["interrupted"] is False and "Nothing is running" in result["reason"]


async def watchdog_updated(tutor, path):
    found = [m for m in await watchdog_messages(tutor, path) if "_Update:" in m.text]
    return found[0] if found else None


async def test_a_cell_that_ends_by_itself_updates_its_warning(ltt_notebook, ltt_tutor):
    nb = await ltt_notebook("slow.ipynb", {"c": "import time\ntime.sleep(2.5)"})
    await nb.run_cell("c")
    (warning,) = await wait_until(lambda: watchdog_messages(ltt_tutor, nb.path))
    assert "`sleep`" in warning.text
    updated = await wait_until(lambda: watchdog_updated(ltt_tutor, nb.path))
    assert "the cell finished after" in updated.text
    assert await interrupt_hint(ltt_tutor, nb.path) is None


async def test_a_flooding_cell_is_flagged(jp_fetch, ltt_notebook, ltt_tutor):
    nb = await ltt_notebook("flood.ipynb", {"c": "i = 0\nwhile True:\n    i += 1\n    print(i)"})
    running = asyncio.create_task(nb.run_cell("c"))
    try:
        (warning,) = await wait_until(lambda: watchdog_messages(ltt_tutor, nb.path))
        assert warning.extra["watchdog"] == "flood"
        assert "is flooding its output" in warning.text and "lines per second" in warning.text
        result = await post(jp_fetch, {"path": nb.path})
        assert result["interrupted"] is True
        await wait_until(lambda: interrupt_hint(ltt_tutor, nb.path))
    finally:
        await asyncio.wait_for(running, 60)


async def test_bad_interrupt_requests_get_json_errors(jp_fetch, ltt_notebook, ltt_tutor):
    nb = await ltt_notebook("x.ipynb", {"c": "1"})
    for body, code in [
        ({}, 400),
        ({"path": 3}, 400),
        ({"path": "../x.ipynb"}, 400),
        ({"path": "nope.ipynb"}, 404),
    ]:
        with pytest.raises(HTTPClientError) as e:
            await post(jp_fetch, body)
        assert e.value.code == code
        assert "message" in json.loads(e.value.response.body)
    ltt_tutor.interrupt_button = False
    try:
        with pytest.raises(HTTPClientError) as e:
            await post(jp_fetch, {"path": nb.path})
        assert e.value.code == 403 and "turned off" in json.loads(e.value.response.body)["message"]
    finally:
        ltt_tutor.interrupt_button = True


class TestCoursePolicy:
    @pytest.fixture
    def jp_server_config(self, ltt_tutored_server_config):
        config = ltt_tutored_server_config
        config["Tutor"].update(
            {"model": "", "watchdog_silence": 0.5, "watchdog_interval": 0.2, "auto_interrupt_after": 2.0}
        )
        return config

    async def test_the_course_policy_interrupts_a_runaway_cell(self, ltt_notebook, ltt_tutor):
        nb = await ltt_notebook("auto.ipynb", {"c": "while True:\n    pass"})
        running = asyncio.create_task(nb.run_cell("c"))
        try:
            (warning,) = await wait_until(lambda: watchdog_messages(ltt_tutor, nb.path))
            assert "The course stops runaway cells after 2 s." in warning.text
            hint = await wait_until(lambda: interrupt_hint(ltt_tutor, nb.path))
            assert hint.cell_id == "c"
            updated = await wait_until(lambda: watchdog_updated(ltt_tutor, nb.path))
            assert "the tutor interrupted the cell" in updated.text
        finally:
            await asyncio.wait_for(running, 30)

    async def test_cells_with_output_are_left_alone(self, ltt_notebook, ltt_tutor):
        nb = await ltt_notebook(
            "ok.ipynb", {"c": "import time\nfor i in range(12):\n    print(i)\n    time.sleep(0.25)"}
        )
        await nb.run_cell("c")
        await wait_until(lambda: ltt_tutor.context(nb.path).executions)
        assert await watchdog_messages(ltt_tutor, nb.path) == []
        assert await interrupt_hint(ltt_tutor, nb.path) is None
