"""The built-in engine: a specific hint per error family, at each ladder level (no server).

Errors are shaped like IPython's (ANSI already stripped by ErrorInfo.from_content); runtime facts
are built by hand as the service's inspection would report them."""

import pytest

from ltt_ext.tutor.builtin import OFFLINE_NOTE, BuiltinEngine, locate
from ltt_ext.tutor.context import ErrorInfo
from ltt_ext.tutor.facts import RuntimeFacts, ValueFact

E = BuiltinEngine()


def err(ename, evalue, code, line, frames=()):
    """An IPython traceback for ``code`` failing on ``line`` (plus deeper frames in other cells)."""
    text = code.splitlines()[line - 1]
    tb = [
        "---------------------------------------------------------------------------",
        f"{ename}                                 Traceback (most recent call last)",
        f"Cell In[3], line {line}\n----> {line} {text}\n",
        *frames,
        f"{ename}: {evalue}",
    ]
    return ErrorInfo(ename, evalue, tb)


def syntax(ename, evalue, code, line, caret=None):
    text = code.splitlines()[line - 1]
    shown = text.lstrip()
    col = (caret if caret is not None else len(text)) - (len(text) - len(shown))
    return ErrorInfo(
        ename, evalue, [f"  Cell In[2], line {line}\n    {shown}\n    {' ' * col}^\n{ename}: {evalue}\n"]
    )


def facts(*values, undefined=()):
    return RuntimeFacts({v.name: v for v in values}, set(undefined))


def levels(error, code, names=(), fa=None):
    return [E.hint(error, code, lv, names, facts=fa) for lv in (1, 2, 3)]


def test_three_levels_are_titled_and_different():
    code = "pritn(total)"
    texts = levels(err("NameError", "name 'pritn' is not defined", code, 1), code)
    assert [t.split(" — ")[0] for t in texts] == ["**Nudge**", "**Hint**", "**Explanation**"]
    assert len(set(texts)) == 3


