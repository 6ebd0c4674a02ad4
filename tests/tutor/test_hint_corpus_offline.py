"""The hint corpus replayed in-process: each case's cells run with ``exec`` in a fresh namespace,
the error is shaped like IPython's traceback, the runtime facts are read with the kernel probe of
ltt_ext.tutor.facts from that namespace, and the evaluation's scoring is asserted with and without
facts. A fast companion of test_hint_families.py (real kernels), covering every rule offline."""

import json
import sys
import traceback

import pytest

from benchmarks.hint_corpus import CASES
from benchmarks.hint_eval import score
from ltt_ext.tutor import facts as runtime
from ltt_ext.tutor.builtin import BuiltinEngine
from ltt_ext.tutor.context import ErrorInfo, defined_names

E = BuiltinEngine()


def _frames(exc: BaseException, sources: dict[str, tuple[int, str]]) -> list[str]:
    out = []
    for fs in traceback.extract_tb(exc.__traceback__):
        if fs.filename in sources:
            n, src = sources[fs.filename]
            text = src.splitlines()[fs.lineno - 1]
            where = f", in {fs.name}()" if fs.name != "<module>" else ""
            out.append(f"Cell In[{n}], line {fs.lineno}{where}\n----> {fs.lineno} {text}\n")
        elif "site-packages" in fs.filename or "/lib/python" in fs.filename:
            out.append(f"File {fs.filename}:{fs.lineno}, in {fs.name}\n")
    return out


def run_case(case, tmp_path):
    """Run the case's cells like a kernel would; the failing cell's ErrorInfo, and the namespace."""
    ns: dict = {"__name__": "__main__"}
    sources: dict[str, tuple[int, str]] = {}
    for n, src in enumerate((*case.setup, case.code), start=1):
        filename = str(tmp_path / f"cell{n}.py")
        sources[filename] = (n, src)
        try:
            exec(compile(src, filename, "exec"), ns)
        except SyntaxError as e:
            text = (e.text or "").rstrip("\n")
            shown = text.lstrip()
            caret = max((e.offset or 1) - 1 - (len(text) - len(shown)), 0)
            tb = [
                f"  Cell In[{n}], line {e.lineno}\n    {shown}\n    {' ' * caret}^\n{type(e).__name__}: {e.msg}\n"
            ]
            return ErrorInfo.from_content({"ename": type(e).__name__, "evalue": str(e), "traceback": tb}), ns
        except BaseException as e:  # the learner's error, whatever it is
            assert src == case.code, f"setup cell {n} raised {e!r}"
            content = {
                "ename": type(e).__name__,
                "evalue": str(e),
                "traceback": ["-" * 75, *_frames(e, sources), f"{type(e).__name__}: {e}"],
            }
            return ErrorInfo.from_content(content), ns
    raise AssertionError("the cell did not raise")


def read_facts(code: str, line: int | None, ns: dict) -> runtime.RuntimeFacts | None:
    """What the service's inspection reports, from the same probe, run on this namespace."""
    g = {
        "__builtins__": __builtins__,
        "ns": ns,
        "names": runtime.names_to_inspect(code, line)[: runtime.MAX_NAMES],
    }
    exec(runtime.PROBE % {"max_items": runtime.MAX_ITEMS}, g)
    return runtime.parse(repr(g["out"]))


@pytest.mark.filterwarnings("ignore::SyntaxWarning")
@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_corpus_case_offline(case, tmp_path, monkeypatch):
    assert_case_hints(case, tmp_path, monkeypatch)


def assert_case_hints(case, tmp_path, monkeypatch):
    """Run the case, then assert its three levels with and without runtime facts: specific, correct,
    never revealing."""
    for name, data in case.files.items():
        (tmp_path / name).write_bytes(data)
    monkeypatch.chdir(tmp_path)
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(300)  # RecursionError cases: a short traceback
    try:
        error, ns = run_case(case, tmp_path)
    finally:
        sys.setrecursionlimit(limit)
    assert error.ename == case.ename, (error.ename, error.evalue)
    names: set[str] = set()
    for src in (*case.setup, *case.unrun, case.code):
        names |= defined_names(src)
    from ltt_ext.tutor.hints.where import locate

    where = locate(error, case.code)
    fa = read_facts(case.code, where.lineno if where.in_cell else None, ns)
    for with_facts in (True, False):
        texts = [E.hint(error, case.code, lv, names, facts=fa if with_facts else None) for lv in (1, 2, 3)]
        s = score(case, texts)
        needs = case.needs_facts and not with_facts
        assert s.specific_l1, (with_facts, s.missing_l1, texts[0])
        assert s.specific_l12 or needs, (with_facts, s.missing_l12, texts[:2])
        assert s.correct, (with_facts, s.wrong, texts)
        assert not s.revealing, (with_facts, s.revealed, texts)
    json.dumps(texts)  # plain text, ready for the store


