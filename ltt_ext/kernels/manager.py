"""Kernel managers that own one :class:`SharedKernelClient` per kernel.

They fix what stock nextgen-kernels-api leaves broken at the manager level:
``cleanup_resources`` is never called by jupyter_client 8 (it calls
``_async_cleanup_resources``), so the client's loops leaked at shutdown; and
server-side consumers (the notebook writer, the tutor) need attaching on every
start and restart, exactly once.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
import typing as t

from jupyter_server._tz import utcnow
from jupyter_server.services.kernels.kernelmanager import AsyncMappingKernelManager
from nextgen_kernels_api.services.kernels.kernelmanager import (
    KernelManager as NextgenKernelManager,
)
from nextgen_kernels_api.services.kernels.kernelmanager import (
    MultiKernelManager as NextgenMultiKernelManager,
)
from traitlets import DottedObjectName, Int, Type

from . import ipykernel_iopub
from .client import SharedKernelClient


class KernelConsumer(t.Protocol):
    """A server-side consumer of every kernel's messages (the tutor, the notebook writer)."""

    msg_types: list[tuple[str, str]] | None

    def listener_for(self, kernel_id: str) -> t.Callable[[str, list], t.Any]:
        """The listener for that kernel; the same object every time for the same id."""

    def forget_kernel(self, kernel_id: str) -> None:
        """The kernel is gone: drop per-kernel state."""


