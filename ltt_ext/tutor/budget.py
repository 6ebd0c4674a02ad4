"""Per-learner spending limits: LLM tokens per hour and requests per minute.

:class:`Budget` is pure: the limits and the verdict. :class:`Spending` applies it to the
usage read from the store (``Store.usage_since``), so a restarted server still knows what
was spent.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from ..store import Store, StoreUnavailable

REQUEST_WINDOW = 60.0
TOKEN_WINDOW = 3600.0


class Budget:
    """Sliding windows per learner over stored ``(at, requests, tokens)`` rows; 0 disables a limit."""

    def __init__(self, tokens_per_hour: int = 0, requests_per_minute: int = 0):
        self.tokens_per_hour = tokens_per_hour
        self.requests_per_minute = requests_per_minute

    @staticmethod
    def tokens_used(usage: list[tuple[float, int, int]], now: float) -> int:
        return sum(t for at, _, t in usage if now - at < TOKEN_WINDOW)

    def tokens_spent(self, usage: list[tuple[float, int, int]], now: float) -> bool:
        return bool(self.tokens_per_hour) and self.tokens_used(usage, now) >= self.tokens_per_hour

    def check(self, usage: list[tuple[float, int, int]], now: float) -> str | None:
        """``None`` when the learner may send one more request, else a message saying why not."""
        requests = [at for at, r, _ in usage if r and now - at < REQUEST_WINDOW]
        if self.requests_per_minute and len(requests) >= self.requests_per_minute:
            wait = max(1, int(REQUEST_WINDOW - (now - min(requests)) + 0.999))
            return (
                f"You've reached the tutor's limit of {self.requests_per_minute} questions per minute. "
                f"Try again in {wait} s — meanwhile, re-read the error and the hints above."
            )
        if self.tokens_spent(usage, now):
            oldest = min(at for at, _, t in usage if t and now - at < TOKEN_WINDOW)
            wait = max(1, int((TOKEN_WINDOW - (now - oldest)) / 60 + 0.999))
            return (
                f"You've used this hour's tutor budget ({self.tokens_per_hour} tokens). "
                f"It frees up again in about {wait} min; the offline hints still work."
            )
        return None


class Spending:
    """The budget applied to the stored usage: admit a request (check and record as one step),
    tell whether the tokens are spent, record tokens. The store is reached through a getter
    (it is reopened after a stop)."""

    def __init__(self, budget: Budget, store: Callable[[], Store], log: logging.Logger | None = None):
        self.budget = budget
        self._store = store
        self.log = log or logging.getLogger(__name__)
        self._lock: asyncio.Lock | None = None

    async def _usage(self, learner: str) -> list[tuple[float, int, int]]:
        return await self._store().usage_since(learner, time.time() - TOKEN_WINDOW)

    async def admit(self, learner: str) -> str | None:
        """Count one request against the learner's budget, or say why it is over (None: go ahead)."""
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:  # concurrent asks cannot both slip in
            limit = self.budget.check(await self._usage(learner), time.time())
            if not limit:
                await self._store().record_usage(learner, requests=1)
            return limit

    async def tokens_spent(self, learner: str) -> bool:
        return bool(self.budget.tokens_per_hour) and self.budget.tokens_spent(
            await self._usage(learner), time.time()
        )

    async def record_tokens(self, learner: str, tokens: int) -> None:
        try:
            await self._store().record_usage(learner, tokens=tokens)
        except StoreUnavailable as e:
            self.log.warning("ltt tutor: %d tokens of %s not recorded: %s", tokens, learner, e)
