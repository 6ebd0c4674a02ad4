"""Browser tests: a real `jupyter lab` subprocess with ltt-ext, the tutor on a local fake
OpenAI-compatible server, driven by Playwright through Debian's headless Chromium.

Nothing is downloaded: Playwright gets `executable_path=/usr/bin/chromium`. Without that
binary the tests are skipped with a clear reason (`make test` installs it).
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import nbformat
import pytest

from ltt_ext.fake_llm import FakeLLMThread
from ltt_ext.testing import CHROMIUM, CHROMIUM_ARGS, MCP_ANY_PORT

REPO = Path(__file__).resolve().parents[2]
DOCS = REPO / "docs"


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "browser: drives a real JupyterLab in headless Chromium (needs /usr/bin/chromium)"
    )


def pytest_collection_modifyitems(config, items):
    if os.path.exists(CHROMIUM):
        return
    skip = pytest.mark.skip(reason=f"{CHROMIUM} is missing: install Debian's chromium (make test-deps does)")
    for item in items:
        if "browser" in item.keywords:
            item.add_marker(skip)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """A failed browser test reports the tail of its `jupyter lab` log: CI keeps nothing else."""
    outcome = yield
    report = outcome.get_result()
    for name in ("lab", "notebook7"):
        server = getattr(item, "funcargs", {}).get(name)
        if report.failed and isinstance(server, LabServer):
            report.sections.append((f"{server.app} log (tail)", server.log_tail(80)))


@pytest.fixture(autouse=True)
def jp_asyncio_loop():
    """Overrides pytest-jupyter's autouse loop (see below)."""
    yield None


@pytest.fixture(autouse=True)
def jp_server_cleanup():
    """pytest-jupyter's autouse cleanup wants an asyncio loop of the main thread, where
    Playwright's sync API already runs one; these tests run no in-process server anyway."""
    yield


# -- the fake LLM, served from a background thread for the whole module ------------------------


class FakeLLMServer(FakeLLMThread):
    """The fake OpenAI-compatible server (ltt_ext.fake_llm), reset between tests."""

    def reset(self, **attrs):
        llm = self.llm
        llm.replies.clear()
        llm.requests.clear()
        llm.mode = "ok"
        llm.delay = 0.0
        llm.token_delay = 0.0
        llm.default_reply = "Look closely at the line the arrow points to."
        for k, v in attrs.items():
            setattr(llm, k, v)


@pytest.fixture(scope="module")
def fake_llm():
    server = FakeLLMServer()
    yield server
    server.close()


# -- a real jupyter lab -------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _children(pid: int) -> list[int]:
    """Direct children of a process (from /proc; the kernels of a Jupyter server)."""
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            if int(fields[1]) == pid:
                out.append(int(entry))
        except (OSError, IndexError, ValueError):
            continue
    return out


def _kill_group(pid: int, sig: int) -> None:
    try:
        os.killpg(os.getpgid(pid), sig)
    except (ProcessLookupError, PermissionError):
        try:
            os.kill(pid, sig)
        except (ProcessLookupError, PermissionError):
            pass


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


