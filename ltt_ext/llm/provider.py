"""Streaming chat completions from any OpenAI-compatible endpoint (``openai.AsyncOpenAI``).

Every failure (HTTP status, timeout, connection, a malformed or empty stream)
surfaces as :class:`LLMError` with a short, key-free reason, so the caller can
fall back. Cancelling the consuming task closes the HTTP stream.

Retries are ours, not the openai client's: its retries honour ``Retry-After`` up
to 60 s in silence. A 429 is retried once, after telling the caller how long it
waits (``on_wait``), and only when the wait is within ``retry_after_max``.
"""

from __future__ import annotations

import asyncio
import email.utils
import os
import time
from collections.abc import AsyncGenerator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any, cast

import openai
from openai import AsyncStream
from openai.types.chat import ChatCompletion, ChatCompletionChunk


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


def retry_after(response) -> float | None:
    """Seconds a 429 asks us to wait (``retry-after-ms``, ``retry-after`` in seconds or as a date)."""
    headers = getattr(response, "headers", None) or {}
    try:
        return max(0.0, float(headers["retry-after-ms"]) / 1000)
    except (KeyError, TypeError, ValueError):
        pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, email.utils.parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError, OverflowError):
        return None


def _retryable(exc: BaseException) -> bool:
    """Worth another try: connection trouble and timeouts, 408, 409, 5xx (as the openai client decides)."""
    if isinstance(exc, openai.APIConnectionError):  # includes APITimeoutError
        return True
    return isinstance(exc, openai.APIStatusError) and (
        exc.status_code in (408, 409) or exc.status_code >= 500
    )


def _empty_reason(stream, finish_reason: str | None) -> str:
    """Why a stream ended without text: a web page instead of SSE, the token limit, or nothing at all."""
    ctype = ""
    try:
        ctype = stream.response.headers.get("content-type", "")
    except AttributeError:
        pass
    ctype = ctype.split(";")[0].strip().lower()
    if ctype and ctype != "text/event-stream":
        return f"the model endpoint answered with {ctype[:40]}, not a stream"
    if finish_reason == "length":
        return "the model used up its token limit before writing an answer"
    return "the model sent an empty answer"


OnWait = Callable[[float], Awaitable[None]]


@dataclass
class ToolCall:
    """One function call the model asked for (its arguments are the model's JSON text, unchecked)."""

    id: str
    name: str
    arguments: str = ""

    def to_message(self) -> dict[str, Any]:
        """The entry of the assistant message's ``tool_calls`` that asked for it."""
        return {
            "id": self.id,
            "type": "function",
            "function": {"name": self.name, "arguments": self.arguments},
        }


