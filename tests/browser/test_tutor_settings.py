"""The tutor as a regular JupyterLab extension, in headless Chromium (issue 13, front end):
its settings in the Settings Editor (and the panel following them), the consent kept in the
user's settings, the newest message in view, and no "Ask the tutor" when the tutor is off.
"""

from __future__ import annotations

import json
import time
import urllib.error

import pytest
from test_tutor_panel import CHAT, PANEL, ask, expect, open_notebook, run_all, tutor_messages

from conftest import LabServer

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]

PLUGIN = "ltt-ext:plugin"
SETTINGS_API = f"lab/api/settings/{PLUGIN}"


def put_settings(lab, values: dict) -> None:
    """Replace the user's settings of the tutor plugin (as the Settings Editor saves them)."""
    lab.api("PUT", SETTINGS_API, {"raw": json.dumps(values)})


def user_settings(lab) -> dict:
    """The user's own values (what the Settings Editor saved), without the defaults."""
    return lab.api("GET", SETTINGS_API)["settings"]


def wait_for(predicate, timeout: float = 30.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def open_lab(ctx, lab, path: str | None = None, init_script: str | None = None):
    page = ctx.new_page()
    if init_script:
        page.add_init_script(init_script)
    page.goto(lab.lab_url(path))
    page.wait_for_function(
        "() => window.jupyterapp !== undefined && window.jupyterapp.started !== undefined", timeout=120_000
    )
    page.evaluate("() => window.jupyterapp.started")
    return page


def test_settings_editor_shows_the_tutor_settings(lab, fake_llm, open_browser, docs_dir):
    put_settings(lab, {})
    path = lab.write_notebook("settings.ipynb", ["x = 1"])
    page = open_notebook(open_browser(), lab, path)

    # The schema is served with the extension, with what the panel offers.
    schema = lab.api("GET", SETTINGS_API)["schema"]
    assert {"openOnHint", "shareNotebook", "fontSize"} <= set(schema["properties"])

    page.evaluate("window.jupyterapp.commands.execute('settingeditor:open', {query: 'Tutor'})")
    entry = page.locator(".jp-PluginList-entry", has_text="Tutor")
    expect(entry.first).to_be_visible(timeout=60_000)
    entry.first.click()
    form = page.locator(".jp-SettingsPanel, .jp-SettingsEditor").first
    for title in ("Open the panel on a hint", "Share my notebook with the AI tutor", "Chat font size (px)"):
        expect(form.get_by_text(title, exact=True).first).to_be_visible(timeout=30_000)

    # Changing the font size in the editor reaches the open panel (no reload).
    size = page.locator(f'[id="jp-SettingsEditor-{PLUGIN}_fontSize"]')
    size.fill("18")
    size.press("Tab")
    wait_for(lambda: user_settings(lab).get("fontSize") == 18, what="fontSize saved")
    panel = page.locator(PANEL)
    expect(panel).to_have_attribute("data-font-size", "18", timeout=30_000)
    welcome = page.locator(f"{CHAT} .jp-chat-welcome-message p").first
    assert welcome.evaluate("el => getComputedStyle(el).fontSize") == "18px"

    # The consent from the editor is the consent the tutor gets.
    consent = page.locator(f'[id="jp-SettingsEditor-{PLUGIN}_shareNotebook"]')
    consent.check()
    wait_for(lambda: user_settings(lab).get("shareNotebook") is True, what="consent saved")

    page.evaluate("""() => {
      const split = window.jupyterapp.shell._hsplitPanel;
      if (split) { split.setRelativeSizes([0.12, 0.58, 0.30]); }
    }""")
    page.mouse.move(0, 0)
    page.wait_for_timeout(300)
    docs_dir.mkdir(exist_ok=True)
    page.screenshot(path=str(docs_dir / "screenshot-settings.png"))

    # Back to 0: JupyterLab's own font size again.
    size.fill("0")
    size.press("Tab")
    expect(panel).not_to_have_attribute("data-font-size", "18", timeout=30_000)
    put_settings(lab, {})


def test_consent_moves_from_local_storage_to_the_settings(lab, fake_llm, open_browser):
    put_settings(lab, {})
    page = open_lab(open_browser(), lab, init_script="window.localStorage.setItem('ltt-ext:consent', 'yes');")
    wait_for(lambda: user_settings(lab).get("shareNotebook") is True, what="consent migrated")
    page.wait_for_function("() => window.localStorage.getItem('ltt-ext:consent') === null")

    # Once moved, the settings decide: a reload with nothing in local storage keeps it.
    put_settings(lab, {"shareNotebook": False})
    page.reload()
    page.wait_for_function("() => window.jupyterapp !== undefined")
    page.evaluate("() => window.jupyterapp.started")
    page.wait_for_timeout(1000)
    assert user_settings(lab).get("shareNotebook") is False
    put_settings(lab, {})


def test_the_newest_message_is_fully_in_view(lab, fake_llm, open_browser):
    """A long level-2 hint ends inside the conversation's viewport (1400×900 window)."""
    put_settings(lab, {})
    lines = "\n".join(f"- step {i}: look at what `y` holds before line {i}." for i in range(1, 9))
    fake_llm.reset(default_reply=f"LEVEL-HINT: the name is used before it is set.\n\n{lines}\n\nEND-OF-HINT")
    path = lab.write_notebook("scroll.ipynb", ["x = 1", "print(y + x)"])
    page = open_notebook(open_browser(1400, 900), lab, path)
    run_all(page)
    expect(page.locator(f"{CHAT} .ltt-Badge-hint")).to_have_count(1, timeout=60_000)
    expect(page.locator(f"{CHAT} .ltt-Badge-streaming")).to_have_count(0, timeout=60_000)
    page.locator(f"{CHAT} .ltt-MoreHelpButton").click()
    expect(page.locator(f"{CHAT} .ltt-Badge-hint", has_text="level 2")).to_have_count(1, timeout=60_000)
    expect(page.locator(f"{CHAT} .ltt-Badge-streaming")).to_have_count(0, timeout=60_000)
    page.wait_for_timeout(500)  # the Markdown of the last delta renders

    hidden = page.evaluate(
        """(chat) => {
      const messages = document.querySelectorAll(chat + ' .jp-chat-message');
      const last = messages[messages.length - 1];
      const box = last.closest('[id^="jupyter-chat-scroll-container-"]');
      const end = last.getBoundingClientRect().bottom;
      const view = box.getBoundingClientRect();
      return {hidden: end - view.bottom, tall: last.getBoundingClientRect().height, view: view.height,
              text: last.textContent};
    }""",
        CHAT,
    )
    assert "END-OF-HINT" in hidden["text"] and hidden["tall"] < hidden["view"], hidden
    assert hidden["hidden"] <= 1, f"{hidden['hidden']:.0f} px of the newest message are below the fold"


# -- consent required -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def lab_consent(tmp_path_factory, fake_llm):
    server = LabServer(
        tmp_path_factory.mktemp("lab-consent"),
        fake_llm.llm.base_url,
        ["--Tutor.consent_required=True", "--Tutor.proactive=False"],
    )
    yield server
    server.stop()


def test_the_panel_checkbox_is_the_users_consent(lab_consent, fake_llm, open_browser):
    """The panel's checkbox saves the consent in the user's settings; only then does the LLM answer."""
    lab = lab_consent
    put_settings(lab, {})
    fake_llm.reset(default_reply="CONSENTED-ANSWER: look where y is set.")
    path = lab.write_notebook("consent.ipynb", ["x = 1"])
    page = open_notebook(open_browser(), lab, path)
    box = page.locator(f"{PANEL} .ltt-Consent input[type=checkbox]")
    expect(box).not_to_be_checked()

    ask(page, "Without consent?")
    expect(page.locator(f"{CHAT} .ltt-Badge-streaming")).to_have_count(0, timeout=60_000)
    wait_for(lambda: len([m for m in lab.history(path) if m["role"] == "tutor"]) == 1, what="offline answer")
    assert not fake_llm.llm.requests, "notebook content went to the LLM without consent"

    box.check()
    wait_for(lambda: user_settings(lab).get("shareNotebook") is True, what="consent saved in the settings")
    ask(page, "With consent?")
    expect(tutor_messages(page).filter(has_text="CONSENTED-ANSWER")).to_have_count(1, timeout=60_000)
    assert fake_llm.llm.requests

    # A new browser (another machine) finds the consent in the user's settings.
    page2 = open_notebook(open_browser(), lab, path)
    expect(page2.locator(f"{PANEL} .ltt-Consent input[type=checkbox]")).to_be_checked(timeout=30_000)
    put_settings(lab, {})


# -- the tutor turned off ------------------------------------------------------------------------


class TutorOffLab(LabServer):
    """A lab whose tutor is off (`--Tutor.enabled=False`): its API answers 503."""

    def _wait_ready(self, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"jupyter lab exited with {self.proc.returncode}:\n{self.log_tail()}")
            try:
                self.api("GET", "api/status")
            except (OSError, urllib.error.URLError):
                time.sleep(0.2)
                continue
            try:
                self.api("GET", "ltt/api/tutor/info")
            except urllib.error.HTTPError as e:
                if e.code == 503:
                    return
                raise
            raise RuntimeError("the tutor answers although it was turned off")
        raise RuntimeError(f"jupyter lab did not answer in {timeout}s:\n{self.log_tail()}")


@pytest.fixture(scope="module")
def lab_tutor_off(tmp_path_factory, fake_llm):
    server = TutorOffLab(tmp_path_factory.mktemp("lab-off"), fake_llm.llm.base_url, ["--Tutor.enabled=False"])
    yield server
    server.stop()


def test_no_ask_button_when_the_tutor_is_off(lab_tutor_off, open_browser):
    lab = lab_tutor_off
    path = lab.write_notebook("off.ipynb", ["x = 1", "print(y + x)"])
    page = open_lab(open_browser(), lab, path)
    page.wait_for_function("() => document.querySelector('.jp-Notebook .jp-Cell') !== null", timeout=120_000)
    page.wait_for_function(
        "() => { const w = window.jupyterapp.shell.currentWidget;"
        " return w && w.sessionContext && w.sessionContext.session && w.sessionContext.session.kernel; }",
        timeout=120_000,
    )
    run_all(page)
    error = page.locator(".jp-Cell .ltt-ErrorOutput")
    expect(error).to_contain_text("NameError", timeout=120_000)
    expect(page.locator(".jp-Cell .ltt-AskTutorButton")).to_have_count(1)
    expect(page.locator(".jp-Cell .ltt-AskTutorButton")).to_be_hidden()

    # Nor in the cell's context menu; the panel says the tutor is off.
    page.locator(".jp-Cell").nth(1).locator(".jp-InputPrompt").click(button="right")
    expect(page.locator(".lm-Menu").first).to_be_visible()
    expect(page.locator(".lm-Menu .lm-Menu-item", has_text="Ask the Tutor About This Cell")).to_be_hidden()
    page.keyboard.press("Escape")
    page.evaluate("window.jupyterapp.commands.execute('ltt:open-tutor')")
    expect(page.locator(f"{PANEL} .ltt-Notice")).to_contain_text("turned off", timeout=30_000)
