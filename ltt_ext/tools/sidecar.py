"""Sidecar kernels: where the tutor (and the learner's "Try it") experiment, never in the learner's kernel.

**One sidecar per notebook** (keyed like its conversation, by file id): an example about one
lesson runs next to that lesson's files, from the kernelspec of that notebook's kernel, and the
experiments of two notebooks never share variables. A per-learner sidecar would mix the
namespaces of every notebook the learner has open, and could not follow each notebook's kernelspec.

**Its own kernel manager.** Sidecars are started by a private
:class:`~ltt_ext.kernels.manager.SharedClientMultiKernelManager` (the shared client machinery,
with no consumers attached), not the server's: they are not in ``/api/kernels`` or any session,
so JupyterLab never lists one as a notebook's kernel or opens a websocket to it, the notebook
writer and the tutor's tracker never see its messages (its outputs cannot reach a notebook), and
the server's idle culler (``MappingKernelManager.cull_*``) never touches it. Idle sidecars are shut
down here after :attr:`Sidecars.idle_timeout`; the next run starts a fresh one and says so.

Per run: :attr:`Sidecars.run_timeout` (then an interrupt; a kernel the interrupt does not stop is
restarted), :attr:`Sidecars.max_output_chars` (past it the run is interrupted and its outputs cut),
one run at a time per sidecar, at most :attr:`Sidecars.max_sidecars` per server (the longest idle
one makes room). A sidecar runs as the learner, in the notebook's folder: it isolates namespaces and
outputs, not the file system.
"""

from __future__ import annotations

import asyncio
import json
import logging
import posixpath
import time
from dataclasses import dataclass, field
from typing import Any

from traitlets import Bool, Float, Int, Unicode
from traitlets.config import LoggingConfigurable

from ..kernels.execute import execute
from ..tutor.text import strip_ansi


class SidecarUnavailable(Exception):
    """No sidecar can run this now (turned off, at capacity, kernel failed to start); shown as is."""


@dataclass
class Sidecar:
    key: str
    path: str
    kernel_id: str
    kernel_name: str
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    last_used: float = field(default_factory=time.monotonic)
    runs: int = 0


@dataclass
class SidecarRun:
    status: str  # ok | error | timeout
    outputs: list[dict[str, Any]]
    execution_count: int | None = None
    timed_out: bool = False
    restarted: bool = False  # the kernel had to be restarted (its variables are gone)
    truncated: bool = False
    fresh: bool = False  # a new sidecar: nothing from earlier experiments is defined
    kernel_name: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "outputs": self.outputs,
            "execution_count": self.execution_count,
            "timed_out": self.timed_out,
            "restarted": self.restarted,
            "truncated": self.truncated,
            "fresh": self.fresh,
            "kernel_name": self.kernel_name,
        }


def output_chars(output: dict[str, Any]) -> int:
    if output.get("output_type") == "stream":
        return len(output.get("text") or "")
    if output.get("output_type") == "error":
        return sum(len(t) for t in output.get("traceback") or []) + len(str(output.get("evalue", "")))
    return sum(
        len(v) if isinstance(v, str) else len(json.dumps(v)) for v in (output.get("data") or {}).values()
    )


def cut_outputs(outputs: list[dict[str, Any]], limit: int) -> tuple[list[dict[str, Any]], bool]:
    """Outputs within ``limit`` characters: a stream is cut mid-text, later outputs dropped."""
    if limit <= 0:
        return outputs, False
    kept: list[dict[str, Any]] = []
    used = 0
    for out in outputs:
        size = output_chars(out)
        if used + size <= limit:
            kept.append(out)
            used += size
            continue
        room = limit - used
        if out.get("output_type") == "stream" and room > 0:
            kept.append({**out, "text": (out.get("text") or "")[:room]})
        elif out.get("output_type") == "error":
            kept.append({**out, "traceback": [t[:2000] for t in (out.get("traceback") or [])[-3:]]})
        kept.append(
            {
                "output_type": "stream",
                "name": "stderr",
                "text": f"\n…[output cut: more than {limit} characters]\n",
            }
        )
        return kept, True
    return kept, False


