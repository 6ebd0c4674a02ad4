"""The websocket group (one write per websocket per loop turn) and the kernel's IOPub high-water mark."""

from __future__ import annotations

import asyncio
import json

from jupyter_client.session import Session

from ltt_ext.kernels.fanout import WebsocketGroup
from ltt_ext.kernels.message import KernelMessage
from ltt_ext.kernels.requests import Request
from ltt_ext.kernels.websocket import SharedClientWebsocketConnection

SESSION = Session()


def kmsg(channel: str, msg_type: str, parent_id: str = "", request=None, **content) -> KernelMessage:
    msg = SESSION.msg(msg_type, content, parent={"msg_id": parent_id} if parent_id else None)
    parts = [SESSION.pack(msg[k]) for k in ("header", "parent_header", "metadata", "content")]
    return KernelMessage(channel, parts, request)


class FakeClient:
    def __init__(self):
        self.listeners = []

    def add_listener(self, cb):
        if cb not in self.listeners:
            self.listeners.append(cb)

    def remove_listener(self, cb):
        self.listeners.remove(cb)


class FakeConn:
    """What the group needs of a connection: its protocol, its frames, a raw write."""

    def __init__(self, v1: bool = True):
        self.v1 = v1
        self.writes: list[bytes] = []

    frame_for = SharedClientWebsocketConnection.frame_for

    def write_raw(self, data: bytes) -> None:
        self.writes.append(data)

    def messages(self) -> list[dict]:
        """What it was sent, decoded frame by frame, in order."""
        data = b"".join(self.writes)
        out = []
        while data:
            n = data[1] & 0x7F
            start = 2
            if n == 126:
                n, start = int.from_bytes(data[2:4], "big"), 4
            elif n == 127:
                n, start = int.from_bytes(data[2:10], "big"), 10
            payload, data = data[start : start + n], data[start + n :]
            if self.v1:
                count = int.from_bytes(payload[:8], "little")
                offs = [int.from_bytes(payload[8 * (i + 1) : 8 * (i + 2)], "little") for i in range(count)]
                parts = [json.loads(payload[a:b]) for a, b in zip(offs[1:5], offs[2:6], strict=False)]
                out.append(dict(zip(("header", "parent_header", "metadata", "content"), parts, strict=False)))
            else:
                out.append(json.loads(payload))
        return out

    def texts(self) -> list[str]:
        return [m["content"].get("text") or m["header"]["msg_type"] for m in self.messages()]


async def test_one_turn_of_messages_is_one_write_per_websocket_in_order_for_each_protocol():
    group = WebsocketGroup(FakeClient())
    v1, js = FakeConn(v1=True), FakeConn(v1=False)
    group.add(v1)
    group.add(js)
    for i in range(100):
        group("iopub", kmsg("iopub", "stream", text=f"{i}\n", name="stdout"))
    assert v1.writes == [] and js.writes == []  # nothing until the loop turns
    await asyncio.sleep(0)
    assert len(v1.writes) == 1 and len(js.writes) == 1
    assert v1.texts() == js.texts() == [f"{i}\n" for i in range(100)]


async def test_a_reply_mid_turn_reaches_its_sender_alone_in_kernel_order():
    group = WebsocketGroup(FakeClient())
    sender, other = FakeConn(), FakeConn(v1=False)
    group.add(sender)
    group.add(other)
    request = Request("req-1", "execute_request", "shell", None, sender)
    group("iopub", kmsg("iopub", "stream", "req-1", request, text="a\n", name="stdout"))
    group("shell", kmsg("shell", "execute_reply", "req-1", request, status="ok"))
    group("iopub", kmsg("iopub", "stream", "req-1", request, text="b\n", name="stdout"))
    # A reply whose sender is gone goes nowhere.
    gone = Request("req-2", "execute_request", "shell", None, object())
    group("shell", kmsg("shell", "execute_reply", "req-2", gone, status="ok"))
    await asyncio.sleep(0)
    assert sender.texts() == ["a\n", "execute_reply", "b\n"]
    assert other.texts() == ["a\n", "b\n"]


async def test_a_sender_whose_id_was_made_unique_reads_its_own_id_back():
    group = WebsocketGroup(FakeClient())
    sender, other = FakeConn(), FakeConn()
    group.add(sender)
    group.add(other)
    request = Request("dup~ltt1", "execute_request", "shell", None, sender, origin_msg_id="dup")
    group("iopub", kmsg("iopub", "status", "dup~ltt1", request, execution_state="busy"))
    await asyncio.sleep(0)

    (mine,), (theirs,) = sender.messages(), other.messages()
    assert mine["parent_header"]["msg_id"] == "dup" and theirs["parent_header"]["msg_id"] == "dup~ltt1"


async def test_a_websocket_joining_mid_turn_gets_nothing_routed_before_it():
    client = FakeClient()
    group = WebsocketGroup(client)
    first = FakeConn()
    group.add(first)
    assert client.listeners == [group]  # one route for every websocket
    group("iopub", kmsg("iopub", "stream", text="early\n", name="stdout"))
    late = FakeConn()
    group.add(late)
    group("iopub", kmsg("iopub", "stream", text="late\n", name="stdout"))
    await asyncio.sleep(0)
    assert first.texts() == ["early\n", "late\n"] and late.texts() == ["late\n"]
    group.remove(first)
    group.remove(late)
    assert client.listeners == []


async def test_kernels_keep_output_they_cannot_send_yet(jp_serverapp, start_kernel, kernel_ws):
    """Our IPython extension raises the kernel's IOPub send high-water mark (ZMQ's 1000 dropped
    blocks of lines when many kernels printed at once)."""
    kid = await start_kernel()
    ws = await kernel_ws(kid)
    msg_id = ws.execute("import zmq\nget_ipython().kernel.iopub_thread.socket.getsockopt(zmq.SNDHWM)")
    await ws.wait_idle(msg_id)
    (result,) = ws.replies_to(msg_id, "execute_result")
    km = jp_serverapp.kernel_manager.get_kernel(kid)
    assert result["content"]["data"]["text/plain"] == str(km.kernel_iopub_hwm) == "100000"
