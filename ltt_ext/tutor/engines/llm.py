"""The LLM engine: prompts from the job, a bounded stream, copied notes held back, tokens counted."""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from ...llm import LLMError, OpenAIProvider, ToolCall, Usage
from .. import prompts
from ..bounded import DeadlineExceeded, Streamed, stream_bounded
from ..copyguard import CopyGuard
from ..text import estimate_tokens
from . import Job, Output

RecordTokens = Callable[[str, int], Awaitable[None]]

LIMIT_REACHED = (
    '{"status": "refused", "error": "no more tool calls for this answer: answer with what you have"}'
)


class ToolBox(Protocol):
    """The tools of one answer (:class:`ltt_ext.tools.layer.ToolBox`): OpenAI specs, bounded calls."""

    max_calls: int
    calls: int

    def specs(self) -> list[dict[str, Any]]: ...

    async def call(self, name: str, arguments: str) -> str: ...


def context_markdown(job: Job, budget_tokens: int) -> str:
    """The learner's situation for a prompt: notebook context, then what their values are now."""
    cell_md = None
    if job.focus is None and job.cell_source is not None:
        cell_md = f"## The cell the learner asks about\n```python\n{job.cell_source}\n```\n"
    text = job.ctx.render(job.focus, budget_tokens, cell_md)
    if job.facts:
        text += "\n## The learner's values now (read from the kernel)\n" + job.facts.describe() + "\n"
    return text


