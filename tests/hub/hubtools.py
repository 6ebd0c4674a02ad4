"""Helpers for the real-hub tests. A real JupyterHub for the course tests: JupyterHub + configurable-http-proxy (npm, tests/hub/node_modules,
installed by `make test-deps`) + SimpleLocalProcessSpawner, two learners (alice, bob) and an instructor
(ines, group "instructors"), the tutor service `ltt-tutor` as a hub-managed service whose LLM is the
fake OpenAI-compatible server of this test process. Everything listens on 127.0.0.1 on free ports;
the hub runs in its own process group and every process it started (proxy, services, single-user
servers, kernels) is stopped by PID at the end.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import textwrap
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from ltt_ext.fake_llm import FakeLLMThread

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
CHP = HERE / "node_modules" / ".bin" / "configurable-http-proxy"
PASSWORD = "course-password"
LLM_KEY = "sk-course-secret-" + "k3y-do-not-leak"
NOTES_SECRET = "The instructor's secret sentence: learners never read this line."
NOTES_GUIDANCE = "Remind the learner that list positions start at zero, always."
LEARNERS = ("alice", "bob")
INSTRUCTOR = "ines"
SERVICE = "ltt-tutor"
NB = "lesson1/lists.ipynb"
FAILING = "numbers = [1, 2, 3]\nnumbers[3]"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# -- processes ------------------------------------------------------------------------------------------


def _ppid(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return int(f.read().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return None


def descendants(pid: int) -> list[int]:
    """Every live descendant of ``pid`` (from /proc)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            p = _ppid(int(entry))
            if p is not None:
                children.setdefault(p, []).append(int(entry))
    out, todo = [], [pid]
    while todo:
        for c in children.get(todo.pop(), []):
            out.append(c)
            todo.append(c)
    return out


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def environ_of(pid: int) -> dict[str, str]:
    with open(f"/proc/{pid}/environ", "rb") as f:
        items = f.read().split(b"\0")
    return dict(i.decode(errors="replace").split("=", 1) for i in items if b"=" in i)


def cmdline_of(pid: int) -> str:
    with open(f"/proc/{pid}/cmdline", "rb") as f:
        return f.read().replace(b"\0", b" ").decode(errors="replace")


def stop_pids(pids: list[int], timeout: float = 15.0) -> None:
    """SIGTERM, then SIGKILL what is left, by PID (and each one's process group when it leads one)."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in pids:
            if alive(pid):
                try:
                    os.kill(pid, sig)
                except ProcessLookupError:
                    pass
        deadline = time.monotonic() + timeout
        while any(alive(p) for p in pids) and time.monotonic() < deadline:
            time.sleep(0.1)


# -- the fake LLM, served from a thread of this process -----------------------------------------------


def hub_fake_llm() -> FakeLLMThread:
    """The fake LLM the course's tutor service talks to."""
    return FakeLLMThread(
        default_reply="Check which position you ask for: the list is shorter than you think."
    )


# -- the hub ----------------------------------------------------------------------------------------------


class HTTPResult:
    def __init__(self, status: int, body: bytes, headers):
        self.status = status
        self.body = body
        self.headers = headers

    def json(self):
        return json.loads(self.body) if self.body else None


def http(method: str, url: str, token: str | None = None, body=None, timeout: float = 60) -> HTTPResult:
    data = json.dumps(body).encode() if body is not None else None
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"token {token}"
    req = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return HTTPResult(r.status, r.read(), r.headers)
    except urllib.error.HTTPError as e:
        return HTTPResult(e.code, e.read(), e.headers)


