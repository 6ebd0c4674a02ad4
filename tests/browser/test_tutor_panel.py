"""The tutor sidebar in a real JupyterLab, in headless Chromium (issue 4 §7).

One `jupyter lab` for the module (see conftest.py), the real tutor on the local fake LLM, and a
fresh browser profile per test. Every wait is on a real condition; none is an assertion by sleep.
"""

from __future__ import annotations

import time

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]

PANEL = "#ltt-tutor-panel"
CHAT = f"{PANEL} .ltt-TutorChat:not(.lm-mod-hidden)"
MESSAGE = f"{CHAT} .jp-chat-rendered-message"
INPUT = f"{CHAT} textarea[aria-label='Ask the tutor a question']"

# Record the tutor's websockets, and let a test cut them and keep them from coming back.
TRACK_SOCKETS = """
(() => {
  const Native = window.WebSocket;
  window.__lttSockets = [];
  window.__lttBlock = false;
  class Tracked extends Native {
    constructor(url, protocols) {
      const mine = String(url).includes('/ltt/api/tutor/stream');
      super(mine && window.__lttBlock ? 'ws://127.0.0.1:9/blocked' : url, protocols);
      if (mine) { window.__lttSockets.push(this); }
    }
  }
  window.WebSocket = Tracked;
})();
"""


def expect(*args, **kwargs):
    from playwright.sync_api import expect as _expect

    return _expect(*args, **kwargs)


def open_notebook(ctx, lab, path: str, page=None, engine: str = "fake-tutor"):
    """Open JupyterLab on a notebook, show the tutor panel (answering with ``engine``), wait until it
    is live and idle."""
    page = page or ctx.new_page()
    page.goto(lab.lab_url(path))
    page.wait_for_function(
        "() => window.jupyterapp !== undefined && document.querySelector('.jp-Notebook .jp-Cell') !== null",
        timeout=120_000,
    )
    page.evaluate("window.jupyterapp.commands.execute('ltt:open-tutor')")
    header = page.locator(f"{PANEL} .ltt-TutorHeader")
    expect(header.locator(".ltt-TutorHeader-notebook")).to_have_text(path, timeout=60_000)
    expect(header.locator(".ltt-TutorHeader-engine")).to_contain_text(engine, timeout=60_000)
    expect(header.locator(".ltt-Connection")).to_have_attribute("data-connection", "live", timeout=60_000)
    expect(header.locator(".ltt-KernelState")).to_have_attribute("data-kernel-state", "idle", timeout=120_000)
    return page


def run_all(page):
    """Start running every cell; returns at once (the command's promise settles when they end)."""
    page.evaluate("() => { void window.jupyterapp.commands.execute('notebook:run-all-cells'); }")


def ask(page, text: str):
    box = page.locator(INPUT)
    box.click()
    box.fill(text)
    box.press("Enter")


def _luminance(css_color: str) -> float:
    parts = [float(x) for x in css_color[css_color.index("(") + 1 : css_color.index(")")].split(",")[:3]]
    return sum(parts) / (3 * 255)


def widen_sidebar_and_scroll(page):
    """For screenshots: a roomier right sidebar, and the conversation scrolled to its end."""
    page.evaluate("""() => {
      const split = window.jupyterapp.shell._hsplitPanel;
      if (split) { split.setRelativeSizes([0.17, 0.55, 0.28]); }
    }""")
    page.wait_for_function(f"() => document.querySelector('{PANEL}').getBoundingClientRect().width > 330")
    page.evaluate(
        """(sel) => {
      for (const el of document.querySelectorAll(sel + ' *')) {
        if (el.tagName !== 'TEXTAREA' && el.scrollHeight > el.clientHeight + 4 &&
            getComputedStyle(el).overflowY !== 'visible') {
          el.scrollTop = el.scrollHeight;
        }
      }
    }""",
        CHAT,
    )
    page.wait_for_timeout(300)  # let the scroll and re-layout paint before the picture


def tutor_messages(page):
    return page.locator(MESSAGE)


