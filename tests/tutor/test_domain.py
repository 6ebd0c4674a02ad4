"""Pure domain pieces: ladder, proactive gate, budget, instructor notes, prompt context, the listener."""

import json

from ltt_ext.kernels.message import KernelMessage
from ltt_ext.tutor import instructor, prompts
from ltt_ext.tutor.budget import Budget
from ltt_ext.tutor.context import Cell, ErrorInfo, Execution, NotebookContext
from ltt_ext.tutor.policy import HintLadder, ProactiveGate
from ltt_ext.tutor.service import Tutor
from ltt_ext.tutor.text import ELIDED, elide, strip_ansi


def test_ladder_is_per_error_and_climbs_from_what_was_shown():
    lad = HintLadder()
    assert lad.next_level("nb", "sig1") == 1  # a new error starts at the nudge
    lad.shown("nb", "sig1", 1)
    assert lad.next_level("nb", "sig1") == 2  # the same error again, or "more help"
    lad.shown("nb", "sig1", 2)
    lad.shown("nb", "sig1", 3)
    assert lad.next_level("nb", "sig1") == 3  # the top rung stays
    # another error in the same notebook has its own ladder, and one never shown starts at 1
    assert lad.next_level("nb", "sig2") == 1
    assert lad.next_level("other", "sig1") == 1
    lad.forget("nb")
    assert lad.next_level("nb", "sig1") == 1


def test_proactive_gate_is_per_error():
    g = ProactiveGate(10)
    assert g.allow("nb", "sig1", 0)
    assert not g.allow("nb", "sig1", 5)  # the same error re-run in a loop: one hint
    assert g.allow("nb", "sig2", 5)  # a different error, seconds later: its own hint
    assert g.allow("other", "sig1", 5)
    assert g.allow("nb", "sig1", 10.5)


def test_budget_windows():
    b = Budget(tokens_per_hour=100, requests_per_minute=2)
    assert b.check([], 0) is None
    usage = [(0, 1, 0), (1, 1, 0)]  # (at, requests, tokens) rows, as the store returns them
    assert "2 questions per minute" in b.check(usage, 2)
    assert b.check(usage, 61) is None
    usage.append((61, 0, 150))
    assert "tokens" in b.check(usage, 62) and b.tokens_spent(usage, 62)
    assert b.check(usage, 61 + 3600) is None


NOTES = """# Week 2
## Learning objectives
Use a for loop to accumulate a running total across the list.
## Solution
```python
total = sum(prices)  # secret-line
```
### Why
still secret because nested under Solution
## Pitfalls
Learners often reset the accumulator inside the loop body by mistake.
<!-- private -->teacher-only remark<!-- /private -->
"""


def test_instructor_notes_split_and_redaction():
    assert instructor.candidate_paths("a/b/nb.ipynb", "TUTOR.md") == [
        "a/b/nb.tutor.md",
        "a/b/TUTOR.md",
        "a/TUTOR.md",
        "TUTOR.md",
    ]
    n = instructor.parse("TUTOR.md", NOTES)
    assert "running total" in n.guidance and "reset the accumulator" in n.guidance
    assert "secret-line" not in n.guidance and "still secret" not in n.guidance
    assert "teacher-only" not in n.guidance and "teacher-only" in n.secret and "secret-line" in n.secret
    text = "Hint: Learners often reset the accumulator inside the loop body by mistake. Check that."
    assert "[…]" in instructor.redact_verbatim(
        text, n
    ) and "accumulator inside" not in instructor.redact_verbatim(text, n)
    system = prompts.system_prompt(False, n)
    assert "running total" in system and "secret-line" not in system and "Never give" in system
    assert "may show corrected code" in prompts.system_prompt(True, None)


def test_context_render_priorities_and_budget():
    ctx = NotebookContext("nb.ipynb")
    ctx.cells = [
        Cell("c1", "code", "data = load()\n" + "x" * 5000),
        Cell("c2", "code", "print(dat)"),
        Cell("m", "markdown", "# Title"),
    ]
    old = Execution("k", "m0", code="import os", execution_count=1)
    old.add_output("A" * 10_000)
    ctx.record(old)
    ex = Execution("k", "m1", code="print(data[0])", execution_count=2)
    ex.error = ErrorInfo.from_content(
        {"ename": "TypeError", "evalue": "boom", "traceback": ["\x1b[31mTraceback\x1b[0m", "TypeError: boom"]}
    )
    ctx.record(ex)
    full = ctx.render(ex, 10_000)
    assert full.index("print(data[0])") < full.index("Cells it depends on") < full.index("Recent executions")
    assert "data = load()" in full and "TypeError: boom" in full and "\x1b" not in full
    assert ELIDED.split("{")[0] in full  # the big output and the big cell are elided
    small = ctx.render(ex, 60)
    assert "print(data[0])" in small and "Recent executions" not in small
    assert len(small) < 60 * 4 + 200
    assert ctx.names() >= {"data"} and ctx.find_cell_by_source(" print(dat)\n").id == "c2"


def test_text_helpers():
    assert strip_ansi("\x1b[1;31mred\x1b[0m") == "red"
    assert elide("abc", 10) == "abc" and len(elide("x" * 1000, 100)) < 160


def _raw(msg_type, parent="p1", content=None):
    return [
        json.dumps({"msg_type": msg_type, "msg_id": "x"}).encode(),
        json.dumps({"msg_id": parent}).encode(),
        b"{}",
        json.dumps(content or {}).encode(),
    ]


def test_listener_is_stable_cheap_and_bounded():
    t = Tutor(db_path=":memory:", queue_size=3)
    cb = t.listener_for("k1")
    assert t.listener_for("k1") is cb and t.listener_for("k2") is not cb
    for i in range(5):  # no event loop running: only enqueues
        cb("iopub", _raw("stream", content={"text": str(i)}))
    assert len(t.tracker._queue) == 3 and t.dropped == 2
    kid, msg = t.tracker._queue[-1]
    assert kid == "k1" and isinstance(msg, KernelMessage) and msg.content == {"text": "4"}
    t.forget_kernel("k1")
    assert t.listener_for("k1") is not cb
    assert ("execute_input", "iopub") in t.msg_types and ("error", "iopub") in t.msg_types


def test_private_instructor_dir(tmp_path):
    (tmp_path / "notes" / "week1").mkdir(parents=True)
    (tmp_path / "notes" / "week1" / "TUTOR.md").write_text("## Objectives\nloops")
    (tmp_path / "secret.md").write_text("outside")
    assert instructor.read_private(str(tmp_path / "notes"), "week1/TUTOR.md") == "## Objectives\nloops"
    assert instructor.read_private(str(tmp_path / "notes"), "../secret.md") is None
    assert instructor.read_private(str(tmp_path / "notes"), "week1/missing.md") is None
