"""The built-in engine: a specific hint per error family, at each ladder level (no server)."""

import pytest

from ltt_ext.tutor.builtin import OFFLINE_NOTE, BuiltinEngine, locate
from ltt_ext.tutor.context import ErrorInfo

E = BuiltinEngine()


def err(ename, evalue, tb_line=1, code_line="x"):
    # shaped like IPython's (ANSI already stripped by ErrorInfo.from_content)
    tb = [
        "---------------------------------------------------------------------------",
        f"{ename}                                 Traceback (most recent call last)",
        f"Cell In[3], line {tb_line}\n----> {tb_line} {code_line}\n",
        f"{ename}: {evalue}",
    ]
    return ErrorInfo(ename, evalue, tb)


def syntax(ename, evalue, line, code_line):
    return ErrorInfo(
        ename, evalue, [f"  Cell In[2], line {line}\n    {code_line}\n        ^\n{ename}: {evalue}\n"]
    )


# (error, code, names, words the level-2 hint must contain)
CASES = {
    "NameError": (
        err("NameError", "name 'pritn' is not defined", 1, "pritn(total)"),
        "pritn(total)",
        set(),
        ["`print`"],
    ),
    "NameError-notebook-name": (
        err("NameError", "name 'totl' is not defined", 2, "print(totl)"),
        "total = 3\nprint(totl)",
        {"total"},
        ["`total`"],
    ),
    "SyntaxError": (
        syntax("SyntaxError", "expected ':'", 1, "if x > 3"),
        "if x > 3\n    pass",
        set(),
        ["colon"],
    ),
    "IndentationError": (
        syntax(
            "IndentationError",
            "expected an indented block after function definition on line 1",
            2,
            "return 1",
        ),
        "def f():\nreturn 1",
        set(),
        ["indented"],
    ),
    "TypeError": (
        err("TypeError", 'can only concatenate str (not "int") to str', 1, "'a' + 1"),
        "'a' + 1",
        set(),
        ["`str`", "`int`"],
    ),
    "AttributeError": (
        err("AttributeError", "'list' object has no attribute 'push'", 1, "xs.push(1)"),
        "xs.push(1)",
        set(),
        ["`.append`"],
    ),
    "KeyError": (err("KeyError", "'Apple'", 1, "d['Apple']"), "d['Apple']", set(), ["'Apple'", ".keys()"]),
    "IndexError": (err("IndexError", "list index out of range", 1, "xs[3]"), "xs[3]", set(), ["start at 0"]),
    "ValueError": (
        err("ValueError", "invalid literal for int() with base 10: 'x'", 1, "int('x')"),
        "int('x')",
        set(),
        ["number"],
    ),
    "ZeroDivisionError": (
        err("ZeroDivisionError", "division by zero", 1, "1/n"),
        "1/n",
        set(),
        ["divided by zero"],
    ),
    "ModuleNotFoundError": (
        err("ModuleNotFoundError", "No module named 'numpyy'", 1, "import numpyy"),
        "import numpyy",
        set(),
        ["`numpy`"],
    ),
    "FileNotFoundError": (
        err("FileNotFoundError", "[Errno 2] No such file or directory: 'data.csv'", 1, "open('data.csv')"),
        "open('data.csv')",
        set(),
        ["os.getcwd()"],
    ),
    "RecursionError": (
        err("RecursionError", "maximum recursion depth exceeded", 1, "f()"),
        "def f(): return f()\nf()",
        set(),
        ["base case"],
    ),
    "KeyboardInterrupt": (
        err("KeyboardInterrupt", "", 2, "while i < 3:"),
        "i = 0\nwhile i < 3:\n    pass",
        set(),
        ["never finishes"],
    ),
    "default": (err("StopIteration", "", 1, "next(it)"), "next(it)", set(), ["StopIteration"]),
}


@pytest.mark.parametrize("case", list(CASES))
def test_each_family_has_three_specific_levels(case):
    error, code, names, words = CASES[case]
    levels = [E.hint(error, code, level, names) for level in (1, 2, 3)]
    assert levels[0].startswith("**Nudge**") and levels[1].startswith("**Hint**")
    assert levels[2].startswith("**Explanation**")
    assert len(set(levels)) == 3
    for word in words:
        assert word in levels[1], (case, levels[1])
    # the explanation shows an example but never the learner's own line, corrected or not
    assert "```" in levels[2]
    for line in code.splitlines():
        if len(line.strip()) > 6:
            assert line.strip() not in levels[2].split("Compare")[0]


def test_nudge_points_at_the_line():
    error, code, *_ = CASES["NameError"]
    assert "line 1" in E.hint(error, code, 1) and "pritn(total)" in E.hint(error, code, 1)
    error, code, *_ = CASES["SyntaxError"]
    assert "line 1 (`if x > 3`)" in E.hint(error, code, 1)


def test_locate_deepest_notebook_frame():
    tb = [
        "Cell In[5], line 3\n      1 def f():\n----> 3 g()\n",
        "Cell In[4], line 2, in g()\n----> 2     return 1/0\n",
        "ZeroDivisionError: division by zero",
    ]
    where = locate(ErrorInfo("ZeroDivisionError", "division by zero", tb), "f()")
    assert where.lineno == 2 and where.line.strip() == "return 1/0"


def test_free_question_is_honest_offline():
    assert E.answer("what is a list comprehension?", None, "", 1).startswith(OFFLINE_NOTE)
    error, code, names, _ = CASES["ZeroDivisionError"]
    text = E.answer("why?", error, code, 2, names)
    assert OFFLINE_NOTE in text and "**Hint**" in text


def test_error_info_from_kernel_content_strips_ansi_and_temp_file():
    e = ErrorInfo.from_content(
        {
            "ename": "SyntaxError",
            "evalue": "expected ':' (992438923.py, line 1)",
            "traceback": [
                "  \x1b[36mCell\x1b[39m\x1b[36m \x1b[39m\x1b[32mIn[2]\x1b[39m\x1b[32m, line 1\x1b[39m\n"
            ],
        }
    )
    assert e.evalue == "expected ':'"
    assert e.traceback == ["  Cell In[2], line 1\n"]
