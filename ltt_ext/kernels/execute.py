"""Server-side execution of a code string through a kernel's shared client.

For agents, graders and the tutor's own tools: no extra ZMQ connection, and
the messages go through the same fan-out as everyone else's, so a browser
attached to the kernel sees the run too. With ``cell_id`` the request is
tagged like a browser's would be (``shell:<id>#<cell>``), so the notebook
writer records it in that cell.
"""

from __future__ import annotations

import asyncio
from dataclasses import asdict, dataclass, field
from typing import Any, Callable

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
) -> ExecutionResult:
    """Run ``code`` and collect its outputs; on timeout interrupt the kernel.

    ``timeout=None`` waits for as long as the cell runs. A kernel restart ends the
    wait with status ``aborted``.
    """
    client = kernel_manager.kernel_client
    if not await client.wait_for_connection_ready(timeout=min(timeout or 30.0, 30.0)):
        raise KernelNotReady("The kernel is not connected yet.")

    request = client.session.msg(
        "execute_request",
        {"code": code, "silent": False, "store_history": True, "user_expressions": {},
         "allow_stdin": False, "stop_on_error": True},
    )
    base_id = request["header"]["msg_id"]
    request["header"]["msg_id"] = f"shell:{base_id}" + (f"#{cell_id}" if cell_id else "")

    result = ExecutionResult()
    outputs = OutputList()
    seen = {"idle": False, "reply": False}
    done = asyncio.Event()

    def collect(channel: str, msg: list) -> None:
        if not isinstance(msg, KernelMessage):
            msg = KernelMessage(channel, msg)
        if msg.parent_msg_id != base_id:
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
        if seen["idle"] and seen["reply"]:
            done.set()

    def aborted() -> None:
        result.status = "aborted"
        done.set()

    client.add_listener(collect)
    client.restart_callbacks.add(aborted)
    try:
        client.shell_channel.send(request)
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
        client.remove_listener(collect)
        client.restart_callbacks.discard(aborted)
    result.outputs = outputs.outputs
    if result.error is not None and result.status == "ok":
        result.status = "error"
    return result
