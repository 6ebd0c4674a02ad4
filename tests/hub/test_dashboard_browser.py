"""The instructor dashboard in a real browser (headless Debian chromium through Playwright), on the
hub of test_course.py: the instructor logs in to the hub with a password, opens /services/ltt-tutor/
(OAuth through the hub), sees learners × notebooks, error families, stuck learners, filters, live
updates and the CSV link; learner text is shown as text, never run. Saves docs/screenshot-dashboard.png.
A learner who logs in gets a 403 page, not the dashboard.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hubtools import INSTRUCTOR, PASSWORD, http

from ltt_ext.testing import CHROMIUM, CHROMIUM_ARGS

DOCS = Path(__file__).resolve().parents[2] / "docs"
XSS = '<img src=x onerror="window.__ltt_xss=1">'

pytestmark = [
    pytest.mark.timeout(240),
    pytest.mark.skipif(
        not os.path.exists(CHROMIUM), reason=f"{CHROMIUM} is missing (make test-deps installs it)"
    ),
]


@pytest.fixture(autouse=True)
def jp_asyncio_loop():
    """The hub tests run no in-process Jupyter server (Playwright's sync API runs its own loop in this thread; see tests/browser/conftest.py)."""
    yield None


@pytest.fixture(autouse=True)
def jp_server_cleanup():
    yield


def report(hub, token: str, **event) -> None:
    r = http("POST", hub.service_url("api/tutor/events"), token, event)
    assert r.status == 204, r.body


@pytest.fixture
def browser(tmp_path):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        ctx = p.chromium.launch_persistent_context(
            str(tmp_path / "profile"),
            executable_path=CHROMIUM,
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1440, "height": 900},
            color_scheme="light",
        )
        ctx.set_default_timeout(60_000)
        try:
            yield ctx
        finally:
            ctx.close()


def login(page, hub, user: str) -> None:
    page.goto(f"{hub.url}/hub/login")
    page.fill("#username_input", user)
    page.fill("#password_input", PASSWORD)
    page.click("#login_submit")
    page.wait_for_url("**/hub/**")


def test_the_instructor_dashboard_in_a_browser(hub, tokens, servers, browser):
    # material a course day leaves (test_course.py ran first in this session, or runs now)
    report(
        hub,
        tokens["alice"],
        type="error",
        path="lesson2/dicts.ipynb",
        file_id="f-dicts",
        cell_id="c1",
        ename="KeyError",
        evalue=XSS,
        signature="s1",
    )
    report(
        hub,
        tokens["bob"],
        type="error",
        path="lesson2/dicts.ipynb",
        file_id="f-dicts-bob",
        cell_id="c1",
        ename="KeyError",
        evalue="'Name'",
        signature="s2",
    )
    report(
        hub,
        tokens["bob"],
        type="error",
        path="lesson2/dicts.ipynb",
        file_id="f-dicts-bob",
        cell_id="c1",
        ename="KeyError",
        evalue="'Name'",
        signature="s2",
    )
    report(
        hub,
        tokens["alice"],
        type="error",
        path="lesson1/lists.ipynb",
        file_id="f-lists",
        cell_id="c0",
        ename="IndexError",
        evalue="list index out of range",
        signature="s0",
    )
    hint = {
        "kind": "hint",
        "level": 1,
        "path": "lesson1/lists.ipynb",
        "file_id": "f-lists",
        "cell_id": "c0",
        "focus": {"code": "[1][3]", "error": {"ename": "IndexError", "evalue": "list index out of range"}},
        "consent": True,
    }
    r = http("POST", hub.service_url("api/tutor/produce"), tokens["alice"], hint)
    assert r.status == 200 and b'"done"' in r.body, r.body
    page = browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    login(page, hub, INSTRUCTOR)
    page.goto(hub.service_url())
    page.wait_for_selector("#ltt-dashboard[data-loaded]")
    page.wait_for_selector('#ltt-live[data-state="live"]')
    matrix = page.locator("#ltt-matrix")
    assert matrix.locator('tr[data-learner="alice"]').count() == 1
    assert matrix.locator('tr[data-learner="bob"]').count() == 1
    families = page.locator("#ltt-families").inner_text()
    assert "KeyError" in families and "IndexError" in families
    # bob hit the same KeyError twice in a few seconds (the test service's stuck_errors is 2)
    stuck = page.locator('#ltt-stuck .ltt-stuck-item[data-learner="bob"]')
    assert "KeyError" in stuck.inner_text()
    # learner text is text: the markup shows literally and never runs
    recent = page.locator("#ltt-recent").inner_text()
    assert XSS in recent
    assert page.evaluate("window.__ltt_xss") is None
    assert page.locator("#ltt-recent img").count() == 0
    # hints show their level
    assert page.locator('#ltt-recent tr[data-kind="hint"] .ltt-level').count() >= 1

    # live: a new error family appears without reloading
    report(
        hub,
        tokens["alice"],
        type="error",
        path="lesson2/dicts.ipynb",
        file_id="f-dicts",
        cell_id="c2",
        ename="ZeroDivisionError",
        evalue="division by zero",
        signature="s3",
    )
    page.wait_for_function("document.getElementById('ltt-families').innerText.includes('ZeroDivisionError')")

    # filters: one learner, one error family
    page.select_option("#f-learner", "alice")
    page.wait_for_function("!document.querySelector('#ltt-matrix tr[data-learner=\"bob\"]')")
    assert matrix.locator('tr[data-learner="alice"]').count() == 1
    page.select_option("#f-ename", "KeyError")
    page.wait_for_function("!document.getElementById('ltt-families').innerText.includes('ZeroDivisionError')")
    href = page.get_attribute("#ltt-export", "href")
    assert "learner=alice" in href and "ename=KeyError" in href
    csv = page.request.get(hub.url + href if href.startswith("/") else href)
    assert csv.ok and csv.text().startswith("created,learner")
    assert ",bob," not in csv.text() and "KeyError" in csv.text()

    page.select_option("#f-learner", "")
    page.select_option("#f-ename", "")
    page.wait_for_selector('#ltt-matrix tr[data-learner="bob"]')
    page.wait_for_function("document.getElementById('ltt-families').innerText.includes('ZeroDivisionError')")
    DOCS.mkdir(exist_ok=True)
    page.screenshot(path=str(DOCS / "screenshot-dashboard.png"))
    assert not errors, errors


def test_a_learner_gets_no_dashboard(hub, servers, browser):
    page = browser.new_page()
    login(page, hub, "alice")
    response = page.goto(hub.service_url())
    assert response is not None and response.status == 403
    assert "not an instructor" in page.inner_text("body")
    assert page.locator("#ltt-dashboard").count() == 0
