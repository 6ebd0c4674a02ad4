"""The kernel as a learner sees it, in a real browser: `input()` / `getpass()` in notebook cells
(issue 8 item 2) in JupyterLab and Notebook 7, a running cell's `[*]` prompt, and a kernel that
dies mid-run (issue 9 item 1).

Real parts only: a `jupyter lab` / Notebook 7 subprocess on 127.0.0.1 with ltt-ext (conftest.py),
real ipykernel kernels, Debian's headless Chromium through Playwright. Every wait is bounded and
on a real condition; none is an assertion by sleep.
"""

from __future__ import annotations

import json
import signal
import time

import psutil
import pytest
from test_tutor_panel import PANEL, expect

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]

STDIN_ROUTE = "/stdin"  # PUT /ltt/api/kernels/<id>/stdin: the plugin's registration of its websocket

INPUT_CELL = "name = input('Your name? ')\nprint('hello', name)"
GETPASS_CELL = "import getpass\nsecret = getpass.getpass('Secret? ')\nprint('secret length', len(secret))"
SECRET = "s3cr3t-Ada-42"

# Every kernel message a page receives on its notebook's kernel connection, and whether a prompt
# box ever appeared in it (a MutationObserver: a box that came and went is still counted).
RECORD_KERNEL = """
() => {
  const panel = window.jupyterapp.shell.currentWidget;
  const kernel = panel.sessionContext.session.kernel;
  const seen = window.__lttSeen = {stdin: [], streams: [], boxes: 0};
  kernel.anyMessage.connect((_, args) => {
    const m = args.msg;
    if (args.direction !== 'recv') { return; }
    if (m.channel === 'stdin') { seen.stdin.push(m.header.msg_type); }
    if (m.channel === 'iopub' && m.header.msg_type === 'stream') { seen.streams.push(m.content.text); }
  });
  const count = () => { if (document.querySelector('.jp-Stdin')) { seen.boxes++; } };
  new MutationObserver(count).observe(document.body, {subtree: true, childList: true});
  count();
}
"""

# Every "Kernel Restarting" dialog that ever opens in the page (however briefly).
COUNT_DIALOGS = """
() => {
  const seen = new WeakSet();
  window.__lttDialogs = [];
  const count = () => {
    for (const d of document.querySelectorAll('.jp-Dialog')) {
      if (!seen.has(d) && d.textContent.includes('Kernel Restarting')) {
        seen.add(d);
        window.__lttDialogs.push(Math.round(performance.now()));
      }
    }
  };
  new MutationObserver(count).observe(document.body, {subtree: true, childList: true});
}
"""

KERNEL_STATUS = """
() => {
  const w = window.jupyterapp.shell.currentWidget;
  const k = w && w.sessionContext && w.sessionContext.session && w.sessionContext.session.kernel;
  return k ? k.status : null;
}
"""


def _is_stdin_route(response) -> bool:
    return (
        response.request.method == "PUT"
        and "/ltt/api/kernels/" in response.url
        and response.url.split("?")[0].endswith(STDIN_ROUTE)
    )


def open_notebook_page(page, url: str):
    """Open a notebook page; return once ltt-ext's front end has registered this page's kernel
    websocket for prompts (what a learner's first run needs) and the kernel is idle."""
    with page.expect_response(_is_stdin_route, timeout=120_000) as route:
        page.goto(url)
        page.wait_for_function(
            "() => window.jupyterapp !== undefined && document.querySelector('.jp-Notebook .jp-Cell') !== null",
            timeout=120_000,
        )
        # (A stale front end, e.g. one built but not installed, fails here rather than by timeout.)
        plugins = page.evaluate(
            "() => ['ltt-ext:plugin', 'ltt-ext:stdin'].map(id => window.jupyterapp.isPluginActivated(id))"
        )
        assert plugins == [True, True], f"ltt-ext's front end is not active on {url}: {plugins}"
    assert route.value.status == 204, f"the stdin route answered {route.value.status}"
    page.wait_for_function(f"() => ({KERNEL_STATUS})() === 'idle'", timeout=120_000)
    return page


def cell(page, i: int):
    return page.locator(".jp-Notebook .jp-Cell").nth(i)


def run_cell(page, i: int):
    """Run cell i as a learner does: click into it, Shift+Enter."""
    cell(page, i).locator(".jp-InputArea-editor").click()
    page.keyboard.press("Shift+Enter")


def wait_on_disk(server, path: str, index: int, text: str, timeout: float = 30.0) -> str:
    """The JSON of cell `index`'s outputs on disk once it contains `text` (polled, bounded)."""
    deadline = time.monotonic() + timeout
    while True:
        outputs = json.dumps(server.read_notebook(path).cells[index].get("outputs", []))
        if text in outputs:
            return outputs
        if time.monotonic() > deadline:
            raise AssertionError(f"{text!r} never reached cell {index} of {path} on disk; outputs: {outputs}")
        time.sleep(0.2)