class LLMEngine:
    name = "llm"

    def __init__(
        self,
        provider: Callable[[], OpenAIProvider],
        *,
        model: str,
        allow_solutions: bool,
        context_tokens: int,
        concurrency: int,
        deadline: float,
        max_chars: int,
        record_tokens: RecordTokens,
        log: logging.Logger | None = None,
        tools: Callable[[Job], ToolBox | None] | None = None,
    ):
        self.provider = provider
        self.model = model
        self.allow_solutions = allow_solutions
        self.context_tokens = context_tokens
        self.deadline = deadline
        self.max_chars = max_chars
        self.record_tokens = record_tokens
        self.log = log or logging.getLogger(__name__)
        self._slots = asyncio.Semaphore(max(1, concurrency))
        self.tools = tools

    @classmethod
    def configured(
        cls,
        settings,
        provider: Callable[[], OpenAIProvider],
        record_tokens: RecordTokens,
        tools: Callable[[Job], ToolBox | None] | None = None,
    ) -> LLMEngine:
        """An engine set up from ``c.Tutor.*`` or ``c.TutorServiceApp.*`` (the same trait names:
        :class:`~ltt_ext.llm.settings.LLMSettings` plus ``allow_solutions`` and ``context_tokens``)."""
        return cls(
            provider,
            model=settings.model,
            allow_solutions=settings.allow_solutions,
            context_tokens=settings.context_tokens,
            concurrency=settings.concurrency,
            deadline=settings.llm_deadline,
            max_chars=settings.max_answer_chars,
            record_tokens=record_tokens,
            log=settings.log,
            tools=tools,
        )

    def messages(self, job: Job) -> list[dict]:
        context = context_markdown(job, self.context_tokens)
        if job.kind == "hint":
            return prompts.hint_messages(context, job.level, self.allow_solutions, job.notes, job.request)
        return prompts.question_messages(
            job.question or "", context, self.allow_solutions, job.notes, job.turns
        )

    async def produce(self, job: Job, out: Output) -> None:
        """Stream the answer into ``out`` within the deadline and size cap.

        Past the deadline the stream is cancelled (closing the HTTP request and freeing the
        concurrency slot) and :class:`LLMError` sends the service to the built-in engine. Lines
        copied from the instructor's notes are held back and removed before they are pushed."""
        reply = out.reply
        reply.engine, reply.model = self.name, self.model
        messages = self.messages(job)
        guard = CopyGuard(job.notes)
        got = Streamed()

        async def busy(seconds: float) -> None:
            await out.notice(f"The tutor is busy, retrying in {math.ceil(seconds)} s…")

        toolbox = self.tools(job) if self.tools is not None else None
        if toolbox is not None and self.provider().tools_supported is False:
            toolbox = None  # this endpoint refused tools once: prompt-only, as before tools existed
        convo = list(messages)
        spent = True  # stopped half-way: the tokens were spent
        try:
            if toolbox is None:
                await stream_bounded(
                    lambda: self.provider().stream(messages, on_wait=busy),
                    lambda t: out.write(guard.feed(t)),
                    slots=self._slots,
                    deadline=self.deadline,
                    max_chars=self.max_chars,
                    got=got,
                )
            else:
                await self._with_tools(convo, toolbox, lambda t: out.write(guard.feed(t)), busy, got)
            out.write(guard.finish())
        except DeadlineExceeded:
            spent = got.sent
            raise
        except LLMError:
            spent = got.sent and len(convo) > len(messages)  # tool rounds before the failure cost tokens
            raise
        finally:
            if spent:
                await self._account(reply, convo, job.learner, got.usage)

    async def _with_tools(self, convo: list[dict], toolbox: ToolBox, write, busy, got: Streamed) -> None:
        """Rounds of (stream, run the tool calls it asked for) until the model answers, all within the
        deadline and the size cap; past ``toolbox.max_calls`` the model is told to answer without tools.
        Text streamed in any round goes to ``write`` (through the copy guard, like any answer)."""
        provider = self.provider()
        specs = toolbox.specs()
        total = Usage()
        counted = False

        async def rounds() -> None:
            nonlocal counted
            while True:
                final = toolbox.calls >= toolbox.max_calls
                got.usage = None
                calls, text = await self._round(provider, convo, specs, final, write, busy, got)
                if got.usage is not None:
                    total.prompt_tokens += got.usage.prompt_tokens
                    total.completion_tokens += got.usage.completion_tokens
                    counted = True
                if not calls or (self.max_chars and got.chars >= self.max_chars):
                    return
                if final or provider.tools_supported is False:
                    if not text.strip():
                        raise LLMError("the model kept calling tools instead of answering")
                    return
                convo.append(
                    {
                        "role": "assistant",
                        "content": text or None,
                        "tool_calls": [c.to_message() for c in calls],
                    }
                )
                for call in calls:
                    if toolbox.calls >= toolbox.max_calls:
                        result = LIMIT_REACHED
                    else:
                        result = await toolbox.call(call.name, call.arguments)
                    convo.append({"role": "tool", "tool_call_id": call.id, "content": result})

        try:
            if self.deadline > 0:
                await asyncio.wait_for(rounds(), self.deadline)
            else:
                await rounds()
        except asyncio.TimeoutError:
            raise DeadlineExceeded(
                f"the model did not finish within {self.deadline:g} s"
                if got.sent
                else f"every AI tutor slot stayed busy for {self.deadline:g} s"
            ) from None
        finally:
            got.usage = total if counted else None

    async def _round(
        self, provider: OpenAIProvider, convo: list[dict], specs, final: bool, write, busy, got: Streamed
    ) -> tuple[list[ToolCall], str]:
        """One request of a tool conversation: its text (written as it streams) and the calls it asked for."""
        calls: list[ToolCall] = []
        text: list[str] = []

        def on_text(t: str) -> None:
            text.append(t)
            write(t)

        await stream_bounded(
            lambda: provider.stream(
                convo,
                on_wait=busy,
                tools=specs,
                tool_choice="none" if final else None,
                on_tool_calls=calls.extend,
            ),
            on_text,
            slots=self._slots,
            deadline=0,  # the caller's deadline covers every round
            max_chars=self.max_chars,
            got=got,
        )
        return calls, "".join(text)

    async def _account(self, reply, messages: list[dict], learner: str, usage: Usage | None) -> None:
        """Record tokens, even when stopped: they were spent."""
        if usage is None:
            usage = Usage(
                sum(estimate_tokens(m.get("content") or "") for m in messages), estimate_tokens(reply.text)
            )
        reply.prompt_tokens, reply.completion_tokens = usage.prompt_tokens, usage.completion_tokens
        tokens = usage.prompt_tokens + usage.completion_tokens
        if tokens:
            await self.record_tokens(learner, tokens)
