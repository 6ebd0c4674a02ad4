"""Runaway cells and terminals in a real JupyterLab: `while True: pass` gets the tutor's warning in
the panel, its Interrupt button stops the cell (and the KeyboardInterrupt gets its own hint); a
terminal brought to the front shows its own conversation, with a hint on a failed command."""

from __future__ import annotations

import pytest
from test_tutor_panel import CHAT, PANEL, expect, open_notebook, run_all

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]

# The built-in engine, and a watchdog that speaks up after 2 s of silence.
LAB_ARGS = ["--Tutor.model=", "--Tutor.watchdog_silence=2", "--Tutor.watchdog_interval=0.25"]


def open_lab(ctx, lab, path):
    return open_notebook(ctx, lab, path, engine="built-in tutor")


def test_interrupt_a_runaway_cell_from_the_panel(lab, open_browser):
    path = lab.write_notebook("runaway.ipynb", ["n = 3\nwhile n > 0:\n    pass"])
    page = open_lab(open_browser(), lab, path)
    run_all(page)
    expect(page.locator(f"{PANEL} .ltt-KernelState")).to_have_attribute(
        "data-kernel-state", "busy", timeout=60_000
    )

    badge = page.locator(f"{CHAT} .ltt-Badge-watchdog")
    expect(badge).to_have_count(1, timeout=60_000)
    expect(badge).to_have_text("Runaway cell")
    warning = page.locator(f"{CHAT} .jp-chat-rendered-message").filter(has_text="without any output")
    expect(warning).to_contain_text("while n > 0:")
    button = page.locator(f"{CHAT} .ltt-InterruptButton")
    expect(button).to_have_text("Interrupt")
    button.click()

    # the cell stops: the kernel is idle, the cell shows the KeyboardInterrupt, the button is gone
    expect(page.locator(f"{PANEL} .ltt-KernelState")).to_have_attribute(
        "data-kernel-state", "idle", timeout=60_000
    )
    expect(page.locator(".jp-Cell .jp-OutputArea").first).to_contain_text("KeyboardInterrupt", timeout=60_000)
    expect(button).to_have_count(0, timeout=30_000)
    # the KeyboardInterrupt gets its own hint, and the warning says how the cell ended
    expect(page.locator(f"{CHAT} .ltt-Badge-hint")).to_have_count(1, timeout=60_000)
    expect(warning).to_contain_text("you interrupted the cell", timeout=30_000)
    history = lab.history(path)
    assert [m["kind"] for m in history if m["role"] == "tutor"][:2] == ["watchdog", "hint"]
    assert "you interrupted the cell" in history[0]["text"]


def test_the_panel_follows_a_terminal(lab, open_browser):
    path = lab.write_notebook("side.ipynb", ["x = 1"])
    page = open_lab(open_browser(), lab, path)
    page.evaluate("() => { void window.jupyterapp.commands.execute('terminal:create-new'); }")
    term = page.locator(".jp-Terminal")
    expect(term).to_be_visible(timeout=60_000)
    header = page.locator(f"{PANEL} .ltt-TutorHeader-notebook")
    expect(header).to_have_text("Terminal 1", timeout=30_000)
    term.click()  # what is typed before the prompt shows waits in the terminal's input buffer
    page.keyboard.type("lss_not_a_command\n")
    expect(page.locator(f"{CHAT} .ltt-Badge-hint")).to_have_count(1, timeout=60_000)
    expect(page.locator(f"{CHAT} .jp-chat-rendered-message").last).to_contain_text("lss_not_a_command")
    # back on the notebook: its own conversation again
    page.locator(".lm-DockPanel-tabBar .lm-TabBar-tab", has_text="side.ipynb").click()
    expect(header).to_have_text(path, timeout=30_000)