def answer_prompts(page, server, path: str):
    """Cell 0 asks for a name with input(), cell 1 for a secret with getpass(): answer both in
    JupyterLab's own prompt box in the cell, and check the cells, and the file, get the answers."""
    # input(): a text box in cell 0's output area, with the prompt.
    run_cell(page, 0)
    box = cell(page, 0).locator(".jp-OutputArea .jp-Stdin .jp-Stdin-input")
    expect(box).to_be_visible(timeout=60_000)
    expect(cell(page, 0).locator(".jp-Stdin-prompt")).to_have_text("Your name? ")
    assert box.get_attribute("type") != "password"
    box.click()
    box.fill("Ada")
    box.press("Enter")
    outputs = cell(page, 0).locator(".jp-OutputArea")
    expect(outputs).to_contain_text("hello Ada", timeout=60_000)
    expect(cell(page, 0).locator(".jp-Stdin")).to_have_count(0, timeout=30_000)
    expect(cell(page, 0).locator(".jp-InputPrompt")).to_have_text("[1]:", timeout=30_000)
    assert "StdinNotImplementedError" not in outputs.inner_text()
    wait_on_disk(server, path, 0, "hello Ada")

    # getpass(): a password box; the secret reaches the kernel, and neither the page nor the file.
    run_cell(page, 1)
    box = cell(page, 1).locator(".jp-OutputArea .jp-Stdin .jp-Stdin-input")
    expect(box).to_be_visible(timeout=60_000)
    expect(cell(page, 1).locator(".jp-Stdin-prompt")).to_have_text("Secret? ")
    expect(box).to_have_attribute("type", "password")
    box.click()
    box.fill(SECRET)
    box.press("Enter")
    outputs = cell(page, 1).locator(".jp-OutputArea")
    expect(outputs).to_contain_text(f"secret length {len(SECRET)}", timeout=60_000)
    expect(cell(page, 1).locator(".jp-Stdin")).to_have_count(0, timeout=30_000)
    assert SECRET not in outputs.inner_text()
    on_disk = wait_on_disk(server, path, 1, f"secret length {len(SECRET)}")
    assert SECRET not in on_disk
    assert SECRET not in (server.root / path).read_text()


def test_input_and_getpass_in_jupyterlab(lab, open_browser):
    path = lab.write_notebook("ask_lab.ipynb", [INPUT_CELL, GETPASS_CELL])
    ctx = open_browser()
    page = open_notebook_page(ctx.new_page(), lab.lab_url(path))
    # A second tab on the same notebook: it must not be offered the first tab's prompts.
    other = open_notebook_page(ctx.new_page(), lab.lab_url(path))
    for p in (page, other):
        p.evaluate(RECORD_KERNEL)

    answer_prompts(page, lab, path)

    # The second tab saw the run (the same iopub stream, which the kernel sends only after the
    # prompt was answered, so any prompt routed to this tab has arrived by then) and no prompt.
    other.wait_for_function(
        f"() => window.__lttSeen.streams.some(t => t.includes('secret length {len(SECRET)}'))", timeout=60_000
    )
    expect(cell(other, 0).locator(".jp-OutputArea")).to_contain_text("hello Ada", timeout=60_000)
    seen_here = page.evaluate("window.__lttSeen")
    seen_there = other.evaluate("window.__lttSeen")
    assert seen_here["stdin"].count("input_request") == 2 and seen_here["boxes"] > 0  # the probe works
    assert seen_there["stdin"] == [], f"the other tab received {seen_there['stdin']}"
    assert seen_there["boxes"] == 0, "a prompt box appeared in the tab that did not run the cell"


def test_input_and_getpass_in_notebook7(notebook7, open_browser):
    path = notebook7.write_notebook("ask_nb7.ipynb", [INPUT_CELL, GETPASS_CELL])
    page = open_browser().new_page()
    # The learner's way in: the file tree, then the notebook's own page.
    page.goto(f"{notebook7.url}/tree?token={notebook7.token}")
    expect(page.locator(".jp-DirListing-item", has_text=path)).to_be_visible(timeout=120_000)
    open_notebook_page(page, notebook7.notebook_url(path))
    answer_prompts(page, notebook7, path)


SLEEPING_CELL = "x = 41\nimport time\nprint('sleeping', flush=True)\ntime.sleep(60)"


def test_running_cell_shows_it_is_running(lab, open_browser):
    """While a cell runs, its prompt is `[*]:` (stock JupyterLab), not the finished `[1]:`."""
    path = lab.write_notebook("running.ipynb", [SLEEPING_CELL])
    page = open_browser().new_page()
    open_notebook_page(page, lab.lab_url(path))
    run_cell(page, 0)
    # The kernel printed from inside the run, and is still sleeping in it: everything the server
    # wrote to the cell before that output (its execution count, at execute_input) has reached
    # the page too, and the page has reacted to it.
    expect(cell(page, 0).locator(".jp-OutputArea")).to_contain_text("sleeping", timeout=60_000)
    kernel_id = [s for s in lab.api("GET", "api/sessions") if s["path"] == path][0]["kernel"]["id"]
    assert lab.api("GET", f"api/kernels/{kernel_id}")["execution_state"] == "busy"
    prompt = cell(page, 0).locator(".jp-InputPrompt").inner_text().strip()
    state = page.evaluate(
        "() => window.jupyterapp.shell.currentWidget.content.widgets[0].model.sharedModel.executionState"
    )
    try:
        assert (prompt, state) == ("[*]:", "running"), (
            f"the running cell shows {prompt!r} (shared execution_state {state!r}): it looks finished"
        )
    finally:
        lab.api("POST", f"api/kernels/{kernel_id}/interrupt")
    expect(cell(page, 0).locator(".jp-OutputArea")).to_contain_text("KeyboardInterrupt", timeout=60_000)
    expect(cell(page, 0).locator(".jp-InputPrompt")).to_have_text("[1]:", timeout=30_000)