class SharedClientKernelManager(NextgenKernelManager):
    """Per-kernel manager: the shared client lives and dies with the kernel."""

    client_class = Type(
        default_value=SharedKernelClient,
        klass="jupyter_client.client.KernelClient",
        config=True,
        help="The shared kernel client class (one instance per kernel).",
    )
    client_factory = Type(
        default_value=SharedKernelClient,
        klass="jupyter_client.client.KernelClient",
        config=True,
        help="Kept equal to client_class.",
    )

    kernel_iopub_hwm = Int(
        100_000,
        config=True,
        help="Messages an ipykernel kernel's IOPub socket may queue before it drops output (ZMQ's "
        "default, 1000, lost blocks of lines when many kernels printed at once). Applied by an "
        "IPython extension loaded into kernels run by this server's Python; 0: leave kernels alone.",
    )

    _started_once = False

    # nextgen's connection test (the start's wait for a first answer, and our post-restart
    # IOPub check) re-sends kernel_info only every 10 s. When a new kernel publishes its first
    # statuses before the IOPub subscription reaches it (ZMQ's slow joiner), they are lost and
    # the start waited those 10 s. Upstream's websocket nudge re-sends every 0.5 s: so do we.
    nudge_interval = 0.5

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        if self.kernel_client is not None:
            # A plain class attribute of nextgen's client (not configurable): set per instance.
            self.kernel_client.connection_test_retry_interval = self.nudge_interval

    async def _async_pre_start_kernel(self, **kw):
        kernel_cmd, kw = await super()._async_pre_start_kernel(**kw)
        if self.kernel_iopub_hwm and _runs_our_ipykernel(kernel_cmd):
            kernel_cmd = [*kernel_cmd, f"--IPKernelApp.extra_extensions={ipykernel_iopub.__name__}"]
            env = dict(kw.get("env") or os.environ)
            env[ipykernel_iopub.ENV] = str(self.kernel_iopub_hwm)
            kw["env"] = env
        return kernel_cmd, kw

    async def _async_post_start_kernel(self, **kwargs) -> None:
        # nextgen connects the client on the first start and keeps it across restarts
        # (same ports: ZMQ reconnects by itself). Its connection test waits up to 120 s for an
        # answer: a kernel process that exits meanwhile must not hold the start (POST /api/kernels)
        # that long, and must not fail it either: upstream answers 201 and its restarter then
        # restarts the kernel or reports it dead. So does ours (the callbacks below).
        connected, _ = await self._unless_exited(super()._async_post_start_kernel(**kwargs))
        restarted, self._started_once = self._started_once, True
        if not restarted:
            # The restarter fires these when the kernel process dies (it keeps its callbacks
            # across restarts, so once is enough).
            self.add_restart_callback(lambda: self._kernel_died(True), "restart")
            self.add_restart_callback(lambda: self._kernel_died(False), "dead")
        if not connected:
            self.log.warning(
                "Kernel %s exited while starting; the restarter restarts it or reports it dead.",
                self.kernel_id,
            )
            await self._reset_client()
            return
        if restarted and self.kernel_client is not None:
            self.kernel_client.notify_restarted()
            if await self._unless_exited(self._await_iopub()) == (True, True):
                self.execution_state = "idle"
                self.last_activity = utcnow()
        mkm = self.parent
        if isinstance(mkm, SharedClientMultiKernelManager):
            if restarted:
                mkm.notify_consumers_restarted(self.kernel_id)
            mkm.attach_consumers(self)

    async def _reset_client(self) -> None:
        """Stop the shared client's half-made connection (routing loops, channels), keeping its
        listeners: the next start connects it afresh, with that process's connection info (the
        restarter may pick new ports for a kernel that dies at start)."""
        client = self.kernel_client
        await client.disconnect()
        if client.context.closed:
            # jupyter_client's stop_channels destroys the ZMQ context the client made itself but
            # keeps it: every socket of the next connect would then fail (ENOTSUP).
            client.context = type(client.context)()

    async def _unless_exited(self, awaitable, poll_interval: float = 0.2):
        """Await ``awaitable`` unless the kernel process exits first.

        Returns ``(True, result)``, or ``(False, None)`` once the process is gone (the awaitable
        is then cancelled): nothing a dead process could answer is worth waiting for.
        """
        task = asyncio.ensure_future(awaitable)

        async def exited() -> None:
            while not task.done():
                await asyncio.sleep(poll_interval)
                if not await self.is_alive():
                    return

        watch = asyncio.ensure_future(exited())
        try:
            await asyncio.wait({task, watch}, return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:
            task.cancel()
            raise
        finally:
            watch.cancel()
        if task.done():
            if task.exception() is None or await self.is_alive():
                return True, task.result()
            # It failed because the process died (e.g. nextgen's heartbeat check): same case.
            self.log.debug("Kernel %s: %r after its process exited", self.kernel_id, task.exception())
            return False, None
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        return False, None

    async def _await_iopub(self) -> bool:
        """After a restart the IOPub socket rejoins the new kernel late (ZMQ's slow joiner), and
        whatever the kernel publishes before that is lost: the first cell's outputs and idle.
        Nudge with kernel_info until IOPub answers (as upstream's websocket does) before the
        restart returns. nextgen's connection test does the nudging; reset the state it reads."""
        client = self.kernel_client
        client.execution_state = "unknown"
        client.last_shell_status_time = None
        if not await client._test_kernel_communication(timeout=30.0):
            self.log.warning("IOPub of restarted kernel %s did not answer in 30 s", self.kernel_id)
            return False
        return True

    def _kernel_died(self, restarting: bool) -> None:
        """Upstream tells every websocket ``restarting`` (or ``dead``) from its restart
        callbacks; with one shared client that is ours to do, for every listener."""
        state = "restarting" if restarting else "dead"
        self.log.warning(
            "Kernel %s died; %s", self.kernel_id, "restarting it" if restarting else "restarts exhausted"
        )
        self.execution_state = state
        self.last_activity = utcnow()
        if self.kernel_client is not None:
            self.kernel_client.kernel_died(state)
        mkm = self.parent
        if isinstance(mkm, SharedClientMultiKernelManager):
            mkm.notify_consumers_died(self.kernel_id, restarting)

    async def _async_cleanup_resources(self, restart: bool = False) -> None:
        if not restart and self.kernel_client is not None:
            await self.kernel_client.close()
        await super()._async_cleanup_resources(restart=restart)


def _runs_our_ipykernel(cmd: list[str]) -> bool:
    """An ipykernel started with this server's Python (which can import the extension), not told
    otherwise already."""
    if not cmd or not any("ipykernel" in part for part in cmd):
        return False
    if any("extra_extensions" in part for part in cmd):
        return False
    exe = shutil.which(cmd[0]) or cmd[0]
    return os.path.realpath(exe) == os.path.realpath(sys.executable)


class SharedClientMultiKernelManager(NextgenMultiKernelManager):
    """The server's kernel manager: consumers, activity and connection counts."""

    kernel_manager_class = DottedObjectName(
        "ltt_ext.kernels.manager.SharedClientKernelManager",
        config=True,
        help="The per-kernel manager class (keep a subclass of SharedClientKernelManager).",
    )

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._consumers: list[KernelConsumer] = []

    def register_consumer(self, consumer: KernelConsumer) -> None:
        """Attach ``consumer`` to every running kernel now and every kernel (re)started later."""
        if consumer not in self._consumers:
            self._consumers.append(consumer)
        for km in list(self._kernels.values()):
            self.attach_consumers(km, [consumer])

    def attach_consumers(self, km, consumers=None) -> None:
        """Called from the kernel's post-start (before it is listed in ``_kernels``)."""
        client = getattr(km, "kernel_client", None)
        if client is None:
            return
        for consumer in consumers or self._consumers:
            # add_listener is idempotent for the same callback: restarts attach once.
            client.add_listener(consumer.listener_for(km.kernel_id), msg_types=consumer.msg_types)

    def notify_consumers_died(self, kernel_id: str, restarting: bool) -> None:
        for consumer in self._consumers:
            hook = getattr(consumer, "kernel_died", None)
            if hook is not None:
                try:
                    hook(kernel_id, restarting)
                except Exception:
                    self.log.exception("Error in %r.kernel_died", consumer)

    def notify_consumers_restarted(self, kernel_id: str) -> None:
        for consumer in self._consumers:
            hook = getattr(consumer, "kernel_restarted", None)
            if hook is not None:
                hook(kernel_id)

    def kernel_client(self, kernel_id: str) -> SharedKernelClient:
        """The shared client of a running kernel (KeyError if unknown)."""
        return self._kernels[kernel_id].kernel_client

    async def _async_start_kernel(self, **kwargs) -> str:
        kernel_id = await super()._async_start_kernel(**kwargs)
        km = self._kernels.get(kernel_id)
        # jupyter_server marks a new kernel "starting" *after* it started; upstream's activity
        # socket then corrects that on the next status. Our client already saw the kernel idle.
        if km is not None and km.execution_state == "starting" and km.kernel_client._connection_ready:
            km.execution_state = "idle"
        return kernel_id

    start_kernel = _async_start_kernel

    # The shared client keeps execution_state / last_activity itself (see client.py);
    # upstream's per-kernel IOPub activity socket would be one more ZMQ connection.
    def start_watching_activity(self, kernel_id: str) -> None:
        kernel = self._kernels[kernel_id]
        kernel.reason = ""

    def stop_watching_activity(self, kernel_id: str) -> None:
        pass

    # nextgen makes stop_buffering a no-op (its websockets never buffer), yet upstream's
    # start_buffering, which every ZMQ websocket connection calls on disconnect, relies on it to
    # close the streams buffered before: with nextgen's, each disconnect of such a connection
    # (extensions or config using upstream's connection class) leaked its ZMQ sockets. Ours
    # never buffer, so upstream's own method costs nothing here.
    stop_buffering = AsyncMappingKernelManager.stop_buffering

    async def _async_shutdown_kernel(self, kernel_id: str, now: bool = False, restart: bool = False):
        km = self._kernels.get(kernel_id)
        client = getattr(km, "kernel_client", None)
        for consumer in self._consumers:
            if client is not None:
                client.remove_listener(consumer.listener_for(kernel_id))
            consumer.forget_kernel(kernel_id)
        return await super()._async_shutdown_kernel(kernel_id, now=now, restart=restart)

    shutdown_kernel = _async_shutdown_kernel

    def remove_kernel(self, kernel_id: str):
        km = super().remove_kernel(kernel_id)
        # Kernels removed without a shutdown (restarts ran out; a pending kernel that failed to
        # start) never reach cleanup_resources: close their shared client and tell consumers.
        for consumer in self._consumers:
            consumer.forget_kernel(kernel_id)
        client = getattr(km, "kernel_client", None)
        if client is not None and client.channels_running:
            try:
                asyncio.get_running_loop().create_task(client.close())
            except RuntimeError:  # no loop running: the server is gone, nothing to close
                client.stop_channels()
        return km