class Sidecars(LoggingConfigurable):
    """Sidecar kernels, one per notebook, for the tutor's experiments and the panel's "Try it"."""

    enabled = Bool(
        True, config=True, help="Offer sidecar kernels at all (off: 'Try it' and the tool answer 503/refuse)."
    )
    max_sidecars = Int(
        4, config=True, help="Sidecar kernels running at once on this server; the longest idle makes room."
    )
    run_timeout = Float(
        10.0,
        config=True,
        help="Seconds a sidecar run may take; then it is interrupted (and restarted if that fails).",
    )
    interrupt_grace = Float(
        3.0,
        config=True,
        help="Seconds an interrupted run has to stop before the sidecar kernel is restarted.",
    )
    max_output_chars = Int(
        20_000, config=True, help="Characters of output kept per run; past it the run is interrupted and cut."
    )
    max_code_chars = Int(20_000, config=True, help="Longest snippet a sidecar accepts.")
    idle_timeout = Float(
        600.0,
        config=True,
        help="Seconds a sidecar may stay unused before it is shut down (0: until the server stops).",
    )
    kernel_name = Unicode(
        "",
        config=True,
        help="Kernelspec of every sidecar (empty: the notebook's kernel's, else the server's default).",
    )

    def __init__(self, serverapp=None, kernel_manager=None, **kwargs):
        super().__init__(**kwargs)
        self.serverapp = serverapp
        self._mkm = kernel_manager
        self._sidecars: dict[str, Sidecar] = {}
        self._starting: dict[str, asyncio.Task] = {}
        self._reaper: asyncio.Task | None = None
        self._closed = False

    # -- the private kernel manager -------------------------------------------------------------
    @property
    def kernel_manager(self):
        if self._mkm is None:
            from ..kernels.manager import SharedClientMultiKernelManager

            kwargs: dict[str, Any] = {"log": self.log, "cull_idle_timeout": 0}
            app = self.serverapp
            if app is not None:
                kwargs["root_dir"] = app.root_dir
                kwargs["kernel_spec_manager"] = app.kernel_spec_manager
                # as ServerApp does for its own: jupyter_client's default ("") writes connection
                # files, HMAC key included, into the working directory (the learner's folder)
                kwargs["connection_dir"] = app.runtime_dir
            # No parent: the server's MappingKernelManager config (culling, buffering…) is not ours.
            self._mkm = SharedClientMultiKernelManager(**kwargs)
        return self._mkm

    def running(self) -> list[dict[str, Any]]:
        return [
            {"path": s.path, "kernel_id": s.kernel_id, "kernel_name": s.kernel_name, "runs": s.runs}
            for s in self._sidecars.values()
        ]

    def get(self, key: str) -> Sidecar | None:
        return self._sidecars.get(key)

    # -- running code ---------------------------------------------------------------------------
    async def run(self, key: str, path: str, code: str, kernel_name: str | None = None) -> SidecarRun:
        if not self.enabled or self.max_sidecars <= 0:
            raise SidecarUnavailable("Sidecar kernels are turned off on this server.")
        if self._closed:
            raise SidecarUnavailable("The server is stopping.")
        if len(code) > self.max_code_chars:
            raise SidecarUnavailable(
                f"The code is too long for a sidecar run (at most {self.max_code_chars} characters)."
            )
        sidecar, fresh = await self._ensure(key, path, kernel_name)
        async with sidecar.lock:
            sidecar.last_used = time.monotonic()
            try:
                return await self._run(sidecar, code, fresh)
            finally:
                sidecar.runs += 1
                sidecar.last_used = time.monotonic()

    async def _back(self, sidecar: Sidecar, timeout: float = 60.0) -> None:
        """Wait while the sidecar's kernel restarts (after it died, or after our restart)."""
        mkm = self.kernel_manager
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while sidecar.kernel_id in mkm and loop.time() < deadline:
            state = getattr(mkm.get_kernel(sidecar.kernel_id), "execution_state", None)
            if state not in ("restarting", "autorestarting", "starting"):
                return
            await asyncio.sleep(0.1)

    async def _run(self, sidecar: Sidecar, code: str, fresh: bool) -> SidecarRun:
        mkm = self.kernel_manager
        await self._back(sidecar)
        if sidecar.kernel_id not in mkm:  # it died for good: the next run starts a new one
            self._sidecars.pop(sidecar.key, None)
            raise SidecarUnavailable("The sidecar kernel stopped; run it again to start a new one.")
        km = mkm.get_kernel(sidecar.kernel_id)
        limit = self.max_output_chars
        seen = {"chars": 0, "flooding": False}

        def watch(channel: str, msg) -> None:
            if channel != "iopub" or seen["flooding"] or limit <= 0:
                return
            if msg.msg_type in ("stream", "display_data", "execute_result", "error", "update_display_data"):
                seen["chars"] += output_chars({"output_type": msg.msg_type, **msg.content})
                if seen["chars"] > limit * 2:
                    # a flood: stop it now rather than collect it for run_timeout seconds
                    seen["flooding"] = True
                    asyncio.ensure_future(mkm.interrupt_kernel(sidecar.kernel_id))

        result = await execute(
            km, code, timeout=self.run_timeout, on_message=watch, interrupt_grace=self.interrupt_grace
        )
        restarted = False
        interrupted = (result.error or {}).get("ename") == "KeyboardInterrupt"
        if result.timed_out and not interrupted:
            # the interrupt did not stop it (signal ignored, stuck in C code): start over
            self.log.info(
                "ltt sidecar: restarting %s (%s): the interrupt did not stop the run",
                sidecar.kernel_id,
                sidecar.path,
            )
            await mkm.restart_kernel(sidecar.kernel_id)
            restarted = True
        outputs = [_clean_output(o) for o in result.outputs]
        outputs, truncated = cut_outputs(outputs, limit)
        if seen["flooding"]:
            truncated = True
        if result.status == "aborted":  # the kernel process died (its restarter starts it again)
            restarted = True
            await self._back(sidecar)
            outputs.append(
                {
                    "output_type": "stream",
                    "name": "stderr",
                    "text": "The sidecar kernel stopped and was restarted.\n",
                }
            )
        status = (
            "timeout" if result.timed_out else ("error" if result.status in ("error", "aborted") else "ok")
        )
        if seen["flooding"] and status == "error" and interrupted:
            status = "ok"  # we stopped it: the output was the point, not the KeyboardInterrupt
            outputs = [o for o in outputs if o.get("output_type") != "error"]
        return SidecarRun(
            status,
            outputs,
            result.execution_count,
            timed_out=result.timed_out,
            restarted=restarted,
            truncated=truncated,
            fresh=fresh,
            kernel_name=sidecar.kernel_name,
        )

    # -- lifecycle ------------------------------------------------------------------------------
    async def _ensure(self, key: str, path: str, kernel_name: str | None) -> tuple[Sidecar, bool]:
        existing = self._sidecars.get(key)
        if existing is not None and existing.kernel_id in self.kernel_manager:
            existing.path = path
            return existing, False
        self._sidecars.pop(key, None)
        task = self._starting.get(key)
        if task is None:
            task = self._starting[key] = asyncio.ensure_future(self._start(key, path, kernel_name))
            task.add_done_callback(lambda _t: self._starting.pop(key, None))
        return await asyncio.shield(task), True

    async def _start(self, key: str, path: str, kernel_name: str | None) -> Sidecar:
        await self._make_room()
        mkm = self.kernel_manager
        name = (
            self.kernel_name
            or kernel_name
            or getattr(mkm.kernel_spec_manager, "default_kernel_name", "python3")
        )
        folder = posixpath.dirname(path)
        try:
            kernel_id = await mkm.start_kernel(kernel_name=name, path=folder or "")
        except Exception as e:
            self.log.warning("ltt sidecar: kernel %s for %s did not start", name, path, exc_info=True)
            raise SidecarUnavailable(
                f"The sidecar kernel ({name}) did not start: {type(e).__name__}."
            ) from None
        sidecar = self._sidecars[key] = Sidecar(key, path, kernel_id, str(name))
        self.log.info("ltt sidecar: started %s (%s) for %s", kernel_id, name, path)
        self._ensure_reaper()
        return sidecar

    async def _make_room(self) -> None:
        """At the cap: shut down the longest idle sidecar, or refuse when every one is running code."""
        while len(self._sidecars) + len(self._starting) > self.max_sidecars:
            idle = [s for s in self._sidecars.values() if not s.lock.locked()]
            if not idle:
                raise SidecarUnavailable(
                    f"Every sidecar kernel ({self.max_sidecars}) is busy; try again in a moment."
                )
            oldest = min(idle, key=lambda s: s.last_used)
            await self.shutdown(oldest.key, reason="making room")

    async def shutdown(self, key: str, reason: str = "") -> None:
        sidecar = self._sidecars.pop(key, None)
        if sidecar is None:
            return
        self.log.info(
            "ltt sidecar: shutting down %s (%s)%s",
            sidecar.kernel_id,
            sidecar.path,
            f": {reason}" if reason else "",
        )
        try:
            await self.kernel_manager.shutdown_kernel(sidecar.kernel_id, now=True)
        except Exception:
            self.log.debug("ltt sidecar: shutdown of %s failed", sidecar.kernel_id, exc_info=True)

    def _ensure_reaper(self) -> None:
        if self._reaper is None or self._reaper.done():
            self._reaper = asyncio.ensure_future(self._reap())

    async def _reap(self) -> None:
        """Shut down sidecars unused for idle_timeout seconds."""
        while self._sidecars and not self._closed:
            timeout = self.idle_timeout
            await asyncio.sleep(max(1.0, min(60.0, timeout / 4)) if timeout > 0 else 60.0)
            if timeout <= 0:
                continue
            now = time.monotonic()
            for s in list(self._sidecars.values()):
                if not s.lock.locked() and now - s.last_used > timeout:
                    await self.shutdown(s.key, reason=f"unused for {timeout:g} s")

    async def close(self) -> None:
        self._closed = True
        if self._reaper is not None:
            self._reaper.cancel()
            await asyncio.gather(self._reaper, return_exceptions=True)
        for task in list(self._starting.values()):
            await asyncio.gather(task, return_exceptions=True)
        for key in list(self._sidecars):
            await self.shutdown(key, reason="server stopping")
        if self._mkm is not None:
            try:
                await self._mkm.shutdown_all(now=True)
            except Exception:
                logging.getLogger(__name__).debug("ltt sidecar: shutdown_all failed", exc_info=True)


def _clean_output(output: dict[str, Any]) -> dict[str, Any]:
    """An nbformat output without the kernel's ANSI colours in tracebacks (the panel shows text)."""
    if output.get("output_type") == "error":
        return {**output, "traceback": [strip_ansi(t) for t in output.get("traceback") or []]}
    return output
