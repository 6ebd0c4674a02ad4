"""Start and stop real `jupyter server` subprocesses for the benchmarks (127.0.0.1 only)."""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil
from tornado.httpclient import AsyncHTTPClient, HTTPRequest

REPO_ROOT = Path(__file__).resolve().parent.parent

# Extensions that have nothing to do with kernels: off everywhere so every server does the same work.
_COMMON_OFF = {
    "jupyterlab": False,
    "jupyter_lsp": False,
    "jupyter_server_terminals": False,
    "notebook_shim": False,
    "jupyter_server_ydoc": False,
    "jupyter_server_mcp": False,
    "benchmarks._probe": True,
}

# name -> (label, jpserver_extensions overrides, extra args)
SERVER_KINDS: dict[str, tuple[str, dict, list[str]]] = {
    "upstream": (
        "upstream jupyter-server",
        {
            "jupyter_server_documents": False,
            "jupyter_server_fileid": False,
            "nextgen_kernels_api": False,
            "ltt_ext": False,
        },
        [],
    ),
    "nextgen": (
        "stock nextgen-kernels-api",
        {
            "nextgen_kernels_api": True,
            "jupyter_server_documents": True,
            "jupyter_server_fileid": True,
            "ltt_ext": False,
        },
        [],
    ),
    "ltt": (
        "ltt-ext (tutor on)",
        {"ltt_ext": True, "jupyter_server_documents": True, "jupyter_server_fileid": True},
        ["--Tutor.enabled=True"],
    ),
    "ltt-notutor": (
        "ltt-ext (tutor off)",
        {"ltt_ext": True, "jupyter_server_documents": True, "jupyter_server_fileid": True},
        ["--Tutor.enabled=False"],
    ),
}

_LIVE: dict[int, Server] = {}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def fd_counts(pid: int) -> dict:
    """Open file descriptors and how many of them are sockets."""
    fds = socks = 0
    try:
        for fd in os.listdir(f"/proc/{pid}/fd"):
            fds += 1
            try:
                if os.readlink(f"/proc/{pid}/fd/{fd}").startswith("socket:"):
                    socks += 1
            except OSError:
                pass
    except OSError:
        return {"fds": None, "sockets": None}
    return {"fds": fds, "sockets": socks}


