"""Engines fill a tutor reply: one small interface, several implementations.

The service decides *what* to answer (a hint at a ladder level, or a question),
gathers the facts (:class:`Job`) and picks an engine; an engine writes the text
into the reply through :class:`Output`. The built-in engine answers at once and
offline; the LLM engine streams from an OpenAI-compatible endpoint and raises
:class:`~ltt_ext.llm.LLMError` when it cannot, after which the service falls back.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from ...store import Message
from ..context import ErrorInfo, Execution, NotebookContext
from ..facts import RuntimeFacts
from ..instructor import InstructorNotes


@dataclass
class Job:
    """Everything an engine may use to fill one reply."""

    kind: str  # "hint" | "answer"
    ctx: NotebookContext
    focus: Execution | None  # the failed execution the reply is about, if any
    level: int = 1
    question: str | None = None  # the learner's question (kind "answer")
    request: str | None = None  # what the learner asked for along with a hint
    cell_source: str | None = None  # the cell a question is about, when no error is in focus
    facts: RuntimeFacts | None = None
    notes: InstructorNotes | None = None
    turns: Sequence[tuple[str, str]] = ()  # recent (role, text) turns, the question excluded
    names: set[str] = field(default_factory=set)
    learner: str = "server"

    @property
    def error(self) -> ErrorInfo | None:
        return self.focus.error if self.focus is not None else None

    @property
    def code(self) -> str:
        return self.focus.code if self.focus is not None else ""


@dataclass
class Output:
    """Where an engine writes: ``write`` appends and pushes a piece of the reply's text,
    ``notice`` tells the learner something outside the reply (e.g. a retry)."""

    reply: Message
    write: Callable[[str], None]
    notice: Callable[[str], Awaitable[None]]


class Engine(Protocol):
    name: str

    async def produce(self, job: Job, out: Output) -> None:
        """Fill ``out.reply`` for ``job``; raise :class:`~ltt_ext.llm.LLMError` to hand over."""
