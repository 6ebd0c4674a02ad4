"""One LLM answer within bounds: a concurrency slot, an overall deadline, a size cap.

The deadline covers all the learner waits for (a free slot, a 429's wait, the stream itself). When it
passes, the stream is cancelled, which closes the HTTP request and frees the slot: a model that trickles
tokens forever cannot hold the server's LLM slots.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Callable
from contextlib import aclosing
from dataclasses import dataclass

from ..llm import LLMError, Usage

CUT_MARKER = "\n\n_(The answer was cut here: it was too long.)_"


class DeadlineExceeded(LLMError):
    """The answer did not finish in time (tokens may have been spent: see :attr:`Streamed.sent`)."""


@dataclass
class Streamed:
    """What a bounded stream got, kept when it fails so its tokens can still be accounted."""

    usage: Usage | None = None
    sent: bool = False  # a slot was taken and the request made
    chars: int = 0


async def stream_bounded(
    open_stream: Callable[[], AsyncGenerator[str | Usage, None]],
    on_text: Callable[[str], None],
    *,
    slots: asyncio.Semaphore,
    deadline: float,
    max_chars: int,
    got: Streamed,
) -> None:
    """Feed ``open_stream()``'s text to ``on_text`` within ``deadline`` seconds (0: none) and ``max_chars``
    characters (0: no cap; the text is cut there with :data:`CUT_MARKER`)."""

    async def consume() -> None:
        async with slots, aclosing(open_stream()) as stream:
            got.sent = True
            async for item in stream:
                if isinstance(item, Usage):
                    got.usage = item
                    continue
                if max_chars > 0 and got.chars + len(item) >= max_chars:
                    on_text(item[: max_chars - got.chars] + CUT_MARKER)
                    got.chars = max_chars
                    return  # leaving aclosing closes the HTTP stream
                got.chars += len(item)
                on_text(item)

    if deadline <= 0:
        await consume()
        return
    try:
        await asyncio.wait_for(consume(), deadline)
    except asyncio.TimeoutError:
        raise DeadlineExceeded(
            f"the model did not finish within {deadline:g} s"
            if got.sent
            else f"every AI tutor slot stayed busy for {deadline:g} s"
        ) from None
