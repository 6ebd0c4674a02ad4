"""The panel's clear messages when the learner's budget is spent or the tutor is away."""

from __future__ import annotations

import re

import pytest
from test_tutor_panel import CHAT, PANEL, ask, expect, open_notebook, tutor_messages

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]

# One question per minute: the second one is refused with a notice (tests run in file order:
# the unreachable test's question never reaches the server). Later options win.
LAB_ARGS = ["--Tutor.requests_per_minute=1"]


def test_tutor_unreachable_is_said_clearly(lab, fake_llm, open_browser):
    path = lab.write_notebook("away.ipynb", ["x = 1"])
    ctx = open_browser()
    page = open_notebook(ctx, lab, path)
    # The server goes away (as seen from this page): requests fail at the network level.
    page.route(re.compile(r".*/ltt/api/tutor/ask(\?.*)?$"), lambda route: route.abort())
    ask(page, "Anyone there?")
    expect(page.locator(f"{PANEL} .ltt-Notice[data-notice='unavailable']")).to_be_visible(timeout=30_000)
    # The learner's words are not lost.
    expect(page.locator(f"{CHAT} textarea[aria-label='Ask the tutor a question']")).to_have_value(
        "Anyone there?"
    )


def test_budget_used_up_is_said_clearly(lab, fake_llm, open_browser):
    fake_llm.reset(default_reply="FIRST-ANSWER within budget.")
    path = lab.write_notebook("budget.ipynb", ["x = 1"])
    ctx = open_browser()
    page = open_notebook(ctx, lab, path)
    ask(page, "First question")
    expect(tutor_messages(page).filter(has_text="FIRST-ANSWER")).to_have_count(1, timeout=60_000)
    expect(page.locator(f"{CHAT} .ltt-Badge-streaming")).to_have_count(0, timeout=60_000)

    ask(page, "Second question")
    notice = page.locator(f"{PANEL} .ltt-Notice[data-notice='budget']")
    expect(notice).to_be_visible(timeout=30_000)
    expect(page.locator(f"{CHAT} .ltt-Badge-notice")).to_have_count(1)
    assert len(fake_llm.llm.requests) == 1
    notice.locator("button").click()
    expect(notice).to_have_count(0)
