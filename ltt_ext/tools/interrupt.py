"""Interrupting a learner's runaway cell: one function and one policy for every consumer.

The panel's Interrupt button (the learner's own click), the runaway-cell watchdog, the
tutor's LLM and MCP agents all stop a cell through :func:`interrupt_cell`, which asks the
server's kernel manager for a kernel interrupt (SIGINT / ``interrupt_request``, as the
JupyterLab toolbar does) after one policy check (:func:`interrupt_refusal`):

- ``caller="learner"``: the learner's own request (authenticated on the server) is always
  allowed: it is their kernel;
- any other caller (``"watchdog"``, ``"llm"``, ``"mcp"``…) only when the learner allowed it
  for that notebook (``learner_allowed``, e.g. from :class:`InterruptGrants`) or the course
  policy says so (``course_policy``, from ``c.Tutor``/``c.ToolLayer`` configuration).

Only a busy kernel is interrupted by default: an interrupt that arrives after the cell ended
would do nothing in the kernel but could still surprise the learner's next cell.
Plain Python: no tornado.
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass
from typing import Any

from jupyter_core.utils import ensure_async

LEARNER = "learner"
WATCHDOG = "watchdog"
LLM = "llm"
MCP = "mcp"


def interrupt_refusal(
    caller: str, *, learner_allowed: bool = False, course_policy: bool = False
) -> str | None:
    """Why ``caller`` may not interrupt the learner's cell, or None when it may."""
    if caller == LEARNER or learner_allowed or course_policy:
        return None
    return (
        "Interrupting the learner's cell needs the learner's permission (or a course policy that allows it)."
    )


class InterruptGrants:
    """Per notebook (conversation key): "the tutor and my agents may stop my runaway cells".

    Kept in memory: a permission lasts until revoked, ``seconds`` pass, or the server restarts."""

    def __init__(self) -> None:
        self._until: dict[str, float | None] = {}

    def allow(self, key: str, seconds: float | None = None) -> None:
        self._until[key] = time.monotonic() + seconds if seconds else None

    def revoke(self, key: str) -> None:
        self._until.pop(key, None)

    def allowed(self, key: str) -> bool:
        if key not in self._until:
            return False
        until = self._until[key]
        if until is not None and time.monotonic() > until:
            del self._until[key]
            return False
        return True


@dataclass
class InterruptResult:
    interrupted: bool
    kernel_id: str | None
    caller: str
    state: str | None = None  # the kernel's execution state when asked
    reason: str = ""  # why nothing was done (refused, idle, unknown kernel)
    refused: bool = False

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


async def interrupt_cell(
    kernel_manager,
    kernel_id: str | None,
    *,
    caller: str,
    learner_allowed: bool = False,
    course_policy: bool = False,
    only_if_busy: bool = True,
    log: logging.Logger | None = None,
) -> InterruptResult:
    """Interrupt the cell running in ``kernel_id`` (the server's MultiKernelManager) if policy allows.

    Never raises for the expected cases (refused, unknown kernel, idle kernel): the result says so."""
    log = log or logging.getLogger(__name__)
    refusal = interrupt_refusal(caller, learner_allowed=learner_allowed, course_policy=course_policy)
    if refusal is not None:
        return InterruptResult(False, kernel_id, caller, reason=refusal, refused=True)
    if not kernel_id or kernel_manager is None:
        return InterruptResult(False, kernel_id, caller, reason="The notebook has no running kernel.")
    try:
        km = kernel_manager.get_kernel(kernel_id)
    except KeyError:
        return InterruptResult(False, kernel_id, caller, reason=f"No such kernel: {kernel_id}")
    state = getattr(km, "execution_state", None)
    if only_if_busy and state not in ("busy", None):
        return InterruptResult(
            False, kernel_id, caller, state, reason=f"Nothing is running (the kernel is {state})."
        )
    await ensure_async(kernel_manager.interrupt_kernel(kernel_id))
    log.info("ltt tools: kernel %s interrupted (caller: %s)", kernel_id, caller)
    return InterruptResult(True, kernel_id, caller, state)
