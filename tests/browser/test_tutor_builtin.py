"""The out-of-the-box tutor (no LLM configured): the panel works on the built-in engine."""

from __future__ import annotations

import pytest
from test_tutor_panel import CHAT, PANEL, ask, expect, run_all, tutor_messages

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]

# No model: the built-in engine answers (later options win).
LAB_ARGS = ["--Tutor.model="]


def test_builtin_engine_hints_and_answers(lab, fake_llm, open_browser):
    path = lab.write_notebook("builtin.ipynb", ["numbers = [1, 2, 3]\nprint(numbers[3])"])
    page = open_browser().new_page()
    page.goto(lab.lab_url(path))
    page.wait_for_function(
        "() => window.jupyterapp !== undefined && document.querySelector('.jp-Notebook .jp-Cell')",
        timeout=120_000,
    )
    page.evaluate("window.jupyterapp.commands.execute('ltt:open-tutor')")
    header = page.locator(f"{PANEL} .ltt-TutorHeader")
    expect(header.locator(".ltt-TutorHeader-engine")).to_have_text("Engine: built-in tutor", timeout=60_000)
    expect(header.locator(".ltt-KernelState")).to_have_attribute("data-kernel-state", "idle", timeout=120_000)

    run_all(page)
    expect(page.locator(f"{CHAT} .ltt-Badge-hint")).to_have_count(1, timeout=60_000)
    expect(page.locator(f"{CHAT} .ltt-Badge-streaming")).to_have_count(0, timeout=60_000)
    hint = tutor_messages(page).last
    expect(hint).not_to_have_text("")

    ask(page, "What does IndexError mean?")
    expect(tutor_messages(page).filter(has_text="What does IndexError mean?")).to_have_count(
        1, timeout=30_000
    )
    expect(page.locator(f"{CHAT} .ltt-Badge-streaming")).to_have_count(0, timeout=60_000)
    history = lab.history(path)
    answers = [m for m in history if m["kind"] == "answer"]
    assert answers and answers[-1]["engine"] == "builtin" and answers[-1]["status"] == "done"
    assert not fake_llm.llm.requests, "the built-in engine must not call the LLM"
