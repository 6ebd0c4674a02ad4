"""The OpenAI-compatible provider against the real fake server of ltt_ext.pytest_plugin."""

import asyncio

import pytest

from ltt_ext.llm import LLMError, OpenAIProvider, Usage
from ltt_ext.pytest_plugin import Reply

MSGS = [{"role": "user", "content": "hello"}]


def provider(llm, **kw):
    return OpenAIProvider(
        model="fake-tutor",
        base_url=llm.base_url,
        api_key="k",
        timeout=kw.pop("timeout", 5),
        max_retries=0,
        **kw,
    )


async def collect(p):
    out = []
    async for item in p.stream(MSGS):
        out.append(item)
    return out


async def test_stream_tokens_and_usage(ltt_fake_llm):
    ltt_fake_llm.script("Look at line two.")
    p = provider(ltt_fake_llm)
    items = await collect(p)
    assert "".join(i for i in items if isinstance(i, str)) == "Look at line two."
    assert len([i for i in items if isinstance(i, str)]) == 4
    assert isinstance(items[-1], Usage) and items[-1].completion_tokens == 4
    body = ltt_fake_llm.requests[0]
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}
    assert body["messages"] == MSGS and body["model"] == "fake-tutor"
    text, usage = await p.complete(MSGS)
    assert text == ltt_fake_llm.default_reply and usage.prompt_tokens >= 1
    await p.close()


@pytest.mark.parametrize("mode", ["error", "malformed"])
async def test_failures_are_llm_errors(ltt_fake_llm, mode):
    ltt_fake_llm.script(Reply(text="one two three", mode=mode))
    p = provider(ltt_fake_llm)
    with pytest.raises(LLMError) as e:
        await collect(p)
    assert ("HTTP 500" in e.value.reason) if mode == "error" else ("unreadable" in e.value.reason)
    await p.close()


async def test_hang_times_out(ltt_fake_llm):
    ltt_fake_llm.script(Reply(mode="hang"))
    p = provider(ltt_fake_llm, timeout=0.5)
    with pytest.raises(LLMError) as e:
        await asyncio.wait_for(collect(p), 10)
    assert "too long" in e.value.reason
    await p.close()


async def test_cancel_closes_the_stream(ltt_fake_llm):
    ltt_fake_llm.script(Reply(text="a " * 50, token_delay=0.05))
    p = provider(ltt_fake_llm)
    got = []

    async def consume():
        async for item in p.stream(MSGS):
            got.append(item)

    task = asyncio.create_task(consume())
    while len(got) < 2:
        await asyncio.sleep(0.01)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    for _ in range(100):
        if ltt_fake_llm.active == 0:
            break
        await asyncio.sleep(0.02)
    assert ltt_fake_llm.active == 0 and len(got) < 50
    await p.close()


async def test_adapts_to_endpoints_refusing_parameters(ltt_fake_llm):
    ltt_fake_llm.script(
        Reply(
            mode="error",
            status=400,
            error_message="Unsupported parameter: 'max_tokens'. Use 'max_completion_tokens'.",
        ),
        Reply(mode="error", status=400, error_message="unknown field: stream_options"),
        "fine",
    )
    p = provider(ltt_fake_llm, max_tokens=50)
    items = await collect(p)
    assert "".join(i for i in items if isinstance(i, str)) == "fine"
    first, second, third = ltt_fake_llm.requests
    assert first["max_tokens"] == 50 and "max_completion_tokens" not in first
    assert second["max_completion_tokens"] == 50 and "stream_options" in second
    assert "stream_options" not in third and third["max_completion_tokens"] == 50
    ltt_fake_llm.script(Reply(mode="error", status=400, error_message="bad model"))
    with pytest.raises(LLMError) as e:
        await collect(p)
    assert "HTTP 400" in e.value.reason and len(ltt_fake_llm.requests) == 4  # nothing left to adapt: no retry
    await p.close()


async def test_rate_limit_waits_out_a_short_retry_after_once_telling_the_caller(ltt_fake_llm):
    ltt_fake_llm.script(Reply(mode="error", status=429, headers={"Retry-After": "1"}), "after the wait")
    p = provider(ltt_fake_llm)
    waits = []

    async def on_wait(seconds):
        waits.append((seconds, len(ltt_fake_llm.requests)))

    items = [i async for i in p.stream(MSGS, on_wait=on_wait)]
    assert "".join(i for i in items if isinstance(i, str)) == "after the wait"
    assert waits == [(1.0, 1)] and len(ltt_fake_llm.requests) == 2  # told before the retry, retried once
    ltt_fake_llm.script(*[Reply(mode="error", status=429, headers={"Retry-After": "1"})] * 2)
    with pytest.raises(LLMError) as e:
        await collect(p)
    assert "busy" in e.value.reason and len(ltt_fake_llm.requests) == 4  # one retry only
    await p.close()


async def test_rate_limit_with_a_long_retry_after_fails_at_once(ltt_fake_llm):
    ltt_fake_llm.script(Reply(mode="error", status=429, headers={"Retry-After": "30"}))
    p = provider(ltt_fake_llm, retry_after_max=10)
    waits = []

    async def on_wait(seconds):
        waits.append(seconds)

    with pytest.raises(LLMError) as e:
        await asyncio.wait_for(collect_with(p, on_wait), 10)  # bounded: the old client slept the 30 s
    assert "busy" in e.value.reason and "30 s" in e.value.reason
    assert waits == [] and len(ltt_fake_llm.requests) == 1
    await p.close()


async def collect_with(p, on_wait):
    return [i async for i in p.stream(MSGS, on_wait=on_wait)]


@pytest.mark.parametrize(
    "reply,reason",
    [
        (Reply(mode="html"), "text/html, not a stream"),
        (Reply(mode="empty"), "token limit"),
        (Reply(mode="empty", finish_reason="stop"), "empty answer"),
        (Reply(text="   \n "), "empty answer"),
    ],
)
async def test_an_answer_without_text_is_an_error(ltt_fake_llm, reply, reason):
    ltt_fake_llm.script(reply)
    p = provider(ltt_fake_llm)
    with pytest.raises(LLMError) as e:
        await collect(p)
    assert reason in e.value.reason
    await p.close()
