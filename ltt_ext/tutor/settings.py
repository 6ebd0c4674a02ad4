"""The tutor's configuration (``c.Tutor.*``): every setting in one place, documented in the README.

:class:`~ltt_ext.tutor.service.Tutor` inherits these; it holds the behaviour. Kept apart so the
service module reads as what the tutor *does*.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any, Protocol, runtime_checkable

from traitlets import Bool, Enum, Float, Instance, Int, Unicode, default

from ..llm.settings import LLMSettings
from .context import Cell


@runtime_checkable
class Workspace(Protocol):
    """What the tutor needs from the server (:class:`ltt_ext.workspace.ServerWorkspace`; the unit tests
    use an in-memory one). Optional extras, looked up with ``getattr``: ``file_id(path)``, ``event_logger``,
    ``user_expressions(kernel_id, expressions, timeout)``."""

    def normalize_path(self, path: str) -> str: ...

    async def exists(self, path: str) -> bool: ...

    async def kernel_paths(self, kernel_id: str) -> Iterable[str]: ...

    async def notebook_cells(self, path: str) -> Iterable[Cell | dict[str, Any]] | None: ...

    async def read_text(self, path: str) -> str | None: ...


class TutorSettings(LLMSettings):
    """The tutor's settings; configure them as ``c.Tutor.<name>``."""

    enabled = Bool(
        True, config=True, help="Run the tutor at all (off: not attached to kernels, its API answers 503)."
    )

    # -- engine -------------------------------------------------------------------------------------
    engine = Enum(
        ["auto", "builtin", "llm"],
        "auto",
        config=True,
        help="'auto': the LLM when `model` is set, else the built-in offline engine.",
    )

    # -- pedagogy -----------------------------------------------------------------------------------
    allow_solutions = Bool(False, config=True, help="Allow the tutor to show corrected code when asked.")
    instructor_file = Unicode(
        "TUTOR.md",
        config=True,
        help="Instructor notes looked up beside the notebook, then in parent folders. Never sent to browsers; "
        "sections titled 'Solution'/'Answer' never leave the server.",
    )
    instructor_dir = Unicode(
        "",
        config=True,
        help="A folder OUTSIDE the server root mirroring the notebooks' folders, searched first for instructor "
        "notes (learners can open files inside the root with Jupyter itself, not these).",
    )
    context_tokens = Int(3000, config=True, help="Token budget of the notebook context in a prompt.")
    history_executions = Int(20, config=True, help="Executions remembered per notebook.")
    consent_required = Bool(
        False,
        config=True,
        help="Only send notebook content to the LLM when the request carries consent (front end asks the learner).",
    )

    # -- proactive hints ----------------------------------------------------------------------------
    proactive = Bool(True, config=True, help="Give a hint on its own when a cell raises.")
    proactive_delay = Float(
        0.0,
        config=True,
        help="0: hint as soon as a cell fails (proactive_interval keeps it to one per burst). "
        "> 0: wait until an error burst has been quiet this long and hint about its last error.",
    )
    proactive_interval = Float(
        15.0,
        config=True,
        help="At most one proactive hint per error (notebook + cell code + error) per this many seconds; "
        "a different error gets its own hint at once.",
    )
    runtime_facts = Bool(
        True,
        config=True,
        help="Read what the learner's values are (type, length, keys, shape, columns) from the idle kernel "
        "with a silent user_expressions request, for hints that say it. Never runs learner code "
        "(see ltt_ext.tutor.facts).",
    )
    facts_timeout = Float(
        0.5, config=True, help="Seconds to wait for the kernel's runtime facts before hinting without them."
    )

    # -- budget -------------------------------------------------------------------------------------
    tokens_per_hour = Int(50_000, config=True, help="LLM tokens per learner per hour (0: unlimited).")
    requests_per_minute = Int(
        10, config=True, help="LLM questions (ask/more) per learner per minute (0: unlimited)."
    )
    budget_scope = Enum(
        ["server", "user"],
        "server",
        config=True,
        help="Who a budget belongs to. 'server': one learner per server (JupyterHub, a laptop; token-authenticated "
        "requests get a fresh anonymous identity each, so per-user would be bypassable); 'user': per username, "
        "for shared servers with real identities.",
    )

    # -- runaway cells (ltt_ext.tutor.watchdog) ----------------------------------------------------
    watchdog = Bool(
        True, config=True, help="Tell the learner when a cell runs away (silent too long, or flooding)."
    )
    watchdog_silence = Float(
        30.0,
        config=True,
        help="Seconds a cell may run without any output before the tutor says so (0: never).",
    )
    watchdog_lines_per_second = Float(
        2000.0, config=True, help="Output lines per second that count as a flood (0: lines are not counted)."
    )
    watchdog_bytes_per_second = Float(
        1_000_000.0,
        config=True,
        help="Output bytes per second that count as a flood (0: bytes are not counted).",
    )
    watchdog_flood_seconds = Float(
        3.0, config=True, help="Seconds a flood must last before the tutor says so."
    )
    watchdog_interval = Float(
        1.0, config=True, help="Seconds between the watchdog's checks of running cells."
    )
    interrupt_button = Bool(
        True,
        config=True,
        help="Offer Interrupt on the tutor's runaway-cell messages (the learner's click is their permission). "
        "Off: the tutor only warns, and POST /ltt/api/tutor/interrupt answers 403.",
    )
    auto_interrupt_after = Float(
        0.0,
        config=True,
        help="Course policy: interrupt a cell the watchdog flagged once it has run this many seconds "
        "(0: never; the learner always can).",
    )

    # -- the course's tutor service on JupyterHub (ltt_ext.hub, docs/deploy-course.md) -------------
    hub_service = Unicode(
        "auto",
        config=True,
        help="Under JupyterHub, the hub service that answers LLM-bound work (its key, policy, notes and "
        "budgets win over this server's c.Tutor.* settings, which are then ignored). 'auto': the service "
        "'ltt-tutor' if the hub shows it to this server; '': never; a name: that service.",
    )
    hub_service_url = Unicode(
        "",
        config=True,
        help="Where to reach the hub service (e.g. http://ltt-tutor:10101/services/ltt-tutor/); default: "
        "the URL in the hub's service model.",
    )
    hub_busy_report = Float(
        10.0, config=True, help="Seconds a cell runs before the hub service's dashboard is told (long runs)."
    )

    # -- terminals (ltt_ext.terminals) --------------------------------------------------------------
    watch_terminals = Bool(
        True,
        config=True,
        help="Follow the learner's terminals (jupyter_server_terminals) and give hints on failed commands, "
        "in a conversation per terminal. Password prompts' input is never recorded.",
    )
    terminal_tail_lines = Int(
        200, config=True, help="Lines of each terminal's output the tutor keeps in memory."
    )

    # -- plumbing -----------------------------------------------------------------------------------
    db_path = Unicode(config=True, help="SQLite file of conversations and hints (':memory:' for tests).")
    db_timeout = Float(
        5.0,
        config=True,
        help="Seconds to wait for a database locked by another process before the tutor API answers 503.",
    )
    queue_size = Int(
        10_000, config=True, help="Kernel messages buffered for the worker; the oldest are dropped."
    )

    # [Workspace | None] spelled out: mypy does not infer a trait's type from a Protocol class
    workspace = Instance[Workspace | None](Workspace, allow_none=True)

    @default("db_path")
    def _default_db_path(self):
        from jupyter_core.paths import jupyter_data_dir

        return os.path.join(jupyter_data_dir(), "ltt_ext", "tutor.sqlite")