# Errors outside the corpus (its ids are not scored): every rule must answer without failing, point at
# the right line, and never make the grammar and empty-message mistakes of issue 10.
SNIPPETS = [
    "x = [1,2]\ny = x[1] + x[2] + x[0]",
    "d = {'a': 1}\nk = 'b'\nd[k]",
    "data = [{'name': 'a'}]\ndata['name']",
    "for key in {'a': 1}:\n    key['x']",
    "s = 'abc'\ns.append('d')",
    "nums = (1, 2)\nnums.append(3)",
    "import math\nmath.squareroot(4)",
    "import random\nrandom.randInt(1, 3)",
    "def f(a, b=2):\n    return a\nf()",
    "def f(a):\n    return a\nf(1, 2)",
    "def f(a):\n    return a\nf(b=1)",
    "class A:\n    def __init__(self, x):\n        self.x = x\nA()",
    "x = None\nx + 1",
    "total = None\ntotal += 5",
    "print('a' * 2.5)",
    "'3' * '4'",
    "x = 5\nx[0]",
    "def f():\n    pass\nf[0]",
    "items = [1, 2]\nitems.remove(5)",
    "a, b, c = 'ab'",
    "for a, b in [1, 2]:\n    pass",
    "import math\nmath.sqrt(-1)",
    "x = 10\ny = 0\nprint(x % y)",
    "float('abc')",
    "int('1,000')",
    "int(' ')",
    "int('12abc')",
    "while True\n    pass",
    "def f()\n    pass",
    "print('hi'))",
    "x = [1, 2",
    "x = (1, 2]",
    "else:\n    pass",
    "class = 5",
    "2nd = 3",
    "x = 5\n  y = 6",
    "if True:\n    x = 1\n  y = 2",
    "print(“hello”)",
    "f'{x!z}'",
    "x = {1, 2}\nx[0]",
    "import numpy as np\na = np.array([1,2,3])\na[5]",
    "import pandas as pd\ndf = pd.DataFrame({'a':[1]})\ndf.iloc[3]",
    "import pandas as pd\ndf = pd.DataFrame({'a':[1]})\ndf.colunms",
    "import pandas as pd\ndf = pd.DataFrame({'a':[1]})\ndf.b",
    "import pandas as pd\npd.DataFrame({'a':[1,2], 'b':[1]})",
    "l = []\nl.pop()",
    "def g(n):\n    if n == 0:\n        return 0\n    return g(n + 1)\ng(3)",
    "it = iter([])\nx = [1]\nnext(x)",
    "raise ValueError('custom message')",
    "raise Exception",
    "import json\njson.loads('{bad')",
    "open('/nonexistent/dir/f.txt')",
    "math.pi",
    "x = input\nprint(undefined_var_123 + 1)",
    "list = [1]\nlen(list(range(3)))",
    "sum = 0\nfor i in range(3):\n    sum += i\nprint(sum([1]))",
    "str = 'a'\nstr(5)",
    "max = 3\nmax([1, 2])",
    "x = 1\nx()",
    "assert 1 + 1 == 3, 'math is broken'",
    "result = 4\nassert result == 5",
    "assert len([1]) > 3",
    "import math\nmath.factorial(-1)",
    "float('inf') ** 2\nint(float('inf'))",
    "[1, 2, 3][1:2] = 5",
    "b'abc'.decode('ascii') + b'\\xff'.decode('utf-8')",
    "def f(x):\n    return x\nprint(f(1) + f('a'))",
    "x = [3, 1]\ny = x.sort()\ny.append(1)",
    "from collections import Countr",
    "from os import pth",
    "import sklearn",
    "import matplotlib.pyplt as plt",
    "x = 5\nif x > 3 and\n    pass",
    "def f(x):\n    return x +\nf(1)",
    "print('a' 'b' c)",
    "items = [1 2 3]",
    "for i in range(3)\n    print(i)",
    "try:\n    x = 1\nprint(x)",
    "x = 3\nif x == 3:\nprint(x)",
    "def f():\n\treturn 1\n        return 2",
    "len(x) = 5",
    "5 = x",
    "print(f'{1}}')",
    "name = 'Ada'\nprint(f\"{name\")",
    "x = '''abc",
    "if x = 3 and y:\n    pass",
    "def f():\n    yield 1\nyield 2",
    "scores = {'a': 1}\nfor k, v in scores:\n    pass",
    "words = ['a']\nwords[1] = 'b'",
    "t = (1,)\nt[5]",
    "s = 'abc'\ns.lenght",
    "n = 5\nn.append(1)",
    "import statistics\nstatistics.mean([])",
    "x = [1, 2, 3]\nprint(x[1.5])",
    "x = {'a': 1}\nx[['a']]",
    "import numpy as np\nnp.array([1, 2]) + np.array([1, 2, 3])",
    "import numpy as np\na = np.array([1, 2])\nwhile a > 0:\n    break",
    "import pandas as pd\ns = pd.Series([1, 2])\nif s:\n    pass",
    "import pandas as pd\ndf = pd.DataFrame({'Price': [1]})\ndf.price",
    "import pandas as pd\ndf = pd.DataFrame({'a': [1]})\ndf['A']",
    "d = {}\nd.get('a').upper()",
    "def f():\n    return\nf().x",
    "total = 0\nfor v in None:\n    total += v",
    "a, b = 5",
    "x = 10 ** 400 * 1.0",
    "import math\nmath.log(0)",
    "int('')",
    "float('')",
    "int('٣')\nint('3.0e1')",
    "int('1e3')",
    "round('3.5')",
    "abs('x')",
    "sorted([1, 'a'])",
    "max([])",
    "'abc'.index('z')",
    "[1].index(5)",
    "dict(a=1)['b']",
    "import os\nos.listdir('nope_dir')",
    "open('x.txt', 'r').read()",
    "def f(n):\n    return f(n)\nf(1)",
    "class P:\n    pass\nP().speak()",
    "class P:\n    def speak(self):\n        return 1\nP.speak()",
    "print(undefined)",
    "np.zeros(3)",
    "pd.read_csv('a.csv')",
    "plt.plot([1])",
    "from math import *\nsqroot(4)",
    "def outer():\n    def inner():\n        z += 1\n    inner()\nouter()",
    "raise KeyError",
    "raise IndexError",
    "raise TypeError",
    "raise AttributeError",
    "raise StopIteration",
    "raise AssertionError",
    "x = iter([])\nnext(x), next(x)",
    "assert False",
    "assert [] , 'empty list'",
]


