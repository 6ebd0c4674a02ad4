"""One shared client per kernel: fan-out, fairness, bookkeeping, lifecycle — on a real server."""

import asyncio
import json
import socket
import time

import psutil

from ltt_ext.kernels.client import SharedKernelClient
from ltt_ext.kernels.manager import SharedClientMultiKernelManager
from ltt_ext.kernels.websocket import SharedClientWebsocketConnection
from ltt_ext.testing import wait_until


def kernel_ports(jp_serverapp, kid):
    info = jp_serverapp.kernel_manager.get_kernel(kid).get_connection_info()
    return {info[k] for k in ("shell_port", "iopub_port", "stdin_port", "control_port", "hb_port")}


def zmq_connections_to(ports):
    return [
        c
        for c in psutil.Process().net_connections(kind="tcp")
        if c.raddr and c.raddr.port in ports and c.status == psutil.CONN_ESTABLISHED
    ]


def displayed(ws, msg_id):
    return [m["content"]["data"]["text/plain"] for m in ws.replies_to(msg_id, "display_data")]


async def test_enabling_ltt_ext_installs_the_shared_client(jp_serverapp):
    assert isinstance(jp_serverapp.kernel_manager, SharedClientMultiKernelManager)
    assert jp_serverapp.kernel_websocket_connection_class is SharedClientWebsocketConnection


async def test_one_set_of_zmq_sockets_whatever_the_websockets(jp_serverapp, start_kernel, kernel_ws):
    kid = await start_kernel()
    ports = kernel_ports(jp_serverapp, kid)
    before = len(zmq_connections_to(ports))
    sockets = [await kernel_ws(kid) for _ in range(8)]
    msg_id = sockets[0].execute("1+1")
    for ws in sockets:
        await ws.wait_idle(msg_id)
    assert len(zmq_connections_to(ports)) == before
    assert isinstance(jp_serverapp.kernel_manager.get_kernel(kid).kernel_client, SharedKernelClient)


async def test_every_websocket_gets_every_output_in_kernel_order(start_kernel, kernel_ws):
    kid = await start_kernel()
    sockets = [await kernel_ws(kid) for _ in range(5)]
    msg_id = sockets[0].execute("for i in range(300): display(i)")
    for ws in sockets:
        await ws.wait_idle(msg_id)
        assert displayed(ws, msg_id) == [str(i) for i in range(300)]
    # The requester also gets its reply, with its own msg id restored (shell and iopub are
    # separate channels: the reply may come before or after the idle status).
    _, reply = await sockets[0].wait_for(
        lambda ch, m: ch == "shell" and m["parent_header"].get("msg_id") == msg_id
    )
    assert reply["header"]["msg_type"] == "execute_reply" and reply["content"]["status"] == "ok"


async def test_a_blocked_listener_delays_nobody_and_its_backlog_is_bounded(
    jp_serverapp, start_kernel, kernel_ws
):
    kid = await start_kernel()
    client = jp_serverapp.kernel_manager.get_kernel(kid).kernel_client
    client.listener_backlog = 50
    never = asyncio.Event()
    seen = []

    async def stuck_listener(channel, msg):
        seen.append(msg)
        await never.wait()  # a consumer that never returns

    client.add_listener(stuck_listener)
    ws = await kernel_ws(kid)
    msg_id = ws.execute("for i in range(500): print(i, flush=True)")
    await ws.wait_idle(msg_id)
    text = "".join(m["content"]["text"] for m in ws.replies_to(msg_id, "stream"))
    assert text.split() == [str(i) for i in range(500)]
    queue = client._routes[stuck_listener].queue
    assert len(seen) == 1  # it is still stuck on its first message
    assert len(queue._items) <= 50 and queue.dropped > 0
    client.remove_listener(stuck_listener)


async def test_a_websocket_that_stops_reading_is_closed_not_buffered_forever(
    jp_serverapp, start_kernel, kernel_ws, jp_fetch
):
    kid = await start_kernel()
    reader = await kernel_ws(kid)
    stalled = await kernel_ws(kid)
    # Make the second one a consumer that never reads: its server side buffers, up to a limit.
    # Websockets without compression share one route: the kernel's group (ltt_ext.kernels.fanout).
    handler_conns = list(jp_serverapp.kernel_manager.get_kernel(kid).kernel_client.websockets.members)
    assert all(isinstance(c, SharedClientWebsocketConnection) for c in handler_conns)
    assert len(handler_conns) == 2
    victim = handler_conns[1]
    victim.max_backlog_bytes = 256 * 1024
    stream = victim.websocket_handler.ws_connection.stream
    stream.max_write_buffer_size = victim.max_backlog_bytes
    stalled._reader.cancel()  # stop reading from the client side
    stream.socket.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    msg_id = reader.execute("for i in range(3000): print('x' * 200, i, flush=True)")
    await reader.wait_idle(msg_id, timeout=120)
    lines = "".join(m["content"]["text"] for m in reader.replies_to(msg_id, "stream")).splitlines()
    assert len(lines) == 3000
    await wait_until(lambda: not victim._attached)
    r = await jp_fetch("api", "kernels", kid)
    assert json.loads(r.body)["connections"] == 1


