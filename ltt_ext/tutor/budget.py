"""Per-learner spending limits: LLM tokens per hour and requests per minute."""

from __future__ import annotations

from collections import defaultdict, deque


class Budget:
    """Sliding windows per learner; 0 disables a limit."""

    def __init__(self, tokens_per_hour: int = 0, requests_per_minute: int = 0):
        self.tokens_per_hour = tokens_per_hour
        self.requests_per_minute = requests_per_minute
        self._requests: dict[str, deque[float]] = defaultdict(deque)
        self._tokens: dict[str, deque[tuple[float, int]]] = defaultdict(deque)

    def _prune(self, learner: str, now: float) -> None:
        req, tok = self._requests[learner], self._tokens[learner]
        while req and now - req[0] >= 60:
            req.popleft()
        while tok and now - tok[0][0] >= 3600:
            tok.popleft()

    def tokens_used(self, learner: str, now: float) -> int:
        self._prune(learner, now)
        return sum(n for _, n in self._tokens[learner])

    def check(self, learner: str, now: float) -> str | None:
        """``None`` when the learner may send one more request, else a message saying why not."""
        self._prune(learner, now)
        req = self._requests[learner]
        if self.requests_per_minute and len(req) >= self.requests_per_minute:
            wait = max(1, int(60 - (now - req[0]) + 0.999))
            return (
                f"You've reached the tutor's limit of {self.requests_per_minute} questions per minute. "
                f"Try again in {wait} s — meanwhile, re-read the error and the hints above."
            )
        if self.tokens_per_hour and self.tokens_used(learner, now) >= self.tokens_per_hour:
            oldest = self._tokens[learner][0][0]
            wait = max(1, int((3600 - (now - oldest)) / 60 + 0.999))
            return (
                f"You've used this hour's tutor budget ({self.tokens_per_hour} tokens). "
                f"It frees up again in about {wait} min; the offline hints still work."
            )
        return None

    def record_request(self, learner: str, now: float) -> None:
        self._requests[learner].append(now)

    def record_tokens(self, learner: str, tokens: int, now: float) -> None:
        if tokens:
            self._tokens[learner].append((now, tokens))