def test_error_gives_a_hint_in_the_panel(lab, fake_llm, open_browser):
    fake_llm.reset(default_reply="HINT-7f3: look at where **y** gets its value before this line.")
    path = lab.write_notebook("hint.ipynb", ["x = 1", "print(y + x)"])
    page = open_notebook(open_browser(), lab, path)
    # The engine is named; the key never reaches the page.
    assert "sk-test-secret-key" not in page.content()

    # With the panel closed, the tutor's own hint opens it.
    page.evaluate("window.jupyterapp.shell.collapseRight()")
    expect(page.locator(PANEL)).to_be_hidden()
    run_all(page)
    expect(page.locator(PANEL)).to_be_visible(timeout=60_000)
    ask_button = page.locator(".jp-Cell .ltt-AskTutorButton")
    expect(ask_button).to_be_visible(timeout=60_000)
    expect(page.locator(".jp-Cell .ltt-ErrorOutput")).to_contain_text("NameError")

    hint = tutor_messages(page).filter(has_text="HINT-7f3")
    expect(hint).to_have_count(1, timeout=60_000)
    expect(page.locator(f"{CHAT} .ltt-Badge-hint").first).to_contain_text("Hint")
    expect(hint.locator("strong")).to_have_text("y")

    history = lab.history(path)
    hints = [m for m in history if m["kind"] == "hint"]
    assert hints and hints[0]["cell_id"] == "cell-1"

    # The cell context menu asks about that cell.
    page.locator(".jp-Cell").nth(0).locator(".jp-InputPrompt").click(button="right")
    item = page.locator(".lm-Menu .lm-Menu-item", has_text="Ask the Tutor About This Cell")
    expect(item).to_be_visible()
    item.click()
    expect(page.locator(f"{PANEL} .ltt-ContextCell")).to_contain_text("cell [1]")

    # "Ask the tutor" on the error: the panel gets that cell as context and a prefilled question.
    ask_button.click()
    expect(page.locator(f"{PANEL} .ltt-ContextCell")).to_contain_text("cell [2]")
    expect(page.locator(f"{PANEL} .ltt-ContextCell")).to_contain_text("cell")
    expect(page.locator(INPUT)).to_have_value("Why do I get NameError: name 'y' is not defined?")
    page.locator(INPUT).press("Enter")
    expect(tutor_messages(page).filter(has_text="Why do I get NameError")).to_have_count(1, timeout=30_000)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        questions = [m for m in lab.history(path) if m["kind"] == "question"]
        if questions:
            break
        time.sleep(0.2)
    assert questions[0]["cell_id"] == "cell-1"

    # "More help" climbs the hint ladder.
    expect(page.locator(f"{CHAT} .ltt-Badge-streaming")).to_have_count(0, timeout=60_000)
    page.locator(f"{CHAT} .ltt-MoreHelpButton").click()
    expect(page.locator(f"{CHAT} .ltt-Badge-hint", has_text="level 2")).to_have_count(1, timeout=60_000)
    expect(tutor_messages(page).filter(has_text="More help, please.")).to_have_count(1)


