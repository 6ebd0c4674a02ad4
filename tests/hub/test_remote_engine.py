"""A learner server's Tutor and the course's tutor service in one process, with a stub hub API
(tokens -> users, the service's model) and the fake LLM: the wiring, the fallbacks when the service is
down or refuses, the dashboard reports, and "no hub -> as before". (The real hub: test_course.py.)"""

from __future__ import annotations

import asyncio
import json
import socket

import pytest

pytest.importorskip("jupyterhub")
pytest.importorskip("sqlalchemy")

from tornado import web
from tornado.httpserver import HTTPServer

from ltt_ext.tutor.context import Cell, ErrorInfo, Execution
from ltt_ext.tutor.service import Tutor
from ltt_ext.workspace import normalize_path

ACCESS = "access:services!service=ltt-tutor"
USERS = {
    "tok-alice": {"kind": "user", "name": "alice", "scopes": [ACCESS], "groups": []},
    "tok-ines": {
        "kind": "user",
        "name": "ines",
        "scopes": [ACCESS, "custom:ltt-tutor:instruct"],
        "groups": [],
    },
    "tok-service": {"kind": "service", "name": "ltt-tutor", "scopes": [], "groups": []},
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class StubHub(web.RequestHandler):
    def initialize(self, state):
        self.state = state

    def get(self, what):
        token = self.request.headers.get("Authorization", "").removeprefix("token ")
        if what == "user":
            model = USERS.get(token)
            if model is None:
                raise web.HTTPError(403)
            self.finish(model)
        elif what == "services/ltt-tutor" and self.state["listed"]:
            self.finish({"name": "ltt-tutor", "url": self.state["url"], "prefix": "/services/ltt-tutor/"})
        else:
            raise web.HTTPError(404)


class Workspace:
    normalize_path = staticmethod(normalize_path)

    async def exists(self, path):
        return path.endswith(".ipynb")

    async def kernel_paths(self, kernel_id):
        return ["lesson/nb.ipynb"]

    async def notebook_cells(self, path):
        return [Cell("c1", "code", "numbers = [1, 2]\nnumbers[5]")]

    async def read_text(self, path):
        return "## Solution\nlearner_side_secret()\n" if path.endswith("TUTOR.md") else None


async def finished(tutor: Tutor, msg_id: str):
    for _ in range(1000):
        m = await tutor.store.get(msg_id)
        if m is not None and m.status != "streaming":
            return m
        await asyncio.sleep(0.01)
    raise AssertionError("the reply never finished")


@pytest.fixture
def course(tmp_path, ltt_fake_llm, monkeypatch, jp_asyncio_loop):
    """The stub hub, the tutor service (in this process) and a factory of learner-side Tutors."""
    from jupyterhub.services.auth import HubOAuth

    from ltt_ext.hub.app import TutorServiceApp

    loop = jp_asyncio_loop
    hub_port, svc_port = free_port(), free_port()
    state = {"listed": True, "url": f"http://127.0.0.1:{svc_port}"}
    hub = HTTPServer(web.Application([(r"/hub/api/(.*)", StubHub, {"state": state})]))
    hub.listen(hub_port, "127.0.0.1")
    (tmp_path / "course" / "lesson").mkdir(parents=True)
    (tmp_path / "course" / "lesson" / "TUTOR.md").write_text("Ask about list lengths first, always.\n")
    api = f"http://127.0.0.1:{hub_port}/hub/api"
    for k, v in {
        "JUPYTERHUB_API_URL": api,
        "JUPYTERHUB_API_TOKEN": "tok-service",
        "JUPYTERHUB_SERVICE_NAME": "ltt-tutor",
        "JUPYTERHUB_CLIENT_ID": "service-ltt-tutor",
        "JUPYTERHUB_SERVICE_PREFIX": "/services/ltt-tutor/",
        "JUPYTERHUB_SERVICE_URL": state["url"],
        "JUPYTERHUB_BASE_URL": "/",
    }.items():
        monkeypatch.setenv(k, v)
    HubOAuth.clear_instance()
    app = TutorServiceApp()
    app.initialize(
        [
            f"--TutorServiceApp.db_url=sqlite:///{tmp_path / 'service.sqlite'}",
            f"--TutorServiceApp.course_dir={tmp_path / 'course'}",
            "--TutorServiceApp.model=fake-tutor",
            f"--TutorServiceApp.base_url={ltt_fake_llm.base_url}",
            "--TutorServiceApp.api_key=sk-course",
            "--TutorServiceApp.max_retries=0",
            "--TutorServiceApp.requests_per_minute=3",
            "--TutorServiceApp.stuck_errors=2",
        ]
    )
    loop.run_until_complete(app.store.open())
    service = HTTPServer(app.make_app())
    service.listen(svc_port, "127.0.0.1")
    tutors: list[Tutor] = []

    def learner(token: str = "tok-alice", **kw) -> Tutor:
        monkeypatch.setenv("JUPYTERHUB_API_TOKEN", token)
        kw = {"db_path": str(tmp_path / f"learner{len(tutors)}.db"), "hub_busy_report": 0.05, **kw}
        t = Tutor(workspace=Workspace(), **kw)
        tutors.append(t)
        return t

    yield app, learner, service, state
    for t in tutors:
        loop.run_until_complete(t.stop())
    service.stop()
    hub.stop()
    loop.run_until_complete(app.store.close())
    HubOAuth.clear_instance()


def failed(code: str = "numbers[5]") -> Execution:
    ex = Execution("k1", "m1", code=code, execution_count=3, cell_id="c1", path="lesson/nb.ipynb")
    ex.error = ErrorInfo(
        "IndexError", "list index out of range", ["Cell In[3], line 1", "IndexError: list index out of range"]
    )
    return ex


async def test_the_learner_server_uses_the_course_service(course, ltt_fake_llm):
    app, learner, _, _ = course
    # the learner's own settings say otherwise: ignored
    t = learner(model="learner-model", allow_solutions=True, requests_per_minute=0, api_key="learner-key")
    await t.start()
    info = t.info()
    assert (
        info["service"] == "ltt-tutor" and info["model"] == "fake-tutor" and info["allow_solutions"] is False
    )
    _, reply = await t.ask("lesson/nb.ipynb", "Why does numbers[5] fail?")
    reply = await finished(t, reply.id)
    assert reply.engine == "llm" and reply.model == "fake-tutor" and reply.text == ltt_fake_llm.default_reply
    assert ltt_fake_llm.requests[0]["model"] == "fake-tutor"
    prompt = ltt_fake_llm.prompts[0]
    assert "Ask about list lengths first" in prompt  # the course folder's notes
    assert "learner_side_secret" not in prompt and "Never give" in prompt
    rows = await app.store.records(learner="alice")
    assert [(r["kind"], r["status"], r["text"]) for r in rows] == [
        ("answer", "done", ltt_fake_llm.default_reply)
    ]
    assert rows[0]["path"] == "lesson/nb.ipynb" and rows[0]["question"] == "Why does numbers[5] fail?"


async def test_hints_reports_and_the_budget(course, ltt_fake_llm):
    app, learner, _, _ = course
    t = learner()
    await t.start()
    ctx = t.context("lesson/nb.ipynb")
    ex = failed()
    ctx.record(ex)
    t.hub.execution(ex, "lesson/nb.ipynb", None)  # what _finished does for every execution
    reply = await t._hint("lesson/nb.ipynb", ex, 2, "server", consent=False)
    reply = await finished(t, reply.id)
    assert reply.engine == "llm" and reply.level == 1  # the service's ladder: no level 2 before a 1
    ok = Execution("k1", "m2", code="numbers[1]", execution_count=4, cell_id="c1")
    t.hub.execution(ok, "lesson/nb.ipynb", None)
    t.hub.kernel_state("lesson/nb.ipynb", None, "busy")

    async def reported():
        rows = await app.store.records(learner="alice", kinds=("error", "fixed"))
        act = await app.store.activity("alice")
        return len(rows) == 2 and act and act[0]["busy_since"] is not None

    for _ in range(500):
        if await reported():
            break
        await asyncio.sleep(0.01)
    assert await reported()
    t.hub.kernel_state("lesson/nb.ipynb", None, "idle")
    for _ in range(500):
        act = await app.store.activity("alice")
        if act[0]["busy_since"] is None:
            break
        await asyncio.sleep(0.01)
    assert act[0]["busy_since"] is None
    # requests_per_minute=3 on the service: the 4th is refused there, with the offline tutor's help
    for _ in range(2):
        _, r = await t.ask("lesson/nb.ipynb", "and now?")
        assert (await finished(t, r.id)).engine == "llm"
    _, r = await t.ask("lesson/nb.ipynb", "and now?")
    r = await finished(t, r.id)
    assert r.engine == "builtin" and r.status == "done"
    notices = [m.text for m in await t.messages("lesson/nb.ipynb") if m.kind == "notice"]
    assert any("3 questions per minute" in n for n in notices)


async def test_a_service_that_is_down_degrades_to_the_builtin_tutor(course, ltt_fake_llm):
    _, learner, service, _ = course
    t = learner()
    await t.start()
    service.stop()
    await service.close_all_connections()
    _, reply = await t.ask("lesson/nb.ipynb", "hello?")
    reply = await finished(t, reply.id)
    assert reply.status == "done" and reply.engine == "builtin"
    assert "unavailable right now" in reply.text and "could not be reached" in reply.text
    assert t.info()["service_available"] is False
    assert ltt_fake_llm.requests == []


async def test_without_a_hub_or_when_auto_finds_none_the_servers_settings_apply(course, monkeypatch):
    _, learner, _, state = course
    state["listed"] = False
    t = learner(model="local-model")  # auto: the hub lists no ltt-tutor
    await t.start()
    assert t.hub is None and t.info()["model"] == "local-model" and "service" not in t.info()
    named = learner(hub_service="ltt-tutor")  # named: never this server's own LLM settings
    await named.start()
    assert named.hub is not None
    _, reply = await named.ask("lesson/nb.ipynb", "hello?")
    reply = await finished(named, reply.id)
    assert reply.engine == "builtin" and "cannot be found" in reply.text
    monkeypatch.delenv("JUPYTERHUB_API_URL")
    plain = learner(model="local-model")
    assert plain.hub is None and plain.info()["engine"] == "llm"


async def test_the_service_refuses_what_the_panel_could_not_do(course):
    """Service tokens are not learners; cookie-less writes only; the instructor's view is scoped."""
    from tornado.httpclient import AsyncHTTPClient, HTTPRequest

    _, _, _, state = course
    client = AsyncHTTPClient()
    base = state["url"] + "/services/ltt-tutor/"

    async def call(method, path, token, body=None):
        req = HTTPRequest(
            base + path,
            method=method,
            headers={"Authorization": f"token {token}"} if token else {},
            body=json.dumps(body) if body is not None else None,
        )
        r = await client.fetch(req, raise_error=False)
        return r.code, r.body

    assert (await call("GET", "api/policy", "tok-service"))[0] == 403
    assert (await call("GET", "api/policy", "nope"))[0] == 403
    assert (await call("GET", "api/dashboard", "tok-alice"))[0] == 403
    assert (await call("GET", "api/dashboard", "tok-ines"))[0] == 200
    assert (await call("POST", "api/tutor/events", "tok-alice", {"type": "delete"}))[0] == 400
    assert (
        await call("POST", "api/tutor/events", "tok-alice", {"type": "busy", "path": "a.ipynb", "since": "x"})
    )[0] == 400
    code, body = await call("GET", "api/dashboard/export.csv", "tok-ines")
    assert code == 200 and body.decode().startswith("created,learner")


async def test_the_dashboard_endpoints_in_process(course):
    """The page, filters, the live stream, the records API's scoping (the browser test drives the page)."""
    import httpx

    app, learner, _, state = course
    base = state["url"] + "/services/ltt-tutor/"
    t = learner()
    await t.start()
    ex = failed()
    t.hub.execution(ex, "lesson/nb.ipynb", None)
    async with httpx.AsyncClient(timeout=10) as client:
        ines, alice = {"Authorization": "token tok-ines"}, {"Authorization": "token tok-alice"}
        page = await client.get(base, headers=ines)
        assert page.status_code == 200 and "Tutor dashboard" in page.text and "fake-tutor" in page.text
        refused = await client.get(base, headers=alice)
        assert refused.status_code == 403 and "not an instructor" in refused.text
        assert (await client.get(base + "api/records?learner=ines", headers=alice)).status_code == 403
        assert (await client.get(base + "api/dashboard?since=abc", headers=ines)).status_code == 400
        async with client.stream("GET", base + "api/dashboard/stream", headers=ines) as stream:
            assert stream.status_code == 200
            lines = stream.aiter_lines()
            assert (await lines.__anext__()).startswith("retry:")
            t.hub.execution(failed("numbers[9]"), "lesson/nb.ipynb", None)
            async for line in lines:
                if line.startswith("event: changed"):
                    break
        for _ in range(200):
            rows = await app.store.records(learner="alice", kinds=("error",))
            if len(rows) == 2:
                break
            await asyncio.sleep(0.01)
        query = "api/dashboard?lesson=lesson&notebook=lesson/nb.ipynb&ename=IndexError&learner=alice&since=0"
        data = (await client.get(base + query, headers=ines)).json()
        assert data["families"] == [
            {"ename": "IndexError", "count": 2, "learners": 1, "last": data["families"][0]["last"]}
        ]
        assert (
            data["stuck"] and data["stuck"][0]["learner"] == "alice"
        )  # the same error twice (stuck_errors=2)
        mine = (await client.get(base + "api/records?kind=error", headers=alice)).json()["records"]
        assert len(mine) == 2 and {r["learner"] for r in mine} == {"alice"}


def test_generate_config_writes_every_option(tmp_path, monkeypatch):
    from ltt_ext.hub.app import TutorServiceApp

    monkeypatch.chdir(tmp_path)
    app = TutorServiceApp()
    app.initialize(["--generate-config"])
    app.start()
    text = (tmp_path / "ltt_tutor_service_config.py").read_text()
    for option in (
        "db_url",
        "course_dir",
        "allow_solutions",
        "tokens_per_hour",
        "instructor_scope",
        "stuck_errors",
    ):
        assert f"# c.TutorServiceApp.{option} =" in text
    assert "api_key = None" in text or "# c.TutorServiceApp.api_key" in text


async def test_the_service_serves_and_stops(tmp_path, monkeypatch):
    """serve(): the store opened (schema created), the API answering, a clean stop."""
    import httpx
    from jupyterhub.services.auth import HubOAuth

    from ltt_ext.hub.app import TutorServiceApp

    port = free_port()
    monkeypatch.setenv("JUPYTERHUB_API_URL", "http://127.0.0.1:9/hub/api")
    monkeypatch.setenv("JUPYTERHUB_CLIENT_ID", "service-ltt-tutor")
    monkeypatch.setenv("JUPYTERHUB_SERVICE_NAME", "ltt-tutor")
    HubOAuth.clear_instance()
    app = TutorServiceApp()
    app.initialize([f"--url=http://127.0.0.1:{port}", f"--db-url=sqlite:///{tmp_path / 's.sqlite'}"])
    task = asyncio.ensure_future(app.serve(signals=False))
    try:
        async with httpx.AsyncClient(timeout=5) as client:
            for _ in range(500):
                try:
                    r = await client.get(f"http://127.0.0.1:{port}/services/ltt-tutor/api/policy")
                    break
                except httpx.ConnectError:
                    await asyncio.sleep(0.01)
        assert r.status_code == 403  # no token
        assert "ltt_records" in app.store.tables() and app.policy()["engine"] == "builtin"
    finally:
        assert app.stopping is not None
        app.stopping.set()
        await asyncio.wait_for(task, 10)
        HubOAuth.clear_instance()
    assert app.store.closed
