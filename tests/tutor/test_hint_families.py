"""Every error family of the built-in engine, on real kernel errors through a real server.

For each family of the hint corpus (benchmarks/hint_corpus.py), each case is a notebook with its own
kernel, whose setup cells and failing cell run over the kernel websocket;
the tutor's proactive level-1 hint and two "more help" replies are read from the tutor, and their
facts are asserted with the evaluation's own scoring: the culprit words at level 1 and by level 2,
no wrong claim (and only the case's line numbers), never the fixed code.
"""

import json

import nbformat
import pytest

from benchmarks.hint_corpus import CASES, Case, families
from benchmarks.hint_eval import score
from ltt_ext.testing import wait_until


@pytest.fixture
def jp_server_config(ltt_tutored_server_config):
    ltt_tutored_server_config["Tutor"]["model"] = ""  # the built-in engine
    ltt_tutored_server_config["Tutor"]["proactive_delay"] = 0.0
    return ltt_tutored_server_config


def _notebook(case: Case, tag: str):
    """Cell ids are unique across the kernel's notebooks (the tutor maps a cell id to its notebook)."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    for prefix, sources in (("s", case.setup), ("u", case.unrun)):
        for i, src in enumerate(sources):
            nb.cells.append(nbformat.v4.new_code_cell(src, id=f"{tag}-{prefix}{i}"))
    nb.cells.append(nbformat.v4.new_code_cell(case.code, id=f"{tag}-fail"))
    return nb


async def _hint(tutor, path, level):
    for m in await tutor.messages(path):
        if m.kind == "hint" and m.level == level and m.status == "done":
            return m
    return None


async def _run(ws, code, cell_id=None):
    msg_id = ws.execute(code, cell_id=cell_id)
    await ws.wait_idle(msg_id)
    return [m for _, m in ws.messages if m["parent_header"].get("msg_id") == msg_id]


@pytest.mark.parametrize("family", families())
async def test_family_hints_on_real_errors(family, jp_fetch, jp_root_dir, jp_serverapp, ltt_tutor, kernel_ws):
    problems = []
    for i, case in enumerate(c for c in CASES if c.family == family):
        # one notebook and one kernel per case: a clean namespace, and no doubt about which
        # notebook a kernel's execution belongs to
        folder = jp_root_dir / f"case{i}"
        folder.mkdir()
        for name, data in case.files.items():
            (folder / name).write_bytes(data)
        path = f"case{i}/{case.id}.ipynb"
        tag = f"c{i}"
        nbformat.write(_notebook(case, tag), jp_root_dir / path)
        body = {"path": path, "name": f"{case.id}.ipynb", "type": "notebook", "kernel": {"name": "python3"}}
        session = json.loads((await jp_fetch("api", "sessions", method="POST", body=json.dumps(body))).body)
        ws = await kernel_ws(session["kernel"]["id"])
        await _run(ws, f"%cd -q {folder}")
        for j, src in enumerate(case.setup):
            replies = await _run(ws, src, f"{tag}-s{j}")
            assert not [m for m in replies if m["header"]["msg_type"] == "error"], (case.id, src)
        replies = await _run(ws, case.code, f"{tag}-fail")
        errors = [m["content"]["ename"] for m in replies if m["header"]["msg_type"] == "error"]
        assert errors == [case.ename], (case.id, errors)

        texts = [(await wait_until(lambda path=path: _hint(ltt_tutor, path, 1), timeout=30)).text]
        for level in (2, 3):
            more = {"path": path, "cell_id": f"{tag}-fail"}
            r = await jp_fetch("ltt", "api", "tutor", "more", method="POST", body=json.dumps(more))
            assert r.code == 202
            hint = await wait_until(lambda level=level, path=path: _hint(ltt_tutor, path, level), timeout=30)
            texts.append(hint.text)
        await ws.close()
        # the kernel is left to the server's teardown: a graceful shutdown per case is slow on a busy machine
        await jp_serverapp.kernel_manager.shutdown_kernel(session["kernel"]["id"], now=True)

        s = score(case, texts)
        specific = s.specific_l1 if case.needs_facts else s.specific_l1 and s.specific_l12
        if not (specific and s.correct and not s.revealing):
            problems.append(
                f"{case.id}: missing L1 {s.missing_l1}, missing L1-2 {s.missing_l12}, wrong {s.wrong}, "
                f"revealed {s.revealed}\n" + "\n".join(texts)
            )
    assert not problems, "\n\n".join(problems)