def _kernel_processes(server, kernel_id: str) -> list[psutil.Process]:
    found = []
    for child in psutil.Process(server.proc.pid).children(recursive=True):
        try:
            if any(f"kernel-{kernel_id}.json" in arg for arg in child.cmdline()):
                found.append(child)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return found


def test_killed_kernel_is_reported(lab, fake_llm, open_browser):
    fake_llm.reset()
    path = lab.write_notebook("dies.ipynb", [SLEEPING_CELL, "print('alive', 'x' in globals())"])
    page = open_browser().new_page()
    open_notebook_page(page, lab.lab_url(path))
    page.evaluate("window.jupyterapp.commands.execute('ltt:open-tutor')")
    state = page.locator(f"{PANEL} .ltt-TutorHeader .ltt-KernelState")
    expect(state).to_have_attribute("data-kernel-state", "idle", timeout=120_000)

    run_cell(page, 0)
    expect(cell(page, 0).locator(".jp-OutputArea")).to_contain_text("sleeping", timeout=60_000)
    expect(state).to_have_attribute("data-kernel-state", "busy", timeout=60_000)
    session = [s for s in lab.api("GET", "api/sessions") if s["path"] == path]
    assert len(session) == 1, session
    kernel_id = session[0]["kernel"]["id"]
    deadline = time.monotonic() + 30
    while lab.api("GET", f"api/kernels/{kernel_id}")["execution_state"] != "busy":
        assert time.monotonic() < deadline, "the kernel never reported busy for the sleeping cell"
        time.sleep(0.1)
    kernel = _kernel_processes(lab, kernel_id)
    assert len(kernel) == 1, f"kernel process of {kernel_id}: {kernel}"
    page.evaluate(COUNT_DIALOGS)
    kernel[0].send_signal(signal.SIGKILL)
    kernel[0].wait(10)

    # JupyterLab's own dialog, on the iopub `restarting` status the server sends.
    dialog = page.locator(".jp-Dialog", has_text="Kernel Restarting")
    expect(dialog).to_be_visible(timeout=60_000)
    expect(dialog).to_contain_text("appears to have died")
    expect(dialog).to_contain_text("restart automatically")
    dialog.locator(".jp-Dialog-button.jp-mod-accept").click()
    # Back on the new kernel: this page's connection is up and idle. Any `restarting` the server
    # sends a (re)connecting websocket arrives before its `idle`, so every dialog the death
    # caused has opened by now. Close any further one, and count them at the end.
    page.wait_for_function(f"() => ({KERNEL_STATUS})() === 'idle'", timeout=120_000)
    for _ in range(10):
        extra = page.locator(".jp-Dialog .jp-Dialog-button.jp-mod-accept")
        if not extra.count():
            break
        extra.first.click()
    expect(page.locator(".jp-Dialog")).to_have_count(0, timeout=30_000)
    dialogs = page.evaluate("window.__lttDialogs")

    # The tutor says so, in the panel.
    notice = page.locator(f"{PANEL} .jp-chat-rendered-message", has_text="kernel restarted")
    expect(notice).to_have_count(1, timeout=60_000)

    # A fresh kernel: the next cell runs, and the earlier variables are gone; the killed run is
    # not left as running, in the page or in the REST API.
    expect(state).to_have_attribute("data-kernel-state", "idle", timeout=120_000)
    run_cell(page, 1)
    expect(cell(page, 1).locator(".jp-OutputArea")).to_contain_text("alive False", timeout=60_000)
    expect(cell(page, 0).locator(".jp-InputPrompt")).not_to_have_text("[*]:", timeout=30_000)
    deadline = time.monotonic() + 30
    while (model := lab.api("GET", f"api/kernels/{kernel_id}"))["execution_state"] != "idle":
        assert time.monotonic() < deadline, f"GET /api/kernels still says {model['execution_state']}"
        time.sleep(0.1)
    new_kernel = _kernel_processes(lab, kernel_id)
    assert len(new_kernel) == 1 and new_kernel[0].pid != kernel[0].pid
    wait_on_disk(lab, path, 1, "alive False")
    # One death, one dialog (a learner who clicks Ok must not get it again).
    assert len(dialogs) == 1, f"{len(dialogs)} 'Kernel Restarting' dialogs for one kernel death: {dialogs}"