def _add_tool_call_piece(calls: dict[int, ToolCall], piece: Any) -> None:
    """Streamed tool calls come in pieces by ``index``: the id and name first, then argument text."""
    index = getattr(piece, "index", None)
    index = index if isinstance(index, int) else len(calls)
    call = calls.setdefault(index, ToolCall(id="", name=""))
    if getattr(piece, "id", None):
        call.id = piece.id
    function = getattr(piece, "function", None)
    if function is not None:
        if getattr(function, "name", None) and not call.name:
            call.name = function.name
        if getattr(function, "arguments", None):
            call.arguments += function.arguments
    if not call.id:
        call.id = f"call_{index}"


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
        retry_after_max: float = 10.0,
    ):
        self.model = model
        self.max_retries = max_retries
        self.retry_after_max = retry_after_max
        self.max_tokens = max_tokens
        self.temperature = temperature
        self.stream_usage = stream_usage
        self.timeout = timeout
        self.client = openai.AsyncOpenAI(
            base_url=base_url or os.environ.get("OPENAI_BASE_URL") or None,
            # local servers (Ollama, vLLM) accept any key, but the client insists on one
            api_key=api_key or os.environ.get("OPENAI_API_KEY") or "no-key",
            timeout=timeout,
            max_retries=0,  # see _create
        )

    async def close(self) -> None:
        await self.client.close()

    token_param = "max_tokens"

    # Function calling: None until an endpoint accepted or refused `tools`; False is remembered for
    # the provider's life (the tutor then answers prompt-only, as before tools existed).
    tools_supported: bool | None = None

    def _params(
        self,
        messages: list[dict],
        stream: bool,
        tools: list[dict] | None = None,
        tool_choice: str | None = None,
    ) -> dict[str, Any]:
        params: dict[str, Any] = {
            "model": self.model,
            "messages": messages,
            "stream": stream,
            "temperature": self.temperature,
        }
        if self.max_tokens:
            params[self.token_param] = self.max_tokens
        if stream and self.stream_usage:
            params["stream_options"] = {"include_usage": True}
        if tools and self.tools_supported is not False:
            params["tools"] = tools
            if tool_choice:
                params["tool_choice"] = tool_choice
        return params

    def _refuses_tools(self, error: openai.APIStatusError, params: dict[str, Any]) -> bool:
        """A 4xx/5xx about tools to a request that had some: remember that, and retry without."""
        if "tools" not in params or error.status_code not in (400, 404, 422, 500, 501):
            return False
        text = str(error).lower()
        if not any(k in text for k in ("tool", "function")):
            return False
        self.tools_supported = False
        return True

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

    async def _create(
        self, params_for: Callable[[], dict[str, Any]], on_wait: OnWait | None = None
    ) -> ChatCompletion | AsyncStream[ChatCompletionChunk]:
        adapted = retries = 0
        waited = False
        while True:
            try:
                params = params_for()
                try:
                    return await self.client.chat.completions.create(**params)
                except openai.APIStatusError as e:
                    if adapted >= 3 or not self._refuses_tools(e, params):
                        raise
                    adapted += 1
                    continue  # the same request, prompt-only
            except openai.BadRequestError as e:
                adapted += 1
                if adapted > 3 or not self._adapt(e):
                    raise
            except openai.RateLimitError as e:
                wait = retry_after(e.response)
                wait = 1.0 if wait is None else wait
                if waited or wait > self.retry_after_max:
                    raise LLMError(f"the model's provider is busy (it asked to wait {wait:.0f} s)") from e
                waited = True
                if on_wait is not None:
                    await on_wait(wait)
                await asyncio.sleep(wait)
            except openai.OpenAIError as e:
                if retries >= self.max_retries or not _retryable(e):
                    raise
                retries += 1
                await asyncio.sleep(min(0.5 * 2 ** (retries - 1), 4.0))

    async def stream(
        self,
        messages: list[dict],
        on_wait: OnWait | None = None,
        *,
        tools: list[dict] | None = None,
        tool_choice: str | None = None,
        on_tool_calls: Callable[[list[ToolCall]], None] | None = None,
    ) -> AsyncGenerator[str | Usage, None]:
        """Yield text deltas as they arrive, then a :class:`Usage` if the server reported one.

        With ``tools`` (OpenAI function specs), the tool calls the model streams are put together
        and handed to ``on_tool_calls`` once the stream ends; an endpoint that refuses tools is
        asked again without them (and never offered tools again: :attr:`tools_supported`).

        A stream that ends without any text or tool call (a 200 with a web page, ``finish_reason:
        length`` before a word, an empty stream) is an :class:`LLMError`, never an empty answer."""
        try:
            # stream=True in the params: the openai client returns a stream
            sent: dict[str, Any] = {}

            def params() -> dict[str, Any]:
                sent.clear()  # the params of the attempt that answered (a retry may drop tools)
                sent.update(self._params(messages, True, tools, tool_choice))
                return dict(sent)

            stream = cast(AsyncStream[ChatCompletionChunk], await self._create(params, on_wait))
        except openai.OpenAIError as e:
            raise LLMError(_reason(e)) from e
        if "tools" in sent:
            self.tools_supported = True
        calls: dict[int, ToolCall] = {}
        usage = None
        finish_reason = None
        wrote = False
        try:
            while True:
                try:
                    # a per-chunk deadline: the HTTP read timeout alone may not fire on a trickling stream
                    chunk = await asyncio.wait_for(stream.__anext__(), self.timeout)
                except StopAsyncIteration:
                    break
                chunk_usage = getattr(chunk, "usage", None)
                if chunk_usage:
                    usage = Usage(chunk_usage.prompt_tokens or 0, chunk_usage.completion_tokens or 0)
                for choice in chunk.choices or []:
                    finish_reason = getattr(choice, "finish_reason", None) or finish_reason
                    text = getattr(choice.delta, "content", None) if choice.delta else None
                    for piece in (getattr(choice.delta, "tool_calls", None) if choice.delta else None) or []:
                        _add_tool_call_piece(calls, piece)
                    if text:
                        wrote = wrote or not text.isspace()
                        yield text
        except Exception as e:  # httpx errors, JSON errors, unexpected shapes: all mean 'no answer'
            raise LLMError(_reason(e)) from e
        finally:
            try:
                await stream.close()
            except Exception:
                pass
        complete = [c for _, c in sorted(calls.items()) if c.name]
        if not wrote and not complete:
            raise LLMError(_empty_reason(stream, finish_reason))
        if complete and on_tool_calls is not None:
            on_tool_calls(complete)
        if usage is not None:
            yield usage

    async def complete(self, messages: list[dict]) -> tuple[str, Usage]:
        try:
            resp = cast(ChatCompletion, await self._create(lambda: self._params(messages, False)))
        except openai.OpenAIError as e:
            raise LLMError(_reason(e)) from e
        try:
            text = resp.choices[0].message.content or ""
        except (AttributeError, IndexError, TypeError) as e:
            raise LLMError(_reason(e)) from e
        u = resp.usage
        return text, Usage(u.prompt_tokens or 0, u.completion_tokens or 0) if u else Usage()
