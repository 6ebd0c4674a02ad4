""" "Try it" on the tutor's code examples, in a real JupyterLab and headless Chromium: the example runs
in the notebook's sidecar kernel, its output shows in the chat, and the notebook and its kernel are
left alone. Every wait is on a real condition."""

from __future__ import annotations

import time

import pytest
from test_tutor_panel import CHAT, PANEL, ask, expect, open_notebook

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]


def test_try_it_runs_the_example_beside_the_notebook(lab, fake_llm, open_browser):
    path = lab.write_notebook("tryit.ipynb", ["learner_secret = 'mine'", "print(learner_secret)"])
    page = open_notebook(open_browser(), lab, path)
    page.evaluate("() => { void window.jupyterapp.commands.execute('notebook:run-all-cells'); }")
    expect(page.locator(".jp-Cell").nth(1).locator(".jp-OutputArea-output")).to_contain_text(
        "mine", timeout=60_000
    )

    fake_llm.reset(
        default_reply=(
            "Here is a small example on other data:\n\n"
            "```python\nprint(sum([1, 2, 3]) * 7)\nprint('learner_secret' in globals())\n```\n\n"
            "And not runnable:\n\n```text\njust words\n```\n"
        )
    )
    ask(page, "Can you show me sum?")
    answer = page.locator(f"{CHAT} .jp-chat-rendered-message").filter(has_text="small example on other data")
    expect(answer).to_have_count(1, timeout=60_000)
    button = answer.locator(".ltt-TryIt-button")
    expect(button).to_have_count(1, timeout=60_000)  # the Python block only
    expect(button).to_have_text("Try it")
    button.click()

    outputs = answer.locator(".ltt-TryIt-outputs")
    expect(outputs).to_contain_text("42", timeout=60_000)
    expect(outputs).to_contain_text("False")  # the learner's variables are not in the sidecar
    expect(answer.locator(".ltt-TryIt-status")).to_contain_text("Your notebook was not touched.")

    # the notebook on disk and the server's kernels know nothing of it
    nb = lab.read_notebook(path)
    assert "42" not in str(nb)
    kernels = lab.api("GET", "api/kernels")
    assert len(kernels) == 1
    # and the learner's kernel still has its own variable
    page.locator(".jp-Cell").nth(1).click()
    page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-cell')")
    expect(page.locator(".jp-Cell").nth(1).locator(".jp-OutputArea-output")).to_contain_text("mine")


def test_the_learner_lets_the_tutor_interrupt(lab, fake_llm, open_browser):
    fake_llm.reset()
    path = lab.write_notebook("permission.ipynb", ["1 + 1"])
    page = open_notebook(open_browser(), lab, path)
    box = page.locator(f"{PANEL} .ltt-InterruptPermission input[type=checkbox]")
    expect(box).to_be_visible(timeout=60_000)
    expect(box).not_to_be_checked()
    assert lab.api("GET", "ltt/api/tutor/permissions", path=path)["interrupt"] is False
    box.check()
    expect(box).to_be_checked()
    deadline = time.monotonic() + 30
    while not lab.api("GET", "ltt/api/tutor/permissions", path=path)["interrupt"]:
        assert time.monotonic() < deadline, "the permission never reached the server"
        time.sleep(0.1)
    box.uncheck()
    expect(box).not_to_be_checked()
    while lab.api("GET", "ltt/api/tutor/permissions", path=path)["interrupt"]:
        assert time.monotonic() < deadline + 30, "the permission was never revoked"
        time.sleep(0.1)
