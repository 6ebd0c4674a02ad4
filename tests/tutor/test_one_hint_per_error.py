"""The proactive gate and the hint ladder are per error, not per notebook (real server and kernel).

Before: a second, different error seconds after a hint got no hint (the notebook-wide interval
swallowed it), and the next "More help" started at level 2 for an error whose nudge was never shown.
"""

import json

import pytest

from ltt_ext.testing import wait_until


@pytest.fixture
def jp_server_config(ltt_tutored_server_config):
    tutor = ltt_tutored_server_config["Tutor"]
    tutor["model"] = ""  # the built-in engine
    tutor["proactive_delay"] = 0.0  # the defaults: hint at once, one per error per 15 s
    tutor["proactive_interval"] = 15.0
    return ltt_tutored_server_config


async def hints(tutor, path):
    return [m for m in await tutor.messages(path) if m.kind == "hint" and m.status == "done"]


async def more(jp_fetch, path, cell_id):
    r = await jp_fetch(
        "ltt", "api", "tutor", "more", method="POST", body=json.dumps({"path": path, "cell_id": cell_id})
    )
    return json.loads(r.body)["reply"]


async def test_each_error_gets_its_nudge_and_its_own_ladder(jp_fetch, ltt_tutor, ltt_notebook, kernel_ws):
    cells = {"c1": "print(undefined_total)", "c2": "int('forty')"}
    nb = await ltt_notebook("gate.ipynb", cells)
    ws = await kernel_ws(nb.kernel_id)

    await ws.wait_idle(ws.execute(cells["c1"], cell_id="c1"))
    first = await wait_until(lambda: hints(ltt_tutor, nb.path), timeout=30)
    # a different error a moment later gets its own nudge
    await ws.wait_idle(ws.execute(cells["c2"], cell_id="c2"))

    async def two():
        found = await hints(ltt_tutor, nb.path)
        return found if len(found) == 2 else None

    both = await wait_until(two, timeout=30)
    assert [(h.cell_id, h.level) for h in both] == [("c1", 1), ("c2", 1)]
    assert both[0].id == first[0].id

    # the same error re-run at once: no second hint (one per error per interval)
    await ws.wait_idle(ws.execute(cells["c1"], cell_id="c1"))
    await ltt_tutor.drain()
    await ws.wait_idle(ws.execute("1 / 0", cell_id="c3"))  # a marker error: its hint comes after

    async def three():
        found = await hints(ltt_tutor, nb.path)
        return found if len(found) == 3 else None

    found = await wait_until(three, timeout=30)
    assert [h.cell_id for h in found] == ["c1", "c2", "c3"]

    # "More help" climbs the ladder of the error in focus, each from its own nudge
    reply = await more(jp_fetch, nb.path, "c2")
    assert reply["level"] == 2
    reply = await more(jp_fetch, nb.path, "c1")
    assert reply["level"] == 2
    reply = await more(jp_fetch, nb.path, "c1")
    assert reply["level"] == 3


async def test_more_help_starts_with_the_nudge_when_none_was_shown(
    jp_fetch, ltt_tutor, ltt_notebook, kernel_ws
):
    ltt_tutor.proactive = False  # no hint on its own: the learner asks
    nb = await ltt_notebook("quiet.ipynb", {"c1": "[1, 2][5]"})
    ws = await kernel_ws(nb.kernel_id)
    await ws.wait_idle(ws.execute("[1, 2][5]", cell_id="c1"))
    await wait_until(lambda: ltt_tutor.context(nb.path).last_error, timeout=30)
    assert await hints(ltt_tutor, nb.path) == []
    reply = await more(jp_fetch, nb.path, "c1")
    assert reply["level"] == 1
    assert (await more(jp_fetch, nb.path, "c1"))["level"] == 2
