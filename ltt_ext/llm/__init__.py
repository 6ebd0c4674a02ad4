"""OpenAI-compatible LLM provider."""

from .provider import LLMError, OpenAIProvider, Usage

__all__ = ["LLMError", "OpenAIProvider", "Usage"]