async def test_api_kernels_reports_real_state_activity_and_connections(jp_fetch, start_kernel, kernel_ws):
    kid = await start_kernel()

    async def model():
        return json.loads((await jp_fetch("api", "kernels", kid)).body)

    first = await model()
    assert first["execution_state"] == "idle"
    ws1, ws2 = await kernel_ws(kid), await kernel_ws(kid)
    assert (await model())["connections"] == 2
    msg_id = ws1.execute("import time; time.sleep(1.5)")
    await wait_until(lambda: ws1.replies_to(msg_id, "execute_input"))
    assert (await model())["execution_state"] == "busy"
    await ws1.wait_idle(msg_id)
    after = await model()
    assert after["execution_state"] == "idle"
    assert after["last_activity"] > first["last_activity"]
    await ws2.close()
    await wait_until(model_connections(jp_fetch, kid, 1))


def model_connections(jp_fetch, kid, n):
    async def check():
        return json.loads((await jp_fetch("api", "kernels", kid)).body)["connections"] == n

    return check


async def test_a_websocket_that_connects_mid_run_gets_the_state_at_once(start_kernel, kernel_ws):
    kid = await start_kernel()
    runner = await kernel_ws(kid)
    msg_id = runner.execute("import time; time.sleep(2)")
    await wait_until(lambda: runner.replies_to(msg_id, "execute_input"))
    late = await kernel_ws(kid)
    await late.wait_for(lambda ch, m: m["header"]["msg_type"] == "status", timeout=5)
    first_status = next(m for ch, m in late.messages if m["header"]["msg_type"] == "status")
    assert first_status["content"]["execution_state"] == "busy"
    await late.wait_idle(msg_id)


async def test_interrupt_restart_and_listeners_attached_once(jp_serverapp, jp_fetch, start_kernel, kernel_ws):
    kid = await start_kernel()
    km = jp_serverapp.kernel_manager.get_kernel(kid)
    ws = await kernel_ws(kid)
    msg_id = ws.execute("import time; time.sleep(60)")
    await wait_until(lambda: ws.replies_to(msg_id, "execute_input"))
    await jp_fetch("api", "kernels", kid, "interrupt", method="POST", body="")
    await ws.wait_idle(msg_id)
    assert ws.replies_to(msg_id, "error")[0]["content"]["ename"] == "KeyboardInterrupt"

    routes_before = len(km.kernel_client._routes)
    assert routes_before == 3  # the notebook writer, the tutor and this websocket
    for _ in range(2):
        await jp_fetch("api", "kernels", kid, "restart", method="POST", body="")
    assert len(km.kernel_client._routes) == routes_before  # writer, tutor, websocket: once each
    msg_id = ws.execute("print('after restart')")
    await ws.wait_idle(msg_id)
    streams = ws.replies_to(msg_id, "stream")
    assert [m["content"]["text"] for m in streams] == ["after restart\n"]


async def test_shutdown_leaves_no_task_or_socket_behind(jp_serverapp, jp_fetch, start_kernel, kernel_ws):
    kid = await start_kernel()
    client = jp_serverapp.kernel_manager.get_kernel(kid).kernel_client
    ports = kernel_ports(jp_serverapp, kid)
    ws = await kernel_ws(kid)
    await ws.wait_idle(ws.execute("1"))
    loops = list(client._monitoring_tasks)
    assert loops and not any(t.done() for t in loops)
    await jp_fetch("api", "kernels", kid, method="DELETE")
    assert all(t.done() for t in loops)
    assert not client.channels_running
    await wait_until(lambda: not zmq_connections_to(ports))


async def test_a_chatty_cell_loses_no_output(jp_serverapp, start_kernel, kernel_ws):
    kid = await start_kernel()
    client = jp_serverapp.kernel_manager.get_kernel(kid).kernel_client
    assert client.iopub_channel.socket.rcvhwm == client.iopub_hwm  # not ZMQ's default of 1000

    def busy_server(channel, msg):
        time.sleep(0.001)  # the server falls behind the kernel, as it does under load

    client.add_listener(busy_server, msg_types=[("stream", "iopub")])
    ws = await kernel_ws(kid)
    # 2 kB lines: enough bytes to overflow the socket buffers between kernel and server too.
    msg_id = ws.execute("for i in range(6000): print(i, 'x' * 2000, flush=True)")
    await ws.wait_idle(msg_id, timeout=90)  # with ZMQ's default HWM the idle status itself is lost
    text = "".join(m["content"]["text"] for m in ws.replies_to(msg_id, "stream"))
    assert [line.split()[0] for line in text.splitlines()] == [str(i) for i in range(6000)]
    client.remove_listener(busy_server)
