"""How to reach an OpenAI-compatible endpoint, and the bounds of one answer: shared settings.

The tutor in a learner's server (``c.Tutor.*``) and the course's tutor service on the hub
(``c.TutorServiceApp.*``) both talk to an LLM the same way; these traits and
:meth:`LLMSettings.make_provider` are that one place.
"""

from __future__ import annotations

from traitlets import Bool, Float, Int, Unicode
from traitlets.config import LoggingConfigurable

from .provider import OpenAIProvider


class LLMSettings(LoggingConfigurable):
    """The LLM endpoint and the bounds of an answer (a base of the classes configured with them)."""

    model = Unicode(
        "", config=True, help="Chat model name at the OpenAI-compatible endpoint (empty: no LLM)."
    )
    base_url = Unicode(
        None,
        allow_none=True,
        config=True,
        help="OpenAI-compatible endpoint, e.g. http://localhost:11434/v1 (default: $OPENAI_BASE_URL, else OpenAI).",
    )
    api_key = Unicode(
        None,
        allow_none=True,
        config=True,
        help="API key (default: $OPENAI_API_KEY). Stays on the server.",
    )
    timeout = Float(
        60.0, config=True, help="Seconds to wait for the LLM (connection, and between streamed chunks)."
    )
    max_retries = Int(1, config=True, help="Retries of a failed LLM request (by the openai client).")
    max_tokens = Int(600, config=True, help="Max completion tokens per answer (0: the server's default).")
    temperature = Float(0.2, config=True, help="Sampling temperature.")
    concurrency = Int(4, config=True, help="Max simultaneous LLM requests for the whole server.")
    stream_usage = Bool(
        True, config=True, help="Ask for token usage in streams (stream_options.include_usage)."
    )
    llm_deadline = Float(
        90.0,
        config=True,
        help="Seconds an LLM answer may take in all (waiting for a slot, retries, streaming); then it is "
        "cancelled, its concurrency slot freed, and the built-in tutor answers instead (0: no deadline).",
    )
    max_answer_chars = Int(
        8000,
        config=True,
        help="Characters of an LLM answer kept; the stream is cut there (0: no limit; max_tokens caps it too).",
    )
    retry_after_max = Float(
        10.0,
        config=True,
        help="Longest Retry-After (seconds) of a 429 the tutor waits out, telling the learner, before retrying "
        "once; a longer one falls back to the built-in tutor at once (0: never wait).",
    )

    def make_provider(self) -> OpenAIProvider:
        return OpenAIProvider(
            model=self.model,
            base_url=self.base_url,
            api_key=self.api_key,
            timeout=self.timeout,
            max_retries=self.max_retries,
            max_tokens=self.max_tokens,
            temperature=self.temperature,
            stream_usage=self.stream_usage,
            retry_after_max=self.retry_after_max,
        )