def test_streamed_answer_stop_and_screenshots(lab, fake_llm, open_browser, docs_dir):
    fake_llm.reset(
        default_reply="Python reads a notebook top to bottom: a name used in a cell must be "
        "**defined in a cell that already ran**. Which cell sets `y`?"
    )
    path = lab.write_notebook("lesson.ipynb", ["x = 1", "total = x + y\nprint(total)"])
    page = open_notebook(open_browser(height=1000), lab, path)
    run_all(page)
    expect(page.locator(f"{CHAT} .ltt-Badge-hint")).to_have_count(1, timeout=60_000)
    expect(page.locator(f"{CHAT} .ltt-Badge-streaming")).to_have_count(0, timeout=60_000)

    # Shift+Enter adds a line, Enter sends.
    answer = (
        "A `NameError` means Python has not seen that name yet. Here is the idea with other names:\n\n"
        "```python\nprice = 3\nprint(price * 2)\n```\n\nNow look at the order of *your* cells."
    )
    fake_llm.reset(default_reply=answer, token_delay=0.06)
    box = page.locator(INPUT)
    box.click()
    box.type("Why does my second cell fail?")
    box.press("Shift+Enter")
    box.type("I ran both cells.")
    assert box.input_value() == "Why does my second cell fail?\nI ran both cells."
    # Watch the answer grow token by token.
    page.evaluate(
        """() => {
      window.__lttLengths = [];
      const poll = () => {
        const msgs = document.querySelectorAll("%s");
        const last = msgs[msgs.length - 1];
        if (last) { window.__lttLengths.push(last.textContent.length); }
        if (window.__lttLengths.length < 2000) { setTimeout(poll, 25); }
      };
      poll();
    }"""  # noqa: UP031 -- a JS template full of braces: %s is its one readable placeholder
        % MESSAGE.replace('"', '\\"')
    )
    box.press("Enter")
    expect(box).to_have_value("")
    question = tutor_messages(page).filter(has_text="I ran both cells.")
    expect(question).to_have_count(1, timeout=30_000)
    expect(page.locator(f"{PANEL} .ltt-Thinking")).to_be_visible(timeout=30_000)
    final = tutor_messages(page).filter(has_text="Now look at the order of your cells.")
    expect(final).to_have_count(1, timeout=60_000)
    expect(page.locator(f"{CHAT} .ltt-Badge-streaming")).to_have_count(0, timeout=30_000)
    lengths = page.evaluate("window.__lttLengths")
    growth = sorted({n for n in lengths if n > 0})
    assert len(growth) >= 5, f"the answer did not stream: text lengths seen {growth}"
    expect(final.locator("pre")).to_contain_text("price = 3")
    expect(page.locator(f"{PANEL} .ltt-Thinking")).to_have_count(0, timeout=30_000)

    # Screenshots of the panel, light theme, with a hint and a streamed answer.
    docs_dir.mkdir(exist_ok=True)
    widen_sidebar_and_scroll(page)
    page.locator(PANEL).screenshot(path=str(docs_dir / "screenshot-panel.png"))
    page.screenshot(path=str(docs_dir / "screenshot-lab.png"))

    # Stop: a long answer, stopped mid-stream, really stops on the server.
    long_answer = " ".join(f"word{i}" for i in range(200)) + " THE-END"
    fake_llm.reset(default_reply=long_answer, token_delay=0.1)
    ask(page, "Explain it at length please")
    stop = page.locator(f"{CHAT} button.ltt-StopButton")
    expect(stop).to_be_enabled(timeout=30_000)
    expect(tutor_messages(page).filter(has_text="word3")).to_have_count(1, timeout=30_000)
    stop.click()
    page.mouse.move(0, 0)  # no lingering tooltip
    expect(page.locator(f"{CHAT} .ltt-Badge-stopped")).to_have_count(1, timeout=30_000)
    expect(stop).to_be_disabled(timeout=30_000)
    stopped = [m for m in lab.history(path) if m["status"] == "stopped"]
    assert len(stopped) == 1 and "THE-END" not in stopped[0]["text"]
    assert "THE-END" not in page.locator(PANEL).inner_text()

    # The dark theme: JupyterLab's CSS variables carry the panel over.
    page.evaluate("window.jupyterapp.commands.execute('apputils:change-theme', {theme: 'JupyterLab Dark'})")
    page.wait_for_function("() => document.body.dataset.jpThemeLight === 'false'", timeout=60_000)
    bg = page.locator(f"{PANEL} .ltt-TutorHeader").evaluate("el => getComputedStyle(el).backgroundColor")
    assert _luminance(bg) < 0.3, bg
    widen_sidebar_and_scroll(page)
    page.locator(PANEL).screenshot(path=str(docs_dir / "screenshot-panel-dark.png"))
    page.evaluate("window.jupyterapp.commands.execute('apputils:change-theme', {theme: 'JupyterLab Light'})")
    page.wait_for_function("() => document.body.dataset.jpThemeLight === 'true'", timeout=60_000)


def test_browser_closed_during_long_cell_then_reopened(lab, fake_llm, open_browser):
    fake_llm.reset(default_reply="LATE-HINT: the loop finished; read the last line of the traceback.")
    source = (
        "import time\n"
        "for i in range(8):\n"
        "    print('tick', i, flush=True)\n"
        "    time.sleep(0.5)\n"
        "raise ValueError('late failure')"
    )
    path = lab.write_notebook("long.ipynb", [source])
    ctx = open_browser()
    page = open_notebook(ctx, lab, path)
    run_all(page)
    expect(page.locator(f"{PANEL} .ltt-KernelState")).to_have_attribute(
        "data-kernel-state", "busy", timeout=60_000
    )
    expect(page.locator(".jp-Cell .jp-OutputArea")).to_contain_text("tick 1", timeout=60_000)
    ctx.close()  # the learner closes the browser while the cell still runs

    deadline = time.monotonic() + 90
    nb_done = hint_done = False
    while time.monotonic() < deadline and not (nb_done and hint_done):
        nb = lab.read_notebook(path)
        outputs = nb.cells[0].get("outputs", [])
        nb_done = any(o.get("output_type") == "error" for o in outputs)
        hint_done = any(m["kind"] == "hint" and m["status"] == "done" for m in lab.history(path))
        time.sleep(0.3)
    assert nb_done, f"the error never reached the .ipynb: {lab.read_notebook(path).cells[0].get('outputs')}"
    assert hint_done, f"no hint was given while the browser was away: {lab.history(path)}"

    page = open_notebook(open_browser(), lab, path)
    out = page.locator(".jp-Cell .jp-OutputArea").first
    expect(out).to_contain_text("tick 7", timeout=60_000)
    expect(out).to_contain_text("ValueError")
    expect(tutor_messages(page).filter(has_text="LATE-HINT")).to_have_count(1, timeout=60_000)


