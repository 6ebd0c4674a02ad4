"""Streaming chat completions from any OpenAI-compatible endpoint (``openai.AsyncOpenAI``).

Every failure (HTTP status, timeout, connection, a malformed stream) surfaces as
:class:`LLMError` with a short, key-free reason, so the caller can fall back.
Cancelling the consuming task closes the HTTP stream.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass

import openai


class LLMError(Exception):
    """The LLM could not answer; ``reason`` is safe to show a learner."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0


def _reason(exc: BaseException) -> str:
    if isinstance(exc, openai.APITimeoutError) or isinstance(exc, asyncio.TimeoutError):
        return "the model took too long to answer"
    if isinstance(exc, openai.RateLimitError):
        return "the model's provider is rate-limiting requests"
    if isinstance(exc, openai.AuthenticationError):
        return "the server's model credentials were refused"
    if isinstance(exc, openai.APIStatusError):
        return f"the model endpoint answered HTTP {exc.status_code}"
    if isinstance(exc, openai.APIConnectionError):
        return "the model endpoint could not be reached"
    return "the model sent an unreadable answer"


class OpenAIProvider:
    def __init__(
        self,
        model: str,
        base_url: str | None = None,
        api_key: str | None = None,
        timeout: float = 60.0,
        max_retries: int = 1,
        max_tokens: int = 600,
        temperature: float = 0.2,
        stream_usage: bool = True,
    ):
        self.model = model
        self.max_tokens = max_tokens
        self.temperature = temperature
        self.stream_usage = stream_usage
        self.timeout = timeout
        self.client = openai.AsyncOpenAI(
            base_url=base_url or os.environ.get("OPENAI_BASE_URL") or None,
            # local servers (Ollama, vLLM) accept any key, but the client insists on one
            api_key=api_key or os.environ.get("OPENAI_API_KEY") or "no-key",
            timeout=timeout,
            max_retries=max_retries,
        )

    async def close(self) -> None:
        await self.client.close()

    token_param = "max_tokens"

    def _params(self, messages: list[dict], stream: bool) -> dict:
        params = dict(model=self.model, messages=messages, stream=stream, temperature=self.temperature)
        if self.max_tokens:
            params[self.token_param] = self.max_tokens
        if stream and self.stream_usage:
            params["stream_options"] = {"include_usage": True}
        return params

    def _adapt(self, error: openai.BadRequestError) -> bool:
        """Learn from a 400 what this endpoint does not accept; True if a retry may succeed."""
        text = str(error)
        if "max_completion_tokens" in text and self.token_param == "max_tokens":
            self.token_param = "max_completion_tokens"  # newer OpenAI models refuse max_tokens
            return True
        if self.stream_usage and any(k in text for k in ("stream_options", "include_usage", "xtra")):
            self.stream_usage = False  # some OpenAI-compatible servers reject stream_options
            return True
        return False

    async def _create(self, params_for) -> object:
        for _ in range(3):
            try:
                return await self.client.chat.completions.create(**params_for())
            except openai.BadRequestError as e:
                if not self._adapt(e):
                    raise
        return await self.client.chat.completions.create(**params_for())

    async def stream(self, messages: list[dict]) -> AsyncIterator[str | Usage]:
        """Yield text deltas as they arrive, then a :class:`Usage` if the server reported one."""
        try:
            stream = await self._create(lambda: self._params(messages, True))
        except openai.OpenAIError as e:
            raise LLMError(_reason(e)) from e
        usage = None
        try:
            while True:
                try:
                    # a per-chunk deadline: the HTTP read timeout alone may not fire on a trickling stream
                    chunk = await asyncio.wait_for(stream.__anext__(), self.timeout)
                except StopAsyncIteration:
                    break
                if getattr(chunk, "usage", None):
                    usage = Usage(chunk.usage.prompt_tokens or 0, chunk.usage.completion_tokens or 0)
                for choice in chunk.choices or []:
                    text = getattr(choice.delta, "content", None) if choice.delta else None
                    if text:
                        yield text
        except Exception as e:  # httpx errors, JSON errors, unexpected shapes: all mean 'no answer'
            raise LLMError(_reason(e)) from e
        finally:
            try:
                await stream.close()
            except Exception:
                pass
        if usage is not None:
            yield usage

    async def complete(self, messages: list[dict]) -> tuple[str, Usage]:
        try:
            resp = await self._create(lambda: self._params(messages, False))
        except openai.OpenAIError as e:
            raise LLMError(_reason(e)) from e
        try:
            text = resp.choices[0].message.content or ""
        except (AttributeError, IndexError, TypeError) as e:
            raise LLMError(_reason(e)) from e
        u = resp.usage
        return text, Usage(u.prompt_tokens or 0, u.completion_tokens or 0) if u else Usage()