# (id, error, code, notebook names, facts, words level 1 must hold, words level 2 must hold, never)
CASES = [
    (
        "name-typo",
        err("NameError", "name 'pritn' is not defined", "pritn(total)", 1),
        "pritn(total)",
        {"total"},
        None,
        ["line 1", "`pritn`"],
        ["`print`"],
        ["print(total)"],
    ),
    (
        "name-notebook",
        err("NameError", "name 'totl' is not defined", "total = 3\nprint(totl)", 2),
        "total = 3\nprint(totl)",
        {"total"},
        None,
        ["line 2", "`totl`"],
        ["`total`", "your notebook defines"],
        ["print(total)"],
    ),
    (
        "name-import",
        err("NameError", "name 'math' is not defined", "root = math.sqrt(16)", 1),
        "root = math.sqrt(16)",
        set(),
        None,
        ["`math.sqrt`", "import"],
        ["`import`"],
        ["import math\n", "`import math`"],
    ),
    (
        "name-not-run",
        err("NameError", "name 'counter' is not defined", "print(counter)", 1),
        "print(counter)",
        {"counter"},
        facts(undefined=["counter"]),
        ["`counter`"],
        ["run"],
        [],
    ),
    (
        "unbound-local",
        err(
            "UnboundLocalError",
            "cannot access local variable 'count' where it is not associated with a value",
            "count = 0\ndef bump():\n    count += 1\nbump()",
            4,
            ["Cell In[3], line 3, in bump()\n      2 def bump():\n----> 3     count += 1\n"],
        ),
        "count = 0\ndef bump():\n    count += 1\nbump()",
        {"count", "bump"},
        None,
        ["line 3", "`count`", "`bump`"],
        ["local", "line 3"],
        ["isn't defined", "run the cell", "global count"],
    ),
    (
        "import-name",
        err(
            "ImportError",
            "cannot import name 'sqroot' from 'math' (/usr/lib/python3.11/lib-dynload/math.so)",
            "from math import sqroot",
            1,
        ),
        "from math import sqroot",
        set(),
        None,
        ["`sqroot`", "`math`"],
        ["`sqrt`"],
        ["`?`", "%pip", "from math import sqrt"],
    ),
    (
        "module-typo",
        err("ModuleNotFoundError", "No module named 'numpyy'", "import numpyy", 1),
        "import numpyy",
        set(),
        None,
        ["`numpyy`"],
        ["`numpy`"],
        [],
    ),
    (
        "str-plus-int",
        err("TypeError", 'can only concatenate str (not "int") to str', 'age = 30\nprint("Age: " + age)', 2),
        'age = 30\nprint("Age: " + age)',
        {"age"},
        facts(ValueFact("age", "int", True, preview="30")),
        ["line 2", "`age`", "an `int` (30)", "a `str`"],
        ["f-string"],
        ["str(age)", 'f"Age: {age}"'],
    ),
    (
        "compare-input",
        err(
            "TypeError",
            "'>' not supported between instances of 'str' and 'int'",
            "guess = input('?')\nif guess > 5:\n    pass",
            2,
        ),
        "guess = input('?')\nif guess > 5:\n    pass",
        {"guess"},
        facts(ValueFact("guess", "str", True, preview="'7'", length=1)),
        ["line 2", "`guess`", "'7'", "an `int`"],
        ["`input()`", "line 1"],
        ["int(guess)", "int(input("],
    ),
    (
        "none-after-sort",
        err(
            "TypeError",
            "'NoneType' object is not subscriptable",
            "numbers = [3, 1]\nnumbers = numbers.sort()\nnumbers[0]",
            3,
        ),
        "numbers = [3, 1]\nnumbers = numbers.sort()\nnumbers[0]",
        {"numbers"},
        facts(ValueFact("numbers", "NoneType", True, preview="None")),
        ["line 3", "`numbers`", "`None`"],
        ["line 2", "`.sort()`", "in place"],
        ["sorted(numbers)"],
    ),
    (
        "shadowed-builtin",
        err("TypeError", "'list' object is not callable", "letters = list('abc')", 1),
        "letters = list('abc')",
        {"list", "letters"},
        facts(ValueFact("list", "list", True, length=2, item_types=("int", "int"))),
        ["line 1", "`list`", "a `list` of 2 items"],
        ["built-in", "del list"],
        [],
    ),
    (
        "range-float",
        err(
            "TypeError",
            "'float' object cannot be interpreted as an integer",
            "n = 5\nfor i in range(n / 2):\n    pass",
            2,
        ),
        "n = 5\nfor i in range(n / 2):\n    pass",
        {"n", "i"},
        facts(ValueFact("n", "int", True, preview="5")),
        ["line 2", "`n / 2`", "a `float`", "2.5"],
        ["`//`"],
        ["range(n // 2)", "n // 2"],
    ),
    (
        "len-int",
        err("TypeError", "object of type 'int' has no len()", "len(2024)", 1),
        "len(2024)",
        set(),
        None,
        ["line 1", "`2024`", "an `int`"],
        ["digits"],
        ["len(str(2024))", "len('2024')"],
    ),
    (
        "str-item-assignment",
        err("TypeError", "'str' object does not support item assignment", "word = 'hello'\nword[0] = 'J'", 2),
        "word = 'hello'\nword[0] = 'J'",
        {"word"},
        facts(ValueFact("word", "str", True, preview="'hello'", length=5)),
        ["line 2", "`word`", "a `str` ('hello')"],
        ["new string"],
        ["'J' + word[1:]"],
    ),
    (
        "attribute-push",
        err("AttributeError", "'list' object has no attribute 'push'", "stack = [1]\nstack.push(2)", 2),
        "stack = [1]\nstack.push(2)",
        {"stack"},
        facts(ValueFact("stack", "list", True, length=1, item_types=("int",))),
        ["line 2", "`stack`", "`.push`", "a `list` of 1 item"],
        ["`.append`"],
        ["stack.append(2)"],
    ),
    (
        "attribute-object",
        err("AttributeError", "'Pet' object has no attribute 'nme'", "print(rex.nme)", 1),
        "print(rex.nme)",
        {"rex"},
        facts(ValueFact("rex", "Pet", False, attributes=("name", "speak"))),
        ["`rex`", "`.nme`", "`Pet`"],
        ["`.name`"],
        ["rex.name"],
    ),
    (
        "key-case-facts",
        err("KeyError", "'name'", "print(person['name'])", 1),
        "print(person['name'])",
        {"person"},
        facts(ValueFact("person", "dict", True, length=2, keys=("Name", "age"))),
        ["line 1", "`person`", "'name'", "2 keys"],
        ["'Name'", "case"],
        ["person['Name']"],
    ),
    (
        "key-column-space",
        err("KeyError", "'price'", "sales['price']", 1),
        "sales['price']",
        {"sales"},
        facts(ValueFact("sales", "pandas.DataFrame", True, shape=(2, 2), columns=("price ", "qty"))),
        ["`sales`", "column", "'price'"],
        ["'price '", "spaces"],
        ["sales['price ']"],
    ),
    (
        "index-facts",
        err("IndexError", "list index out of range", "print(numbers[3])", 1),
        "print(numbers[3])",
        {"numbers"},
        facts(ValueFact("numbers", "list", True, length=3)),
        ["line 1", "`numbers`", "3 items", "positions 0 to 2"],
        ["position 2"],
        ["numbers[2]", "numbers[-1]"],
    ),
    (
        "int-decimal",
        err("ValueError", "invalid literal for int() with base 10: '3.5'", "int('3.5')", 1),
        "int('3.5')",
        set(),
        None,
        ["line 1", "'3.5'", "decimal point"],
        ["`float()`"],
        ["spaces, letters, commas", "float('3.5')"],
    ),
    (
        "unpack",
        err("ValueError", "too many values to unpack (expected 2)", "a, b = values", 1),
        "a, b = values",
        {"values"},
        facts(ValueFact("values", "list", True, length=3)),
        ["line 1", "`values`", "3 values", "2 names"],
        [],
        [],
    ),
    (
        "array-ambiguous",
        err(
            "ValueError",
            "The truth value of an array with more than one element is ambiguous. Use a.any() or a.all()",
            "if scores > 50:\n    pass",
            1,
        ),
        "if scores > 50:\n    pass",
        {"scores"},
        facts(ValueFact("scores", "numpy.ndarray", True, shape=(3,), dtype="int64", length=3)),
        ["line 1", "`scores > 50`", "array", "(3,)"],
        ["*any*", "*all*"],
        ["(scores > 50).any()"],
    ),
    (
        "length-mismatch",
        err(
            "ValueError", "Length of values (3) does not match length of index (2)", "df['b'] = [1, 2, 3]", 1
        ),
        "df['b'] = [1, 2, 3]",
        {"df"},
        None,
        ["line 1", "`df`", "3 values", "2 rows"],
        ["one value per row"],
        [],
    ),
    (
        "zero-division",
        err("ZeroDivisionError", "division by zero", "count = 0\nmean = 10 / count", 2),
        "count = 0\nmean = 10 / count",
        {"count", "mean"},
        None,
        ["line 2", "`count`", "0"],
        ["line 1"],
        [],
    ),
    (
        "overflow",
        err("OverflowError", "(34, 'Numerical result out of range')", "big = 2.0 ** 10000", 1),
        "big = 2.0 ** 10000",
        {"big"},
        None,
        ["line 1", "`2.0 ** 10000`", "largest float"],
        [],
        [],
    ),
    (
        "stop-iteration",
        err("StopIteration", "", "it = iter([])\nnext(it)", 2),
        "it = iter([])\nnext(it)",
        {"it"},
        None,
        ["line 2", "`it`"],
        ["used up"],
        ["next(it, None)", ": .", "StopIteration: ."],
    ),
    (
        "assertion",
        err("AssertionError", "", "assert add(2, 3) == 5", 1),
        "assert add(2, 3) == 5",
        {"add"},
        None,
        ["line 1", "`add(2, 3)`", "5"],
        ["on its own"],
        [],
    ),
    (
        "unicode-decode",
        err(
            "UnicodeDecodeError",
            "'utf-8' codec can't decode byte 0xe9 in position 10: invalid continuation byte",
            "import pandas as pd\nprices = pd.read_csv('prices.csv')",
            2,
        ),
        "import pandas as pd\nprices = pd.read_csv('prices.csv')",
        {"pd", "prices"},
        None,
        ["line 2", "`pd.read_csv('prices.csv')`", "0xe9", "`é`"],
        ["`encoding`"],
        ["encoding='latin-1'", 'encoding="latin-1"'],
    ),
    (
        "file-not-found",
        err(
            "FileNotFoundError", "[Errno 2] No such file or directory: 'scores.csv'", "open('scores.csv')", 1
        ),
        "open('scores.csv')",
        set(),
        None,
        ["line 1", "`scores.csv`"],
        ["os.listdir()"],
        [],
    ),
    (
        "recursion",
        err(
            "RecursionError",
            "maximum recursion depth exceeded",
            "def fact(n):\n    return n * fact(n - 1)\nfact(3)",
            3,
            ["Cell In[3], line 2, in fact(n)\n      1 def fact(n):\n----> 2     return n * fact(n - 1)\n"]
            * 3,
        ),
        "def fact(n):\n    return n * fact(n - 1)\nfact(3)",
        {"fact", "n"},
        None,
        ["`fact`", "line 2"],
        ["base case"],
        ["if n == 0", "if n <= 1"],
    ),
    (
        "syntax-colon",
        syntax("SyntaxError", "expected ':'", "if x > 3\n    pass", 1),
        "if x > 3\n    pass",
        set(),
        None,
        ["line 1", "`if x > 3`"],
        ["colon"],
        ["if x > 3:"],
    ),
    (
        "return-outside",
        syntax("SyntaxError", "'return' outside function", "total = 3\nreturn total", 2, 0),
        "total = 3\nreturn total",
        set(),
        None,
        ["line 2", "`return`", "function"],
        ["`print`"],
        [],
    ),
    (
        "fstring",
        syntax("SyntaxError", "f-string: expecting '}'", "print(f'{age years')", 1, 18),
        "print(f'{age years')",
        set(),
        None,
        ["line 1", "`{`", "`}`"],
        [],
        ["{age}"],
    ),
    (
        "indentation",
        syntax(
            "IndentationError",
            "expected an indented block after function definition on line 1",
            "def f():\nreturn 1",
            2,
            0,
        ),
        "def f():\nreturn 1",
        set(),
        None,
        ["Line 2", "`return 1`", "`def`", "line 1"],
        ["indented"],
        ["    return 1"],
    ),
    (
        "keyboard-interrupt",
        err("KeyboardInterrupt", "", "i = 0\nwhile i < 3:\n    pass", 2),
        "i = 0\nwhile i < 3:\n    pass",
        {"i"},
        facts(ValueFact("i", "int", True, preview="0")),
        ["`while`", "line 2", "`i < 3`"],
        ["`i`", "forever"],
        ["i += 1"],
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_each_family_points_at_the_culprit_without_the_fix(case):
    _, error, code, names, fa, words1, words2, never = case
    l1, l2, l3 = levels(error, code, names, fa)
    for word in words1:
        assert word in l1, (word, l1)
    for word in words2:
        assert word in l1 + l2, (word, l2)
    for text in (l1, l2, l3):
        for bad in never:
            assert bad not in text, (bad, text)
        assert "a `int`" not in text and "`?`" not in text


def test_grammar_an_int():
    code = "'a' + 1"
    text = E.hint(err("TypeError", 'can only concatenate str (not "int") to str', code, 1), code, 1)
    assert "an `int`" in text and "a `int`" not in text


def test_without_facts_it_asks_instead_of_asserting():
    # a dict built elsewhere: its keys are unknown without the runtime facts
    code = "print(prices['pear'])"
    error = err("KeyError", "'pear'", code, 1)
    blind = E.hint(error, code, 2, {"prices"})
    assert "?" in blind and "prices.keys()" in blind
    seen = E.hint(
        error, code, 2, {"prices"}, facts=facts(ValueFact("prices", "dict", True, length=1, keys=("Pear",)))
    )
    assert "'Pear'" in seen
    # several lookups on the line and no lengths: name them all, claim none, ask which
    code = "print(a[i] + b[j])"
    error = err("IndexError", "list index out of range", code, 1)
    nudge, hint = E.hint(error, code, 1), E.hint(error, code, 2)
    assert "`a[i]` or `b[j]`" in nudge and "has" not in nudge and "Which" in hint


def test_facts_that_disagree_are_not_contradicted():
    # the message says None is indexed, but the facts say `data` is a list: the None came from elsewhere
    code = "first = data[0][1]"
    error = err("TypeError", "'NoneType' object is not subscriptable", code, 1)
    text = E.hint(error, code, 2, {"data"}, facts=facts(ValueFact("data", "list", True, length=2)))
    assert "`data` got" not in text


def test_indentation_error_points_at_the_line_after_the_header():
    code = "for n in [1, 2]:\nprint(n)"
    error = syntax(
        "IndentationError", "expected an indented block after 'for' statement on line 1", code, 2, 0
    )
    nudge = E.hint(error, code, 1)
    assert "Line 2 (`print(n)`)" in nudge and "`for` on line 1" in nudge


def test_unbound_local_is_not_called_undefined():
    code = "def f():\n    x += 1\nf()"
    error = err(
        "UnboundLocalError",
        "cannot access local variable 'x' where it is not associated with a value",
        code,
        3,
        ["Cell In[3], line 2, in f()\n----> 2     x += 1\n"],
    )
    texts = " ".join(levels(error, code, {"x", "f"}))
    assert "local" in texts and "isn't defined" not in texts and "run the cell" not in texts


def test_error_in_a_function_of_another_cell_names_that_cell():
    error = err(
        "ZeroDivisionError",
        "division by zero",
        "report([])",
        1,
        [
            "Cell In[2], line 2, in report(values)\n      1 def report(values):\n----> 2     return sum(values) / len(values)\n"
        ],
    )
    nudge = E.hint(error, "report([])", 1)
    assert "line 2 of `report` (in cell [2])" in nudge and "`values` is empty" in nudge


def test_unknown_errors_and_broken_input_still_get_a_hint():
    for error, code in [
        (ErrorInfo("WeirdError", "", []), ""),
        (ErrorInfo("TypeError", "something new", ["garbage"]), "x ="),
        (
            err("pandas.errors.ParserError", "Error tokenizing data", "pd.read_csv('x')", 1),
            "pd.read_csv('x')",
        ),
    ]:
        texts = levels(error, code)
        assert all(t for t in texts) and ": ." not in texts[0]


def test_explanation_falls_back_to_no_code_when_every_example_is_too_close():
    # the learner's own code is the only example's shape: no code block is sent
    code = "corner = (2, 5)\ncorner[0] = 9"
    error = err("TypeError", "'tuple' object does not support item assignment", code, 2)
    text = E.hint(error, code, 3)
    assert "```" not in text and "immutable" in text


def test_locate_deepest_notebook_frame():
    tb = [
        "Cell In[5], line 3\n      1 def f():\n----> 3 g()\n",
        "Cell In[4], line 2, in g()\n----> 2     return 1/0\n",
        "ZeroDivisionError: division by zero",
    ]
    where = locate(ErrorInfo("ZeroDivisionError", "division by zero", tb), "f()")
    assert (
        where.lineno == 2 and where.line.strip() == "return 1/0" and where.func == "g" and not where.in_cell
    )


def test_locate_ipython_plain_frames():
    tb = [
        "/tmp/ipykernel_4008/1705880982.py in ?()\n      2 df = 1\n----> 3 sub = df[(df.a > 1) and (df.b < 2)]\n",
        "~/site-packages/pandas/core/generic.py in ?(self)\n-> 1445         raise ValueError(\n",
    ]
    where = locate(
        ErrorInfo("ValueError", "x", tb), "import pandas\ndf = 1\nsub = df[(df.a > 1) and (df.b < 2)]"
    )
    assert where.lineno == 3 and where.in_cell


def test_free_question_is_honest_offline():
    assert E.answer("what is a list comprehension?", None, "", 1).startswith(OFFLINE_NOTE)
    code = "1/n"
    text = E.answer("why?", err("ZeroDivisionError", "division by zero", code, 1), code, 2, facts=None)
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


def test_facts_that_clear_a_container_make_the_rule_look_elsewhere():
    # the key *is* in `config` now: the failing lookup was another one, so no "has no key" claim
    code = "value = config['db'][setting]"
    error = err("KeyError", "'db'", code, 1)
    fa = facts(ValueFact("config", "dict", True, length=1, keys=("db",)))
    text = E.hint(error, code, 1, {"config"}, facts=fa)
    assert "it has 1 key" not in text
    # position 1 exists in a 3-item list: don't say the list is too short
    code = "pair = rows[1][5]"
    fa = facts(ValueFact("rows", "list", True, length=3))
    text = E.hint(err("IndexError", "list index out of range", code, 1), code, 1, {"rows"}, facts=fa)
    assert "3 items" not in text


def test_ambiguous_operands_without_facts_get_a_question():
    code = "label = first + second + third"
    text = E.hint(err("TypeError", 'can only concatenate str (not "int") to str', code, 1), code, 2)
    assert "?" in text and "`first`" in text


def test_an_absolute_path_is_not_explained_as_relative():
    code = "rows = open('/srv/course/data/scores.csv').read()"
    e = err(
        "FileNotFoundError", "[Errno 2] No such file or directory: '/srv/course/data/scores.csv'", code, 1
    )
    l1, l2, _ = levels(e, code)
    assert "`/srv/course/data/scores.csv`" in l1
    assert "is an absolute path" in l2 and "check each folder" in l2
