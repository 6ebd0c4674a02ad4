"""The runaway-cell watchdog on its own: a fake clock, no kernel."""

import pytest

from ltt_ext.tutor.loops import analyze
from ltt_ext.tutor.watchdog import FLOOD, SILENT, Alarm, Thresholds, Watchdog, ending, nudge


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now

    def tick(self, seconds):
        self.now += seconds


@pytest.fixture
def clock():
    return Clock()


def dog(clock, **kw):
    t = Thresholds(
        **{"silence": 30.0, "lines_per_second": 1000.0, "bytes_per_second": 0, "flood_seconds": 3.0, **kw}
    )
    return Watchdog(t, clock=clock)


def test_a_silent_cell_is_flagged_once_after_the_threshold(clock):
    w = dog(clock)
    w.started("k", "m1", "while True:\n    pass\n", "c1", 4)
    for _ in range(29):
        clock.tick(1)
        assert w.check() == []
    clock.tick(1)
    alarms = w.check()
    assert [(a.kind, a.run.msg_id, a.elapsed) for a in alarms] == [(SILENT, "m1", 30.0)]
    for _ in range(100):  # never again for this execution
        clock.tick(1)
        assert w.check() == []
    run = w.finished("k", "m1")
    assert run is not None and run.warning == SILENT and not w.running


def test_output_resets_the_silence(clock):
    w = dog(clock)
    w.started("k", "m1", "for i in range(10**9):\n    if i % 10**7 == 0: print(i)\n")
    for _ in range(10):
        clock.tick(20)
        w.output("k", "m1", lines=1, nbytes=10)
        assert w.check() == []
    clock.tick(30)
    assert [a.kind for a in w.check()] == [SILENT]


def test_a_flood_must_last_before_it_is_flagged(clock):
    w = dog(clock)
    w.started("k", "m1", "while True:\n    print('x')\n")
    # one second at 5000 lines/s, then calm: a burst, not a flood
    clock.tick(1)
    w.output("k", "m1", lines=5000, nbytes=10_000)
    assert w.check() == []
    for _ in range(5):
        clock.tick(1)
        w.output("k", "m1", lines=10, nbytes=100)
        assert w.check() == []
    # now a sustained flood: flagged once it lasted flood_seconds
    flagged = []
    for second in range(1, 8):
        clock.tick(1)
        w.output("k", "m1", lines=5000, nbytes=10_000)
        flagged += [(second, a.kind) for a in w.check()]
    assert flagged == [(3, FLOOD)]  # measured from the start of its first flooding window
    run = w.runs[("k", "m1")]
    assert run.lines_rate == pytest.approx(5000)


def test_bytes_count_as_a_flood_too(clock):
    w = dog(clock, lines_per_second=0, bytes_per_second=100_000)
    w.started("k", "m1", "while True: print('x' * 10**6, end='')")
    kinds = []
    for _ in range(5):
        clock.tick(1)
        w.output("k", "m1", lines=0, nbytes=1_000_000)
        kinds += [a.kind for a in w.check()]
    assert kinds == [FLOOD]


def test_cells_waiting_for_input_are_not_called_silent(clock):
    w = dog(clock)
    w.started("k", "m1", "name = input('Your name? ')\nprint(name)")
    clock.tick(120)
    assert w.check() == []


def test_a_new_execution_on_the_kernel_ends_the_old_one(clock):
    w = dog(clock)
    w.started("k", "m1", "x = 1")
    w.started("k", "m2", "y = 2")
    w.started("other", "m3", "z = 3")
    assert list(w.runs) == [("k", "m2"), ("other", "m3")]
    assert [r.msg_id for r in w.forget_kernel("k")] == ["m2"]
    assert w.output("nobody", "m9") is None  # unknown runs are ignored


def test_thresholds_are_read_at_each_check(clock):
    t = Thresholds(silence=30.0)
    w = Watchdog(lambda: t, clock=clock)
    w.started("k", "m1", "while True: pass")
    clock.tick(10)
    assert w.check() == []
    t = Thresholds(silence=5.0)
    assert [a.kind for a in w.check()] == [SILENT]


