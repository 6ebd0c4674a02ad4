"""OpenAI-compatible LLM provider."""

from .provider import LLMError, OpenAIProvider, ToolCall, Usage

__all__ = ["LLMError", "OpenAIProvider", "ToolCall", "Usage"]
