"""Server-side execution of a code string through a kernel's shared client.

For agents, graders and the tutor's own tools: no extra ZMQ connection, and
the messages go through the same fan-out as everyone else's, so a browser
attached to the kernel sees the run too. With ``cell_id`` the request carries
``metadata.cellId`` as JupyterLab's do, so the notebook writer records it in
that cell. With ``stdin_origin`` (a websocket connection) the run may prompt
with ``input()``: the prompt goes to that connection alone, which answers it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from ..outputs import OutputList
from .message import KernelMessage


@dataclass
class ExecutionResult:
    status: str = "ok"  # ok | error | timeout | aborted
    execution_count: int | None = None
    outputs: list[dict[str, Any]] = field(default_factory=list)
    error: dict[str, Any] | None = None
    timed_out: bool = False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class KernelNotReady(RuntimeError):
    pass


async def execute(
    kernel_manager,
    code: str,
    *,
    timeout: float | None = 30.0,
    cell_id: str | None = None,
    on_message: Callable[[str, KernelMessage], None] | None = None,
    interrupt_grace: float = 5.0,
    stdin_origin: Any = None,
    reply_grace: float = 10.0,
) -> ExecutionResult:
    """Run ``code`` and collect its outputs; on timeout interrupt the kernel.

    ``timeout=None`` waits for as long as the cell runs. A kernel restart ends the
    wait with status ``aborted``. A run whose idle status came but whose reply did not
    (or the reverse) ends ``reply_grace`` seconds later instead of never.
    """
    client = kernel_manager.kernel_client
    if not await client.wait_for_connection_ready(timeout=min(timeout or 30.0, 30.0)):
        raise KernelNotReady("The kernel is not connected yet.")

    session = client.session
    request = session.msg(
        "execute_request",
        {
            "code": code,
            "silent": False,
            "store_history": True,
            "user_expressions": {},
            "allow_stdin": stdin_origin is not None,
            "stop_on_error": True,
        },
        metadata={"cellId": cell_id} if cell_id else {},
    )
    header = request["header"]
    if stdin_origin is not None and cell_id:
        # The front end that shows the prompt finds the cell from the request's id.
        header["msg_id"] = f"ltt-stdin-{header['msg_id']}#{cell_id}"

    result = ExecutionResult()
    outputs = OutputList()
    seen = {"idle": False, "reply": False}
    done = asyncio.Event()
    first = asyncio.Event()

    def collect(channel: str, msg: list) -> None:
        if not isinstance(msg, KernelMessage):
            msg = KernelMessage(channel, msg)
        if msg.parent_msg_id != msg_id:
            return
        msg_type = msg.msg_type
        if on_message is not None:
            on_message(channel, msg)
        if channel == "shell" and msg_type == "execute_reply":
            content = msg.content
            result.execution_count = content.get("execution_count", result.execution_count)
            if content.get("status") == "error":
                result.status = "error"
            elif content.get("status") == "aborted":
                result.status = "aborted"
            seen["reply"] = True
        elif channel == "iopub":
            if msg_type == "status":
                if msg.content.get("execution_state") == "idle":
                    seen["idle"] = True
            elif msg_type == "execute_input":
                result.execution_count = msg.content.get("execution_count")
            else:
                content = msg.content
                if msg_type == "error":
                    result.error = {k: content.get(k) for k in ("ename", "evalue", "traceback")}
                outputs.add(msg_type, content)
        # execute_reply and the idle status travel on different channels, in either order.
        if seen["idle"] or seen["reply"]:
            first.set()
        if seen["idle"] and seen["reply"]:
            done.set()

    def aborted() -> None:
        result.status = "aborted"
        done.set()

    async def one_seen() -> None:
        # Both the reply and the idle status end a run; when one of them came and the other
        # does not follow, the run is over all the same (never wait forever on a lost message).
        await first.wait()
        try:
            await asyncio.wait_for(done.wait(), reply_grace)
        except asyncio.TimeoutError:
            if not seen["reply"]:
                result.status = "error"
                result.error = result.error or {
                    "ename": "NoReply",
                    "evalue": "the kernel went idle without replying",
                    "traceback": [],
                }
            done.set()

    parts = [session.pack(request[k]) for k in ("header", "parent_header", "metadata", "content")]
    msg_id = client.send_request("shell", parts, header, cell_id=cell_id, origin=stdin_origin).msg_id
    # No await since the send: no message of this run can have been routed yet.
    client.add_listener(collect)
    client.restart_callbacks.add(aborted)
    watchdog = asyncio.ensure_future(one_seen())
    try:
        try:
            await asyncio.wait_for(done.wait(), timeout)
        except asyncio.TimeoutError:
            result.status, result.timed_out = "timeout", True
            await kernel_manager.interrupt_kernel()
            try:
                await asyncio.wait_for(done.wait(), interrupt_grace)
            except asyncio.TimeoutError:
                pass
            result.status = "timeout"
    finally:
        watchdog.cancel()
        client.remove_listener(collect)
        client.restart_callbacks.discard(aborted)
    result.outputs = outputs.outputs
    if result.error is not None and result.status == "ok":
        result.status = "error"
    return result


def kernel_is_idle(kernel_manager) -> bool:
    """Idle, and no execute request of anyone's still waiting for its reply."""
    client = getattr(kernel_manager, "kernel_client", None)
    if client is None or getattr(kernel_manager, "execution_state", None) != "idle":
        return False
    return not any(r.msg_type == "execute_request" for r in client.requests.pending())


async def user_expressions(
    kernel_manager, expressions: dict[str, str], *, timeout: float = 1.0
) -> dict | None:
    """Evaluate ``expressions`` in the kernel with a *silent* execute request, and return the
    reply's ``user_expressions`` (None when the kernel is busy, or no reply within ``timeout``).

    Silent, empty code, no history: the kernel does not count it, store it or publish an
    ``execute_input``; its busy/idle statuses name a request nobody else made, so the notebook
    writer and the tutor's tracker ignore them. Only sent when the kernel is idle: it must never
    wait behind (or delay) the learner's own cells.
    """
    # A cell's reply and its idle status travel on different channels: the reply may follow
    # the status the caller reacted to by a moment. Wait that moment, not for a busy kernel.
    settle = asyncio.get_running_loop().time() + min(timeout, 0.1)
    while not kernel_is_idle(kernel_manager):
        if asyncio.get_running_loop().time() >= settle:
            return None
        await asyncio.sleep(0.005)
    client = kernel_manager.kernel_client
    session = client.session
    request = session.msg(
        "execute_request",
        {
            "code": "",
            "silent": True,
            "store_history": False,
            "user_expressions": expressions,
            "allow_stdin": False,
            "stop_on_error": False,
        },
    )
    header = request["header"]
    reply: asyncio.Future = asyncio.get_running_loop().create_future()

    def collect(channel: str, msg: list) -> None:
        if channel != "shell" or reply.done():
            return
        if not isinstance(msg, KernelMessage):
            msg = KernelMessage(channel, msg)
        if msg.parent_msg_id == msg_id and msg.msg_type == "execute_reply":
            reply.set_result(msg.content)

    parts = [session.pack(request[k]) for k in ("header", "parent_header", "metadata", "content")]
    msg_id = client.send_request("shell", parts, header).msg_id
    client.add_listener(collect, msg_types=[("execute_reply", "shell")])
    try:
        content = await asyncio.wait_for(reply, timeout)
    except asyncio.TimeoutError:
        return None
    finally:
        client.remove_listener(collect)
    if content.get("status") != "ok":
        return None
    found = content.get("user_expressions")
    return found if isinstance(found, dict) else None
