"""Every request gets its reply: REST, websocket and server-side executes racing at kernel start."""

import asyncio
import json

import pytest

from ltt_ext.kernels.execute import execute


@pytest.mark.parametrize("round_", range(12))
async def test_replies_never_lost_at_kernel_start(jp_serverapp, jp_fetch, start_kernel, kernel_ws, round_):
    r = await jp_fetch("api", "kernels", method="POST", body=json.dumps({"name": "python3"}))
    kid = json.loads(r.body)["id"]
    km = jp_serverapp.kernel_manager.get_kernel(kid)

    async def ws_info():
        ws = await kernel_ws(kid)
        msg_id = ws.send("shell", "kernel_info_request", {})
        await ws.wait_for(lambda ch, m: ch == "shell" and m["parent_header"].get("msg_id") == msg_id, 30)

    async def server_exec(delay):
        await asyncio.sleep(delay)
        res = await execute(km, "1+1", timeout=30)
        assert res.status == "ok", res

    await asyncio.gather(ws_info(), ws_info(), server_exec(0), server_exec(0.05), server_exec(0.1))