def test_zero_disables_silence_warnings(clock):
    w = dog(clock, silence=0)
    w.started("k", "m1", "while True: pass")
    clock.tick(10_000)
    assert w.check() == []


def test_the_course_policy_interrupts_flagged_runs_only_once(clock):
    w = dog(clock, auto_interrupt_after=60.0)
    w.started("k", "m1", "while True: pass")
    w.started("k2", "m2", "import time\nfor i in range(100):\n    print(i)\n    time.sleep(1)")
    due = []
    for _ in range(90):
        clock.tick(1)
        w.check()
        w.output("k2", "m2")  # k2 prints every second: never flagged, never interrupted
        due += [(clock.now - 1000, r.msg_id) for r in w.due_for_interrupt()]
    assert due == [(60.0, "m1")]
    assert w.runs[("k", "m1")].interrupted_by == "watchdog"


def test_no_auto_interrupt_by_default(clock):
    w = dog(clock)
    w.started("k", "m1", "while True: pass")
    clock.tick(30)
    assert w.check()
    clock.tick(10_000)
    assert w.due_for_interrupt() == []


@pytest.mark.parametrize(
    "code, reason, line, names",
    [
        ("while True:\n    pass\n", "no-break", 1, []),
        ("x = 0\nwhile 1:\n    x += 1\n", "no-break", 2, []),
        ("n = 10\nwhile n > 0:\n    print(n)\n", "unchanged", 2, ["n"]),
        ("i = 0\nwhile i < len(items):\n    total += items[i]\n", "condition", 2, []),
        ("i = 0\nwhile i < 10 and j < 3:\n    j = j + 1\n", "condition", 2, []),
        ("done = False\nwhile not done:\n    print('again')\n", "unchanged", 2, ["done"]),
        ("while True:\n    if input() == 'q':\n        break\n", "break", 1, []),
        ("while True:\n    for x in range(3):\n        break\n", "no-break", 1, []),
        ("stack = [1]\nwhile stack:\n    stack.pop()\n", "condition", 2, []),
        ("import itertools\nfor i in itertools.count():\n    print(i)\n", "endless-for", 2, []),
        ("import time\ntime.sleep(600)\n", "sleep", 2, []),
        ("while x < 5:\n    step(x)\n", "condition", 1, []),
    ],
)
def test_analysis_names_the_loop(code, reason, line, names):
    f = analyze(code)
    assert f is not None
    assert (f.reason, f.line, f.names) == (reason, line, names)


def test_analysis_of_code_without_a_loop_or_broken_code():
    assert analyze("x = 1\nprint(x)") is None
    assert analyze("while True print(") is None
    assert analyze("input('?')").waits_for_input


def test_the_nudge_points_at_the_loop_without_the_fix(clock):
    w = dog(clock)
    run = w.started("k", "m1", "n = 10\nwhile n > 0:\n    print(n)\n", "c1", 7)
    clock.tick(31)
    (alarm,) = w.check()
    text = nudge(alarm, interrupt=True)
    assert text.startswith("Cell [7] has been running for 31 s without any output.")
    assert "line 2" in text and "`while n > 0:`" in text and "`n`" in text
    assert "n -= 1" not in text and "n = n - 1" not in text
    assert "**Interrupt**" in text
    assert "Interrupt**" not in nudge(alarm, interrupt=False)
    assert "after 2 min 00 s" in nudge(alarm, auto_after=120)
    run.interrupted_by = "learner"
    assert "you interrupted the cell after 45 s" in ending(run, 45, "finished")
    assert "finished after" in ending(w.started("k", "m2", "x"), 3, "finished")
    assert "restarted" in ending(run, 3, "restarted")


def test_the_flood_nudge_gives_the_rate(clock):
    w = dog(clock)
    run = w.started("k", "m1", "while True:\n    print('spam')\n", None, None)
    alarms = []
    for _ in range(4):
        clock.tick(1)
        w.output("k", "m1", lines=12_345, nbytes=80_000)
        alarms += w.check()
    (alarm,) = alarms
    text = nudge(Alarm(run, FLOOD, alarm.elapsed))
    assert text.startswith("Your cell is flooding its output (about 12,345 lines per second, for 3 s now)")
    assert "what inside it would ever make it stop?" in text
