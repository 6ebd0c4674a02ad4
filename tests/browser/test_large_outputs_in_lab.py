"""A large output, kept out of the notebook's YDoc, still shows in JupyterLab as it is — while the
cell runs, in a second tab that opens the notebook afterwards — and reaches the .ipynb in full.

Real parts only: `jupyter lab` with ltt-ext (conftest.py), a real kernel, headless Chromium.
"""

from __future__ import annotations

import pytest
from test_kernel_behaviour import cell, open_notebook_page, run_cell, wait_on_disk
from test_tutor_panel import expect

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]

# Small enough for a quick cell; the cell below prints about 29 kB.
LAB_ARGS = ["--LargeOutputsManager.inline_limit=20000"]

BIG_CELL = "for i in range(5000):\n    print('line', i)"
SMALL_CELL = "print('small and inline')"

FIRST_OUTPUT = """
(i) => {
  const model = window.jupyterapp.shell.currentWidget.content.widgets[i].model;
  const outs = model.sharedModel.getOutputs();
  return outs.length ? outs[0] : null;
}
"""


def test_a_large_output_shows_in_jupyterlab_from_outside_the_ydoc(lab, open_browser):
    path = lab.write_notebook("big_output.ipynb", [BIG_CELL, SMALL_CELL])
    context = open_browser()
    page = open_notebook_page(context.new_page(), lab.lab_url(path))
    run_cell(page, 0)
    outputs = cell(page, 0).locator(".jp-OutputArea")
    expect(outputs).to_contain_text("line 4999", timeout=60_000)
    expect(cell(page, 0).locator(".jp-InputPrompt")).to_have_text("[1]:", timeout=60_000)
    text = outputs.inner_text()
    assert "line 0\n" in text and text.count("line ") == 5000
    # The shared model (the YDoc) holds a placeholder with the URL the page fetched it from.
    shared = page.evaluate(FIRST_OUTPUT, 0)
    assert shared["output_type"] == "stream" and shared["metadata"]["url"].startswith("/api/outputs/")
    assert len(str(shared)) < 500
    run_cell(page, 1)
    expect(cell(page, 1).locator(".jp-OutputArea")).to_contain_text("small and inline", timeout=60_000)
    assert "url" not in (page.evaluate(FIRST_OUTPUT, 1).get("metadata") or {})

    # On disk: the whole output, not the placeholder.
    on_disk = wait_on_disk(lab, path, 0, "line 4999")
    assert "/api/outputs/" not in on_disk

    # A second tab opening the notebook shows it too (fetched when the cell's model is made).
    second = open_notebook_page(context.new_page(), lab.lab_url(path))
    expect(cell(second, 0).locator(".jp-OutputArea")).to_contain_text("line 4999", timeout=60_000)
    assert cell(second, 0).locator(".jp-OutputArea").inner_text().count("line ") == 5000
