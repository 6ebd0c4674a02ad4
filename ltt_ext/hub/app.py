"""``ltt-tutor-service``: the tutor as a JupyterHub service.

It holds what a learner must not touch: the LLM endpoint and key, the course policy
(``allow_solutions``, budgets, consent), the instructor notes (a course folder on the hub side), each
learner's persistent budget and the record of every hint and question. Learner servers send it
structured context (:mod:`ltt_ext.hub.protocol`) with their hub token; it builds the prompt, enforces
the policy and the budget, streams the answer back, and records it. Instructors get a dashboard at
``/services/<name>/``. Configuration: ``ltt_tutor_service_config.py`` (``c.TutorServiceApp.*``), or
the command line; see docs/deploy-course.md.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import signal
from urllib.parse import urlparse

from tornado import web
from tornado.httpserver import HTTPServer
from traitlets import Bool, Float, Int, Set, Unicode, default
from traitlets.config import Application, catch_config_error

from ..llm import OpenAIProvider
from ..llm.settings import LLMSettings
from ..tutor import instructor
from ..tutor.budget import Budget, Spending
from ..tutor.engines.llm import LLMEngine
from .store import HubStore

HERE = os.path.dirname(os.path.abspath(__file__))


class TutorServiceApp(Application, LLMSettings):
    """The course's tutor, run by JupyterHub as a service."""

    name = "ltt-tutor-service"
    description = __doc__
    config_file_name = Unicode("ltt_tutor_service_config.py", config=True, help="The config file to load.")

    # -- where it runs ----------------------------------------------------------------------------
    service_name = Unicode(config=True, help="The hub service's name (default: $JUPYTERHUB_SERVICE_NAME).")
    url = Unicode(
        config=True,
        help="Where to listen, e.g. http://127.0.0.1:10101 (default: $JUPYTERHUB_SERVICE_URL, set by the hub).",
    )
    prefix = Unicode(
        config=True, help="URL prefix (default: $JUPYTERHUB_SERVICE_PREFIX, else /services/<name>/)."
    )
    cookie_secret_file = Unicode(
        "",
        config=True,
        help="A file with the secret that signs login cookies (default: a new one per start).",
    )

    @default("log_level")
    def _default_log_level(self):
        return logging.INFO

    @default("service_name")
    def _default_name(self):
        return os.environ.get("JUPYTERHUB_SERVICE_NAME", "ltt-tutor")

    @default("url")
    def _default_url(self):
        return os.environ.get("JUPYTERHUB_SERVICE_URL", "http://127.0.0.1:10101")

    @default("prefix")
    def _default_prefix(self):
        return os.environ.get("JUPYTERHUB_SERVICE_PREFIX", f"/services/{self.service_name}/")

    # -- storage and course material ---------------------------------------------------------------
    db_url = Unicode(
        "sqlite:///ltt_tutor_service.sqlite",
        config=True,
        help="SQLAlchemy URL of the service's store: SQLite (default, a file in the working directory) "
        "or PostgreSQL (postgresql+psycopg://user:pass@host/db).",
    )
    course_dir = Unicode(
        "",
        config=True,
        help="The course folder on the hub side, laid out like the learners' notebook folders: "
        "instructor notes (TUTOR.md, <notebook>.tutor.md) and solutions. Learners never reach it.",
    )
    instructor_file = Unicode(
        "TUTOR.md", config=True, help="Name of the instructor notes file in course_dir."
    )
    instructor_scope = Unicode(
        "custom:ltt-tutor:instruct",
        config=True,
        help="The hub scope (c.JupyterHub.custom_scopes) that opens the dashboard and every learner's record.",
    )
    instructor_groups = Set(
        Unicode(),
        config=True,
        help="Hub groups whose members are instructors too (the scope is the recommended way).",
    )

    # -- the LLM (never leaves this process): ltt_ext.llm.settings.LLMSettings, c.TutorServiceApp.model…
    @default("concurrency")
    def _default_concurrency(self):
        return 8  # one service for the whole course

    # -- the course policy (learners' c.Tutor.* cannot change it) ------------------------------------
    allow_solutions = Bool(False, config=True, help="Let the tutor show corrected code when asked.")
    consent_required = Bool(
        False, config=True, help="Only send notebook content to the LLM with the learner's consent."
    )
    tokens_per_hour = Int(50_000, config=True, help="LLM tokens per learner per hour (0: unlimited).")
    requests_per_minute = Int(
        10, config=True, help="LLM requests (hints and questions) per learner per minute (0: unlimited)."
    )
    context_tokens = Int(3000, config=True, help="Token budget of the notebook context in a prompt.")
    history_executions = Int(20, config=True, help="Executions of a request's context kept.")

    # -- the dashboard -------------------------------------------------------------------------------
    record_errors = Bool(
        True, config=True, help="Record the errors learner servers report (ename, message; no code)."
    )
    stuck_errors = Int(3, config=True, help="Errors of one family in one notebook that mean 'stuck'.")
    stuck_window = Float(600.0, config=True, help="Seconds in which those errors count.")
    long_run = Float(120.0, config=True, help="Seconds of a running cell that mean 'stuck'.")

    aliases = {
        "config": "TutorServiceApp.config_file_name",
        "db-url": "TutorServiceApp.db_url",
        "course-dir": "TutorServiceApp.course_dir",
        "url": "TutorServiceApp.url",
        "log-level": "Application.log_level",
    }
    flags = {
        "generate-config": (
            {"TutorServiceApp": {"generate_config": True}},
            "Write ltt_tutor_service_config.py with every option, commented out, and exit.",
        )
    }
    generate_config = Bool(False, config=True, help="Write the default config file and exit.")

    # ----------------------------------------------------------------------------------------------
    @catch_config_error
    def initialize(self, argv=None):
        super().initialize(argv)
        if self.generate_config:
            return
        if self.config_file_name and os.path.exists(self.config_file_name):
            self.load_config_file(self.config_file_name)
            self.update_config(self.cli_config)  # the command line wins
        if not self.prefix.endswith("/"):
            self.prefix += "/"
        self.store = HubStore(self.db_url)
        self.budget = Budget(self.tokens_per_hour, self.requests_per_minute)
        self.spending = Spending(self.budget, lambda: self.store, log=self.log)
        self._provider = None
        self.llm_engine = LLMEngine.configured(self, self.provider, self.spending.record_tokens)
        self.listeners = set()

    _provider: OpenAIProvider | None = None
    listeners: set[asyncio.Queue] = set()

    def provider(self) -> OpenAIProvider:
        if self._provider is None:
            self._provider = self.make_provider()
        return self._provider

    def policy(self) -> dict:
        """What learners (and their servers) may know: the policy, never a key or an endpoint."""
        return {
            "service": self.service_name,
            "engine": "llm" if self.model else "builtin",
            "model": self.model or None,
            "allow_solutions": self.allow_solutions,
            "consent_required": self.consent_required and bool(self.model),
            "tokens_per_hour": self.tokens_per_hour,
            "requests_per_minute": self.requests_per_minute,
        }

    def notes(self, path: str) -> instructor.InstructorNotes | None:
        """The instructor notes for a learner's notebook, from the course folder only."""
        if not self.course_dir or not self.instructor_file:
            return None
        for candidate in instructor.candidate_paths(path, self.instructor_file):
            text = instructor.read_private(self.course_dir, candidate)
            if text:
                return instructor.parse(candidate, text)
        return None

    def changed(self, event: dict) -> None:
        """Tell every open dashboard that something changed (it fetches what it shows)."""
        for q in list(self.listeners):
            try:
                q.put_nowait(event)
            except asyncio.QueueFull:
                pass

    def cookie_secret(self) -> bytes:
        if self.cookie_secret_file:
            with open(self.cookie_secret_file, "rb") as f:
                return f.read().strip()
        return secrets.token_bytes(32)

    def make_app(self) -> web.Application:
        from jupyterhub.services.auth import HubOAuth, HubOAuthCallbackHandler

        from . import handlers

        # the singleton: HubOAuthCallbackHandler finds the OAuth state (PKCE verifier) there
        hub_auth = HubOAuth.instance(parent=self, cache_max_age=60)
        p = self.prefix
        return web.Application(
            [
                (p, handlers.DashboardHandler),
                (p + "oauth_callback", HubOAuthCallbackHandler),
                (p + "api/policy", handlers.PolicyHandler),
                (p + "api/tutor/produce", handlers.ProduceHandler),
                (p + "api/tutor/events", handlers.ReportHandler),
                (p + "api/records", handlers.RecordsHandler),
                (p + "api/dashboard", handlers.SummaryHandler),
                (p + "api/dashboard/stream", handlers.StreamHandler),
                (p + "api/dashboard/export.csv", handlers.ExportHandler),
                (p + r"static/(.*)", web.StaticFileHandler, {"path": os.path.join(HERE, "static")}),
            ],
            service=self,
            hub_auth=hub_auth,
            cookie_secret=self.cookie_secret(),
            template_path=os.path.join(HERE, "templates"),
            static_url_prefix=p + "static/",
            static_path=os.path.join(HERE, "static"),
        )

    stopping: asyncio.Event | None = None

    async def serve(self, signals: bool = True) -> None:
        """Open the store (upgrading its schema), listen, and serve until SIGTERM/SIGINT (or ``stopping``)."""
        before, after = await self.store.open()
        if before != after:
            self.log.info("ltt tutor service: store schema upgraded from version %d to %d", before, after)
        n = await self.store.mark_interrupted()
        if n:
            self.log.info("ltt tutor service: closed %d answers left streaming by a previous run", n)
        u = urlparse(self.url)
        server = HTTPServer(self.make_app(), xheaders=True)
        server.listen(u.port or 80, u.hostname or "127.0.0.1")
        self.log.info(
            "ltt tutor service %r on %s%s: %s, course folder %s, store %s",
            self.service_name,
            self.url.rstrip("/"),
            self.prefix,
            f"LLM {self.model}" if self.model else "no LLM (learner servers use their built-in tutor)",
            self.course_dir or "(none)",
            self.db_url.split("@")[-1],  # never log a database password
        )
        self.stopping = asyncio.Event()
        if signals:
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(sig, self.stopping.set)
        await self.stopping.wait()
        server.stop()
        await server.close_all_connections()
        for q in list(self.listeners):
            q.put_nowait(None)
        if self._provider is not None:
            await self._provider.close()
        await self.store.close()

    def start(self):
        if self.generate_config:
            with open(self.config_file_name, "w") as f:
                f.write(self.generate_config_file())
            print(f"Wrote {self.config_file_name}")
            return
        asyncio.run(self.serve())


def main(argv=None) -> None:
    app = TutorServiceApp()
    app.initialize(argv)
    app.start()


if __name__ == "__main__":
    main()