def test_html_and_script_in_an_answer_run_nothing(lab, fake_llm, open_browser):
    fake_llm.reset(
        default_reply=(
            'Plain **bold** text. <img src=x onerror="window.__lttXss = 1"> '
            '<script>window.__lttXss = 2</script> <svg onload="window.__lttXss = 3"></svg> '
            "[click](javascript:window.__lttXss=4) XSS-END"
        )
    )
    path = lab.write_notebook("xss.ipynb", ["x = 1"])
    page = open_notebook(open_browser(), lab, path)
    ask(page, "Show me some HTML")
    answer = tutor_messages(page).filter(has_text="XSS-END")
    expect(answer).to_have_count(1, timeout=60_000)
    expect(page.locator(f"{CHAT} .ltt-Badge-streaming")).to_have_count(0, timeout=30_000)
    expect(answer.locator("strong")).to_have_text("bold")
    # Give any handler every chance to fire (image error events are async) before checking.
    page.wait_for_function("() => document.readyState === 'complete'")
    page.evaluate("() => new Promise(r => setTimeout(r, 500))")
    assert page.evaluate("window.__lttXss") is None
    assert answer.locator("script").count() == 0
    assert page.locator(f"{PANEL} [onerror], {PANEL} [onload]").count() == 0
    hrefs = answer.locator("a").evaluate_all("els => els.map(e => e.getAttribute('href') || '')")
    assert not any(h.strip().lower().startswith("javascript:") for h in hrefs)


def test_second_tab_live_and_reconnect_catches_up_without_duplicates(lab, fake_llm, open_browser):
    fake_llm.reset(default_reply="LIVE-ANSWER for both tabs.")
    path = lab.write_notebook("live.ipynb", ["x = 1"])
    ctx = open_browser()
    ctx.add_init_script(TRACK_SOCKETS)
    first = open_notebook(ctx, lab, path)
    second = open_notebook(ctx, lab, path)

    ask(first, "Question from tab one")
    for page in (first, second):
        expect(tutor_messages(page).filter(has_text="LIVE-ANSWER")).to_have_count(1, timeout=60_000)
        expect(tutor_messages(page).filter(has_text="Question from tab one")).to_have_count(1)

    # Cut the second tab's stream and keep it down while the conversation goes on.
    second.evaluate("() => { window.__lttBlock = true; window.__lttSockets.forEach(s => s.close()); }")
    expect(second.locator(f"{PANEL} .ltt-Connection")).to_have_attribute(
        "data-connection", "reconnecting", timeout=30_000
    )
    fake_llm.reset(default_reply="AWAY-ANSWER written while tab two was offline.")
    lab.api("POST", "ltt/api/tutor/ask", {"path": path, "text": "AWAY-QUESTION asked elsewhere"})
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if any("AWAY-ANSWER" in m["text"] and m["status"] == "done" for m in lab.history(path)):
            break
        time.sleep(0.2)
    expect(tutor_messages(second).filter(has_text="AWAY-ANSWER")).to_have_count(0)

    # The network comes back: the panel reconnects at once (no waiting out the backoff).
    second.evaluate("() => { window.__lttBlock = false; window.dispatchEvent(new Event('online')); }")
    expect(second.locator(f"{PANEL} .ltt-Connection")).to_have_attribute(
        "data-connection", "live", timeout=60_000
    )
    expect(tutor_messages(second).filter(has_text="AWAY-ANSWER")).to_have_count(1, timeout=30_000)
    expect(tutor_messages(second).filter(has_text="AWAY-QUESTION")).to_have_count(1)
    # Exactly the server's conversation: nothing twice.
    expect(tutor_messages(second)).to_have_count(len(lab.history(path)))
    expect(tutor_messages(first)).to_have_count(len(lab.history(path)))
