"""No request is ever left without its reply: REST, websocket and server-side executions racing
at kernel start, many rounds.

The root cause this guards against: jupyter_client's ``Session.send`` sends through a synchronous
shadow of pyzmq's asyncio socket. When a reply arrived during such a send, ZMQ's wake-up was
consumed behind pyzmq's back, and the channel loop's pending ``recv_multipart()`` never returned:
every later reply on that socket was lost (cells stuck ``[*]`` while the kernel was idle). Before
the fix this failed in about one round in eight on a loaded 2-core machine.
"""

import asyncio
import json

import pytest

from ltt_ext.kernels.execute import execute


@pytest.mark.parametrize("round_", range(16))
async def test_replies_never_lost_at_kernel_start(jp_serverapp, jp_fetch, kernel_ws, round_):
    r = await jp_fetch("api", "kernels", method="POST", body=json.dumps({"name": "python3"}))
    kid = json.loads(r.body)["id"]
    km = jp_serverapp.kernel_manager.get_kernel(kid)

    async def ws_info_then_run():
        ws = await kernel_ws(kid)
        info = ws.send("shell", "kernel_info_request", {})
        await ws.wait_for(lambda ch, m: ch == "shell" and m["parent_header"].get("msg_id") == info, 30)
        run = ws.execute("3*3")
        await ws.wait_for(lambda ch, m: ch == "shell" and m["parent_header"].get("msg_id") == run, 30)

    async def server_side(delay):
        await asyncio.sleep(delay)
        res = await execute(km, "1+1", timeout=30)
        assert res.status == "ok", res

    async def rest(delay):
        await asyncio.sleep(delay)
        r = await jp_fetch(
            "ltt",
            "api",
            "kernels",
            kid,
            "execute",
            method="POST",
            body=json.dumps({"code": "2+2", "timeout": 30}),
        )
        assert json.loads(r.body)["status"] == "ok"

    await asyncio.wait_for(
        asyncio.gather(
            ws_info_then_run(),
            ws_info_then_run(),
            server_side(0),
            rest(0.05),
            server_side(0.1),
        ),
        60,
    )
