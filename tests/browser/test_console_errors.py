"""Consoles: an error there has no "Ask the tutor" button (the tutor's conversations are per notebook),
while the same error in a notebook has one."""

from __future__ import annotations

import pytest
from test_tutor_panel import expect, run_all

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]


def test_ask_the_tutor_is_offered_under_notebook_errors_only(lab, open_browser):
    path = lab.write_notebook("errs.ipynb", ["1/0"])
    page = open_browser().new_page()
    page.goto(lab.lab_url(path))
    page.wait_for_function(
        "() => window.jupyterapp !== undefined && document.querySelector('.jp-Notebook .jp-Cell')",
        timeout=120_000,
    )
    page.wait_for_function(
        "() => window.jupyterapp.shell.currentWidget?.sessionContext?.session?.kernel?.status === 'idle'",
        timeout=120_000,
    )
    run_all(page)
    notebook_button = page.locator(".jp-Notebook .ltt-AskTutorButton")
    expect(notebook_button).to_be_visible(timeout=60_000)

    page.evaluate(
        "void window.jupyterapp.commands.execute('console:create', {activate: true, kernelPreference: {name: 'python3'}})"
    )
    page.wait_for_function(
        """() => {
        const w = window.jupyterapp.shell.currentWidget;
        return w?.console?.promptCell && w.sessionContext?.session?.kernel?.status === 'idle';
    }""",
        timeout=120_000,
    )
    page.evaluate("""() => {
        const console = window.jupyterapp.shell.currentWidget.console;
        console.promptCell.model.sharedModel.setSource('1/0');
        void console.execute(true);
    }""")
    console_error = page.locator(".jp-CodeConsole .ltt-ErrorOutput")
    expect(console_error).to_have_count(1, timeout=60_000)
    expect(console_error.locator(".jp-RenderedText")).to_contain_text("ZeroDivisionError")
    expect(console_error.locator(".ltt-AskTutorButton")).to_be_hidden()