@dataclass
class Server:
    kind: str
    extra_args: list[str] = field(default_factory=list)
    log_level: str = "INFO"
    port: int = 0
    token: str = ""
    tmp: Path | None = None
    proc: subprocess.Popen | None = None
    ps: psutil.Process | None = None
    probe: dict | None = None

    @property
    def label(self) -> str:
        return SERVER_KINDS[self.kind][0]

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_base(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    @property
    def root(self) -> Path:
        return self.tmp / "root"

    @property
    def log_path(self) -> Path:
        return self.tmp / "server.log"

    def headers(self) -> dict:
        return {"Authorization": f"token {self.token}"}

    def command(self) -> list[str]:
        _, exts, kind_args = SERVER_KINDS[self.kind]
        jpexts = dict(_COMMON_OFF)
        jpexts.update(exts)
        args = [
            sys.executable,
            "-m",
            "jupyter_server",
            "--no-browser",
            f"--ServerApp.port={self.port}",
            "--ServerApp.port_retries=0",
            "--ServerApp.ip=127.0.0.1",
            f"--IdentityProvider.token={self.token}",
            f"--ServerApp.root_dir={self.root}",
            "--ServerApp.iopub_msg_rate_limit=0",
            "--ServerApp.iopub_data_rate_limit=0",
            f"--BaseFileIdManager.db_path={self.tmp / 'fileid.db'}",
            *(f"--ServerApp.jpserver_extensions={name}={enabled}" for name, enabled in jpexts.items()),
            f"--ServerApp.log_level={self.log_level}",
            *kind_args,
        ]
        if self.kind.startswith("ltt"):
            # a private tutor store; no per-notebook rate limit on proactive hints (the hint
            # benchmark triggers one per sample in the same notebook)
            args += [f"--Tutor.db_path={self.tmp / 'tutor.sqlite'}", "--Tutor.proactive_interval=0"]
        args += self.extra_args
        if os.geteuid() == 0:
            args.append("--allow-root")
        return args

    async def start(self, timeout: float = 60.0) -> None:
        self.tmp = Path(tempfile.mkdtemp(prefix=f"ltt-bench-{self.kind}-"))
        self.root.mkdir()
        env = dict(os.environ)
        for var, sub in (
            ("JUPYTER_CONFIG_DIR", "config"),
            ("JUPYTER_DATA_DIR", "data"),
            ("JUPYTER_RUNTIME_DIR", "runtime"),
            ("IPYTHONDIR", "ipython"),
            ("XDG_CONFIG_HOME", "xdg-config"),
            ("XDG_CACHE_HOME", "xdg-cache"),
        ):
            (self.tmp / sub).mkdir()
            env[var] = str(self.tmp / sub)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO_ROOT), env.get("PYTHONPATH")) if p)
        env["PYTHONUNBUFFERED"] = "1"
        env.pop("JUPYTER_PLATFORM_DIRS", None)
        self.port = free_port()
        self.token = secrets.token_hex(16)
        log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            self.command(),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=self.tmp,
            env=env,
            start_new_session=True,
        )
        log.close()
        _LIVE[self.proc.pid] = self
        self.ps = psutil.Process(self.proc.pid)
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"{self.kind} server exited ({self.proc.returncode}); log:\n{self.log_tail()}"
                )
            try:
                await self.request("GET", "/api/status", timeout=2)
                break
            except Exception as e:
                if time.monotonic() > deadline:
                    raise RuntimeError(
                        f"{self.kind} server not up after {timeout}s; log:\n{self.log_tail()}"
                    ) from e
                await asyncio.sleep(0.25)
        self.probe = await self.request("GET", "/bench/probe", timeout=10)

    def log_tail(self, n: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    async def request(self, method: str, path: str, body=None, timeout: float = 30.0, raw: bool = False):
        req = HTTPRequest(
            self.base + path,
            method=method,
            headers=self.headers(),
            body=None if body is None else (body if isinstance(body, (bytes, str)) else json.dumps(body)),
            request_timeout=timeout,
            connect_timeout=timeout,
            allow_nonstandard_methods=True,
        )
        resp = await AsyncHTTPClient().fetch(req)
        if raw:
            return resp
        return json.loads(resp.body) if resp.body else None

    # -- process metrics ------------------------------------------------------------------
    def cpu_seconds(self) -> float:
        t = self.ps.cpu_times()
        return t.user + t.system

    def rss(self) -> int:
        return self.ps.memory_info().rss

    def fds(self) -> dict:
        return fd_counts(self.proc.pid)

    async def settle(self, max_wait: float = 20.0, threshold: float = 0.05) -> None:
        """Wait until the server (and its kernels) stop burning CPU from earlier work."""
        deadline = time.monotonic() + max_wait
        while time.monotonic() < deadline:
            c0 = self.cpu_seconds()
            await asyncio.sleep(0.5)
            if self.cpu_seconds() - c0 < threshold * 0.5:
                return

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the server by PID (SIGTERM, then SIGKILL), then any kernel it left behind."""
        if self.proc is None:
            return
        pid = self.proc.pid
        try:
            children = self.ps.children(recursive=True)
        except psutil.Error:
            children = []
        if self.proc.poll() is None:
            try:
                os.kill(pid, signal.SIGTERM)
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.kill(pid, signal.SIGKILL)
                self.proc.wait(5)
            except ProcessLookupError:
                pass
        _, alive = psutil.wait_procs(children, timeout=3)
        for child in alive:
            try:
                child.kill()
            except psutil.Error:
                pass
        _LIVE.pop(pid, None)
        self.proc = None

    def cleanup(self, keep_logs_in: Path | None = None) -> None:
        if self.tmp and self.tmp.exists():
            if keep_logs_in is not None:
                keep_logs_in.mkdir(parents=True, exist_ok=True)
                try:
                    shutil.copy(self.log_path, keep_logs_in / f"{self.kind}.log")
                except OSError:
                    pass
            shutil.rmtree(self.tmp, ignore_errors=True)


def stop_all() -> None:
    for server in list(_LIVE.values()):
        try:
            server.stop()
        except Exception:
            pass