class Hub:
    """A JupyterHub subprocess and what it runs (see the module's docstring)."""

    def __init__(self, tmp: Path, llm_url: str, *, culler: dict | None = None, service_config: str = ""):
        self.tmp = tmp
        self.port, self.hub_port, self.proxy_api_port, self.service_port = (free_port() for _ in range(4))
        self.url = f"http://127.0.0.1:{self.port}"
        self.admin_token = secrets.token_hex(24)
        self.homes = tmp / "home"
        self.course = tmp / "course"
        self.service_dir = tmp / "service"
        for d in (self.homes, self.course, self.service_dir):
            d.mkdir()
        (self.course / "TUTOR.md").write_text(
            f"# Lesson notes\n\n{NOTES_GUIDANCE}\n\n## Solution\n\n{NOTES_SECRET}\n", encoding="utf-8"
        )
        (self.service_dir / "ltt_tutor_service_config.py").write_text(
            textwrap.dedent(
                f"""
                c.TutorServiceApp.model = "fake-tutor"
                c.TutorServiceApp.base_url = {llm_url!r}
                c.TutorServiceApp.course_dir = {str(self.course)!r}
                c.TutorServiceApp.db_url = "sqlite:///{self.service_dir}/tutor-service.sqlite"
                c.TutorServiceApp.timeout = 20
                c.TutorServiceApp.max_retries = 0
                c.TutorServiceApp.tokens_per_hour = 4000
                c.TutorServiceApp.requests_per_minute = 0
                c.TutorServiceApp.stuck_errors = 2
                """
            )
            + service_config
        )
        script = Path(sys.executable).with_name("ltt-tutor-service")
        service_cmd = [str(script)] if script.exists() else [sys.executable, "-m", "ltt_ext.hub"]
        services = [
            {
                "name": SERVICE,
                "url": f"http://127.0.0.1:{self.service_port}",
                "command": service_cmd,
                "cwd": str(self.service_dir),
                "environment": {"OPENAI_API_KEY": LLM_KEY, "PYTHONPATH": str(REPO)},
                "oauth_client_allowed_scopes": ["custom:ltt-tutor:instruct"],
                "oauth_no_confirm": True,
            },
            {"name": "test-admin", "api_token": self.admin_token},
        ]
        roles = [
            {
                "name": "user",
                "scopes": ["self", f"access:services!service={SERVICE}", f"read:services!service={SERVICE}"],
            },
            {"name": "ltt-instructor", "groups": ["instructors"], "scopes": ["custom:ltt-tutor:instruct"]},
            {
                "name": "test-admin",
                "services": ["test-admin"],
                "scopes": [
                    "admin:users",
                    "admin:servers",
                    "tokens",
                    "read:services",
                    "list:services",
                    "access:servers",
                ],
            },
        ]
        if culler is not None:
            args = [f"--{k}={v}" for k, v in culler.items()]
            services.append(
                {"name": "idle-culler", "command": [sys.executable, "-m", "jupyterhub_idle_culler", *args]}
            )
            roles.append(
                {
                    "name": "idle-culler",
                    "services": ["idle-culler"],
                    "scopes": ["list:users", "read:users:activity", "read:servers", "delete:servers"],
                }
            )
        config = f"""
c = get_config()  # noqa
c.JupyterHub.bind_url = {self.url!r}
c.JupyterHub.hub_bind_url = "http://127.0.0.1:{self.hub_port}"
c.ConfigurableHTTPProxy.api_url = "http://127.0.0.1:{self.proxy_api_port}"
c.ConfigurableHTTPProxy.command = [{str(CHP)!r}]
c.ConfigurableHTTPProxy.pid_file = {str(tmp / "proxy.pid")!r}
c.ConfigurableHTTPProxy.auth_token = {secrets.token_hex(16)!r}
c.JupyterHub.db_url = "sqlite:///{tmp}/jupyterhub.sqlite"
c.JupyterHub.cookie_secret_file = {str(tmp / "cookie_secret")!r}
c.JupyterHub.pid_file = {str(tmp / "hub.pid")!r}
c.JupyterHub.last_activity_interval = 5
c.JupyterHub.redirect_to_server = False
c.JupyterHub.authenticator_class = "dummy"
c.DummyAuthenticator.password = {PASSWORD!r}
c.Authenticator.allowed_users = {set(LEARNERS) | {INSTRUCTOR}!r}
c.JupyterHub.spawner_class = "simple"
c.SimpleLocalProcessSpawner.home_dir_template = {str(self.homes / "{username}")!r}
c.Spawner.cmd = [{sys.executable!r}, "-m", "jupyterhub.singleuser"]
c.Spawner.args = ["--allow-root", "--ServerApp.log_level=INFO", "--MCPExtensionApp.mcp_port=0"]
c.Spawner.start_timeout = 90
c.Spawner.http_timeout = 90
c.Spawner.environment = {{"JUPYTERHUB_ACTIVITY_INTERVAL": "2"}}
c.Spawner.server_token_scopes = [
    "access:servers!server", "users:activity!user",
    "access:services!service={SERVICE}", "read:services!service={SERVICE}",
]
c.JupyterHub.custom_scopes = {{
    "custom:ltt-tutor:instruct": {{"description": "See every learner's tutor record and the dashboard"}},
}}
c.JupyterHub.load_groups = {{"instructors": {{"users": [{INSTRUCTOR!r}]}}}}
c.JupyterHub.load_roles = {roles!r}
c.JupyterHub.services = {services!r}
"""
        self.config_path = tmp / "jupyterhub_config.py"
        self.config_path.write_text(config)
        env = {
            "PATH": os.environ.get("PATH", ""),
            "HOME": str(tmp),
            "LANG": "C.UTF-8",
            # the package from this checkout, in the hub, the service and the learners' servers
            # (PYTHONPATH is in the spawner's env_keep)
            "PYTHONPATH": str(REPO),
            "PYTHONUNBUFFERED": "1",
        }
        self.log_path = tmp / "hub.log"
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "jupyterhub", "-f", str(self.config_path)],
            cwd=tmp,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        self.started_pids: set[int] = set()
        try:
            self.wait_ready()
        except BaseException:
            self.stop()
            raise

    # -- helpers ------------------------------------------------------------------------------------------
    def log_tail(self, n: int = 80) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""

    def remember_pids(self) -> None:
        if alive(self.proc.pid):
            self.started_pids.update(descendants(self.proc.pid))

    def wait_until(self, predicate, timeout: float = 90.0, interval: float = 0.2, what: str = "condition"):
        deadline = time.monotonic() + timeout
        while True:
            value = predicate()
            if value:
                return value
            if self.proc.poll() is not None:
                raise AssertionError(f"the hub exited ({self.proc.returncode}):\n{self.log_tail()}")
            if time.monotonic() > deadline:
                raise AssertionError(f"{what} not met in {timeout}s; hub log:\n{self.log_tail()}")
            time.sleep(interval)

    def wait_ready(self) -> None:
        def ready():
            try:
                r = http("GET", f"{self.url}/hub/api/services/{SERVICE}", self.admin_token, timeout=5)
            except OSError:
                return False
            if r.status != 200:
                return False
            try:
                return http("GET", self.service_url("api/policy"), self.admin_token, timeout=5).status in (
                    403,
                    200,
                )
            except OSError:
                return False

        self.wait_until(ready, timeout=90, what="hub and tutor service ready")
        self.remember_pids()

    def api(self, method: str, path: str, body=None, token: str | None = None) -> HTTPResult:
        return http(method, f"{self.url}/hub/api/{path}", token or self.admin_token, body)

    def service_url(self, path: str = "") -> str:
        return f"{self.url}/services/{SERVICE}/{path}"

    def token_for(self, user: str, scopes: list[str] | None = None) -> str:
        body: dict = {"note": "test"}
        if scopes is not None:
            body["scopes"] = scopes
        r = self.api("POST", f"users/{user}/tokens", body)
        assert r.status in (200, 201), r.body
        return r.json()["token"]

    def server_ready(self, user: str) -> bool:
        r = self.api("GET", f"users/{user}")
        server = (r.json() or {}).get("servers", {}).get("")
        return bool(server and server.get("ready"))

    def start_server(self, *users: str) -> None:
        """Start the users' servers at once and wait until every one is ready."""
        for user in users:
            r = self.api("POST", f"users/{user}/server")
            assert r.status in (201, 202, 400), r.body  # 400: already running
        for user in users:
            self.wait_until(lambda u=user: self.server_ready(u), timeout=120, what=f"{user}'s server ready")
        self.remember_pids()

    def stop_server(self, user: str) -> None:
        r = self.api("DELETE", f"users/{user}/server")
        assert r.status in (202, 204), r.body
        self.wait_until(
            lambda: not self.server_ready(user) and not self.server_pids(user),
            what=f"{user}'s server stopped",
        )

    def server_pids(self, user: str) -> list[int]:
        """The learner's single-user server and its kernels (found by JUPYTERHUB_USER in /proc)."""
        out = []
        for pid in descendants(self.proc.pid):
            try:
                if environ_of(pid).get("JUPYTERHUB_USER") == user and alive(pid):
                    out.append(pid)
            except OSError:
                continue
        return out

    def service_pid(self) -> int:
        return self.api("GET", f"services/{SERVICE}").json()["pid"]

    def user_api(self, user: str, token: str, method: str, endpoint: str, body=None, **query) -> HTTPResult:
        url = f"{self.url}/user/{user}/{endpoint}"
        if query:
            url += "?" + urllib.parse.urlencode(query)
        return http(method, url, token, body)

    def home(self, user: str) -> Path:
        return self.homes / user

    def stop(self) -> None:
        self.remember_pids()
        pids = sorted(self.started_pids)
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)  # the hub's own group: the hub and the proxy
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        # servers, kernels and services run in sessions of their own: each by its PID
        stop_pids([p for p in pids if alive(p)])
        self._log.close()


def write_notebook(path: Path, sources: list[str]) -> None:
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(s, id=f"cell-{i}") for i, s in enumerate(sources)]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
