"""The built-in engine behind the :class:`~ltt_ext.tutor.engines.Engine` interface."""

from __future__ import annotations

from ..builtin import BuiltinEngine
from . import Job, Output


class OfflineEngine:
    name = "builtin"

    def __init__(self, rules: BuiltinEngine | None = None):
        self.rules = rules or BuiltinEngine()

    def text(self, job: Job) -> str:
        if job.kind == "hint":
            assert job.error is not None  # hints are for failed executions
            return self.rules.hint(job.error, job.code, job.level, job.names, facts=job.facts)
        return self.rules.answer(
            job.question or "", job.error, job.code, job.level, job.names, facts=job.facts
        )

    async def produce(self, job: Job, out: Output) -> None:
        out.reply.engine, out.reply.model = self.name, None
        out.write(self.text(job))