@pytest.mark.filterwarnings("ignore::SyntaxWarning")
@pytest.mark.parametrize("code", SNIPPETS)
def test_rules_never_fail_and_point_at_the_line(code, tmp_path, monkeypatch, caplog):
    import re

    from benchmarks.hint_corpus import ALWAYS_WRONG, Case, _has
    from ltt_ext.tutor.hints.where import locate

    monkeypatch.chdir(tmp_path)
    case = Case("snippet", "snippet", code, "?", ())
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(300)
    try:
        error, ns = run_case(case, tmp_path)
    finally:
        sys.setrecursionlimit(limit)
    where = locate(error, code)
    fa = read_facts(code, where.lineno if where.in_cell else None, ns)
    for with_facts in (True, False):
        texts = [
            E.hint(error, code, lv, defined_names(code), facts=fa if with_facts else None) for lv in (1, 2, 3)
        ]
        assert "rule failed" not in caplog.text, caplog.text
        if where.lineno and error.ename != "RecursionError":  # that one points at the recursive call
            assert re.search(rf"\b[Ll]ine {where.lineno}\b", texts[0]), texts[0]
        for t in texts:
            assert not [w for w in ALWAYS_WRONG if _has(t, w)], t
            for m in re.finditer(r"\b[Ll]ines? (\d+)\b", t):
                assert 1 <= int(m.group(1)) <= len(code.splitlines()), t
