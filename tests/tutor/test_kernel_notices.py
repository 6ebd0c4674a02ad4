"""The kernel manager tells the tutor when a kernel dies (``kernel_died``): every notebook on that kernel
gets a short system notice, stored (history) and pushed (panel), and the panel's kernel state follows."""

import json

from ltt_ext.testing import wait_until


async def history(jp_fetch, path):
    r = await jp_fetch("ltt", "api", "tutor", "history", params={"path": path})
    return json.loads(r.body)["messages"]


async def next_event(ws, predicate):
    while True:
        ev = json.loads(await ws.read_message())
        if predicate(ev):
            return ev


async def test_kernel_death_is_told_to_every_notebook_on_the_kernel(
    jp_fetch, jp_ws_fetch, ltt_notebook, ltt_tutor, make_notebook, notebook_session
):
    nb = await ltt_notebook("lesson.ipynb", {"c1": "x = 1"})
    other = await ltt_notebook("other.ipynb", {"o1": "y = 2"})  # its own kernel: not told
    second, _ = make_notebook(["z = 3"], name="second.ipynb")
    await notebook_session(second, kernel_id=nb.kernel_id)  # a second notebook on the same kernel
    ws = await jp_ws_fetch("ltt", "api", "tutor", "stream", params={"path": nb.path})
    await next_event(ws, lambda ev: ev["type"] == "status")

    ltt_tutor.kernel_died(nb.kernel_id, True)  # what the kernel manager calls when the restarter steps in
    ev = await next_event(ws, lambda ev: ev["type"] == "message")
    restarted = "Your kernel restarted: variables from earlier cells are gone — rerun the cells you need."
    assert ev["message"]["role"] == "system" and ev["message"]["kind"] == "notice"
    assert ev["message"]["text"] == restarted and ev["message"]["path"] == nb.path
    ev = await next_event(ws, lambda ev: ev["type"] == "status")
    assert ev["kernel_state"] == "restarting"

    ltt_tutor.kernel_died(nb.kernel_id, False)  # restarts exhausted
    ev = await next_event(ws, lambda ev: ev["type"] == "message")
    assert ev["message"]["text"].startswith("Your kernel died: variables from earlier cells are gone")
    assert (await next_event(ws, lambda ev: ev["type"] == "status"))["kernel_state"] == "dead"
    ws.close()

    got = await wait_until(lambda: history(jp_fetch, nb.path))  # stored: a browser opened later sees it
    assert [(m["role"], m["kind"], m["text"][:25]) for m in got] == [
        ("system", "notice", restarted[:25]),
        ("system", "notice", "Your kernel died: variabl"),
    ]
    assert [m["text"][:25] for m in await history(jp_fetch, second)] == [
        restarted[:25],
        "Your kernel died: variabl",
    ]
    assert await history(jp_fetch, other.path) == []