class LabServer:
    def __init__(self, tmp: Path, llm_url: str, extra_args: list[str] | None = None, app: str = "jupyterlab"):
        # app: "jupyterlab", or "notebook" for Notebook 7 (same server, same options, its own app class).
        self.app = app
        app_class = "JupyterNotebookApp" if app == "notebook" else "LabApp"
        self.tmp = tmp
        self.root = tmp / "root"
        self.root.mkdir()
        self.port = _free_port()
        self.token = secrets.token_hex(16)
        self.url = f"http://127.0.0.1:{self.port}"
        settings_dir = tmp / "app-settings"
        settings_dir.mkdir()
        (settings_dir / "overrides.json").write_text(
            json.dumps(
                {
                    "@jupyterlab/apputils-extension:notification": {
                        "fetchNews": "false",
                        "checkForUpdates": False,
                    },
                }
            )
        )
        env = dict(os.environ)
        for name in (
            "JUPYTER_CONFIG_DIR",
            "JUPYTER_DATA_DIR",
            "JUPYTER_RUNTIME_DIR",
            "XDG_CONFIG_HOME",
            "XDG_CACHE_HOME",
            "IPYTHONDIR",
        ):
            d = tmp / name.lower()
            d.mkdir()
            env[name] = str(d)
        env.pop("JUPYTER_PATH", None)
        env["PYTHONUNBUFFERED"] = "1"
        cmd = [
            sys.executable,
            "-m",
            app,  # this interpreter's lab (or notebook), whatever is on PATH
            "--no-browser",
            "--ServerApp.ip=127.0.0.1",
            f"--ServerApp.port={self.port}",
            "--ServerApp.port_retries=0",
            MCP_ANY_PORT,
            f"--IdentityProvider.token={self.token}",
            f"--ServerApp.root_dir={self.root}",
            f"--{app_class}.app_settings_dir={settings_dir}",
            f"--{app_class}.expose_app_in_browser=True",
            f"--BaseFileIdManager.db_path={tmp / 'file_id.db'}",
            f"--Tutor.base_url={llm_url}",
            "--Tutor.model=fake-tutor",
            "--Tutor.api_key=sk-test-secret-key",
            "--Tutor.timeout=20",
            "--Tutor.max_retries=0",
            f"--Tutor.db_path={tmp / 'tutor.sqlite'}",
            "--Tutor.proactive_delay=0.05",
            "--Tutor.proactive_interval=0",
            "--Tutor.requests_per_minute=0",
            "--Tutor.tokens_per_hour=0",
        ]
        # Later options of the same name replace the defaults (traitlets refuses duplicates).
        for extra in extra_args or []:
            name = extra.split("=", 1)[0]
            cmd = [a for a in cmd if a.split("=", 1)[0] != name]
            cmd.append(extra)
        if os.getuid() == 0:
            cmd.append("--allow-root")
        self.log_path = tmp / "lab.log"
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            cmd,
            cwd=self.root,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            self._wait_ready()
        except BaseException:
            self.stop()  # the fixture never gets to: a lab that failed to start is stopped here
            raise

    def log_tail(self, n: int = 60) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""

    def _wait_ready(self, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"jupyter lab exited with {self.proc.returncode}:\n{self.log_tail()}")
            if "ltt_ext | extension failed" in self.log_path.read_text(errors="replace"):
                raise RuntimeError(f"ltt_ext did not load:\n{self.log_tail(120)}")
            try:
                self.api("GET", "api/status")
                self.api("GET", "ltt/api/tutor/info")
                return
            except (OSError, urllib.error.URLError):
                time.sleep(0.2)
        raise RuntimeError(f"jupyter lab did not answer in {timeout}s:\n{self.log_tail()}")

    def api(self, method: str, endpoint: str, body: dict | None = None, **query) -> dict:
        url = f"{self.url}/{endpoint}"
        if query:
            url += "?" + urllib.parse.urlencode(query)
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(
            url,
            data=data,
            method=method,
            headers={"Authorization": f"token {self.token}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(req, timeout=30) as r:
            text = r.read()
        return json.loads(text) if text else {}

    def history(self, path: str) -> list[dict]:
        return self.api("GET", "ltt/api/tutor/history", path=path)["messages"]

    def lab_url(self, path: str | None = None) -> str:
        base = f"{self.url}/lab"
        if path:
            base += "/tree/" + urllib.parse.quote(path)
        return f"{base}?token={self.token}&reset"

    def notebook_url(self, path: str) -> str:
        """Notebook 7's page for one notebook (a server started with app="notebook")."""
        return f"{self.url}/notebooks/{urllib.parse.quote(path)}?token={self.token}"

    def write_notebook(self, name: str, sources: list[str]) -> str:
        nb = nbformat.v4.new_notebook()
        nb.cells = [nbformat.v4.new_code_cell(src, id=f"cell-{i}") for i, src in enumerate(sources)]
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        nbformat.write(nb, self.root / name)
        return name

    def read_notebook(self, name: str, timeout: float = 10.0):
        """The notebook on disk (retried while the server is half-way through writing it)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                return nbformat.read(self.root / name, as_version=4)
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    def stop(self) -> None:
        pid = self.proc.pid
        kernels = _children(pid)
        for k in kernels:
            kernels.extend(c for c in _children(k) if c not in kernels)
        if self.proc.poll() is None:
            _kill_group(pid, signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                _kill_group(pid, signal.SIGKILL)
                self.proc.wait(10)
        # The server shuts its kernels down on SIGTERM; whatever is left gets the same treatment.
        for k in kernels:
            if _alive(k):
                _kill_group(k, signal.SIGTERM)
        deadline = time.monotonic() + 5
        while any(_alive(k) for k in kernels) and time.monotonic() < deadline:
            time.sleep(0.1)
        for k in kernels:
            if _alive(k):
                _kill_group(k, signal.SIGKILL)
        self._log.close()


@pytest.fixture(scope="module")
def lab(request, tmp_path_factory, fake_llm):
    """The module's `jupyter lab` (extra command-line options: the module's LAB_ARGS)."""
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"{CHROMIUM} is missing: install Debian's chromium (make test-deps does)")
    extra = list(getattr(request.module, "LAB_ARGS", []))
    server = LabServer(tmp_path_factory.mktemp("lab"), fake_llm.llm.base_url, extra)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def notebook7(request, tmp_path_factory, fake_llm):
    """The module's Notebook 7 server (`python -m notebook`; extra options: the module's LAB_ARGS)."""
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"{CHROMIUM} is missing: install Debian's chromium (make test-deps does)")
    pytest.importorskip(
        "notebook", minversion="7", reason="Notebook 7 is not installed (the test extra has it)"
    )
    extra = list(getattr(request.module, "LAB_ARGS", []))
    server = LabServer(tmp_path_factory.mktemp("nb7"), fake_llm.llm.base_url, extra, app="notebook")
    yield server
    server.stop()


@pytest.fixture(scope="module")
def playwright_driver():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        yield p


@pytest.fixture
def open_browser(playwright_driver, tmp_path):
    """Factory: a fresh persistent Chromium context (closed at teardown if the test did not)."""
    contexts = []

    def _open(width: int = 1400, height: int = 900):
        profile = tmp_path / f"profile-{len(contexts)}"
        ctx = playwright_driver.chromium.launch_persistent_context(
            str(profile),
            executable_path=CHROMIUM,
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": width, "height": height},
            color_scheme="light",
        )
        ctx.set_default_timeout(60_000)
        contexts.append(ctx)
        return ctx

    yield _open
    for ctx in contexts:
        try:
            ctx.close()
        except Exception:  # already closed by the test
            pass


@pytest.fixture
def docs_dir() -> Path:
    return DOCS
