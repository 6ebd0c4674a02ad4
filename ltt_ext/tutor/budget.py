"""Per-learner spending limits: LLM tokens per hour and requests per minute.

Pure: the limits and the verdict. The usage itself is read from the store
(``Store.usage_since``), so a restarted server still knows what was spent.
"""

from __future__ import annotations

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
