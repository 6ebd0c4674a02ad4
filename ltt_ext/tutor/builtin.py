"""The built-in, offline engine: rule-based hints for the errors beginners hit most.

Every family answers at the three ladder levels: 1 a nudge (where to look),
2 a hint (what is wrong, in the learner's terms), 3 an explanation with a small
illustrative example that is deliberately *not* the learner's corrected code.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

from .context import BUILTIN_NAMES, ErrorInfo

ENGINE = "builtin"

OFFLINE_NOTE = (
    "I'm the offline tutor: I can explain errors from your notebook, but I can't answer open questions. "
    "Ask your instructor to configure an LLM for that."
)


@dataclass
class Where:
    lineno: int | None
    line: str | None

    def md(self) -> str:
        if self.lineno and self.line:
            return f"line {self.lineno} (`{self.line.strip()}`)"
        if self.lineno:
            return f"line {self.lineno}"
        return "the cell you just ran"


_CELL_HDR = re.compile(r"(?:Cell In\s*\[(\d*)\]|<ipython-input-(\d+)-\w+>|File \"<[^>]*>\")[^\n]*?line (\d+)")
_ARROW = re.compile(r"^\s*-*>\s*(\d+)\s?(.*)$", re.M)


def locate(err: ErrorInfo, code: str) -> Where:
    """Best guess of the learner's line from the traceback (deepest frame in notebook code)."""
    tb = "\n".join(err.traceback)
    matches = list(_CELL_HDR.finditer(tb))
    lines = code.splitlines()
    if err.ename in ("SyntaxError", "IndentationError", "TabError"):
        nums = re.findall(r"line (\d+)", tb)
        if nums:
            n = int(nums[-1])
            return Where(n, lines[n - 1] if 0 < n <= len(lines) else None)
    if matches:
        m = matches[-1]
        n = int(m.group(3))
        rest = tb[m.end() :]
        arrow = _ARROW.search(rest)
        text = arrow.group(2) if arrow else None
        if text is None and 0 < n <= len(lines):
            text = lines[n - 1]
        return Where(n, text)
    return Where(None, None)


def closest(word: str, candidates, n: int = 3) -> list[str]:
    cands = [c for c in set(candidates) if c != word]
    out = difflib.get_close_matches(word, cands, n=n, cutoff=0.7)
    lower = [c for c in cands if c.lower() == word.lower() and c not in out]
    return lower + out


def _q(s: str) -> str:
    return f"`{s}`"


# -- families --------------------------------------------------------------------------------------
# Each returns (nudge, hint, explanation) as markdown.


def _name_error(err, code, where, names):
    m = re.search(r"name '([^']+)' is not defined", err.evalue)
    name = m.group(1) if m else None
    if not name:
        return _default(err, code, where, names)
    guesses = closest(name, set(names) | BUILTIN_NAMES)
    nudge = f"Look at {where.md()}: Python doesn't recognise the name {_q(name)} there."
    if guesses:
        hint = (
            f"{_q(name)} isn't defined. Did you mean {' or '.join(_q(g) for g in guesses)}? "
            "Names must match their definition exactly, including upper/lower case."
        )
    else:
        hint = (
            f"{_q(name)} isn't defined yet. Either it is misspelled, or the cell that defines it hasn't been run "
            "(after a kernel restart, run the cells above again), or it is text that needs quotes."
        )
    explanation = (
        "A name only exists after Python has run the line that creates it (an assignment, a `def`, an `import`), "
        "and it must be spelled the same way every time. For example:\n\n"
        "```python\nscore = 10\nprint(scroe)   # NameError: 'scroe' is not defined (typo)\nprint(score)   # works\n"
        'print(hello)   # NameError: text needs quotes -> print("hello")\n```\n\n'
        + (
            f"Compare {_q(name)} with {' and '.join(_q(g) for g in guesses)}, letter by letter."
            if guesses
            else f"Compare {_q(name)} with the names you defined earlier in the notebook, and check that their cell ran."
        )
    )
    return nudge, hint, explanation


_SYNTAX_HINTS = [
    (
        r"expected ':'",
        "A line that starts a block (`if`, `for`, `while`, `def`, `class`, `else`…) must end with a colon `:`.",
    ),
    (
        r"unterminated string|EOL while scanning|unterminated triple",
        "A string is opened with a quote but never closed with the same kind of quote.",
    ),
    (r"was never closed|unexpected EOF", "A bracket `(`, `[` or `{` is opened but never closed."),
    (
        r"unmatched|closing parenthesis",
        "There is a closing bracket without a matching opening one (or of the wrong kind).",
    ),
    (
        r"cannot assign|Maybe you meant '==' ",
        "`=` stores a value in a name; to *compare* two values use `==`.",
    ),
    (r"forgot a comma", "Two values stand next to each other without a comma between them."),
    (
        r"invalid decimal literal|invalid character",
        "A name starts with a digit, or a character Python doesn't accept (like a curly quote) slipped in.",
    ),
    (
        r"Missing parentheses in call to 'print'",
        "In Python 3, `print` is a function: it needs parentheses, `print(...)`.",
    ),
]


def _syntax_error(err, code, where, names):
    specific = next((h for pat, h in _SYNTAX_HINTS if re.search(pat, err.evalue)), None)
    nudge = f"Python couldn't even read this cell: look closely at {where.md()} and the line just before it."
    hint = f"The message says: *{err.evalue}*. " + (
        specific
        or "Check brackets, quotes, colons and commas on that line; a problem on the previous line often shows up here."
    )
    explanation = (
        "Before running anything, Python reads the whole cell; if the grammar is broken it stops with a "
        "SyntaxError and the caret `^` points near where it got confused (the mistake is often just before). "
        "Common shapes:\n\n"
        "```python\nwhile temperature > 30     # missing ':' at the end\ngreeting = \"Hello        # missing closing quote\n"
        "area = (width * height    # '(' never closed\nif answer = 42:            # comparing needs ==\n```"
    )
    return nudge, hint, explanation


def _indentation_error(err, code, where, names):
    ev = err.evalue
    if "expected an indented block" in ev:
        what = "The line after one ending with `:` must be indented (usually 4 spaces) — the block is empty or not indented."
    elif "unexpected indent" in ev:
        what = "This line is indented more than the code around it, but nothing (like an `if` or `def`) opened a block."
    elif "unindent does not match" in ev:
        what = "This line's indentation doesn't line up with any of the blocks above it."
    elif err.ename == "TabError" or "tabs" in ev:
        what = "Tabs and spaces are mixed for indentation; use spaces only."
    else:
        what = f"The indentation is off: *{ev}*."
    nudge = f"Check the spaces at the start of {where.md()}."
    hint = what
    explanation = (
        "In Python, indentation *is* the structure: the lines belonging to an `if`, `for` or `def` are indented "
        "by the same amount under it, and the block ends when the indentation goes back. For example:\n\n"
        '```python\nfor word in ["a", "b"]:\n    upper = word.upper()   # inside the loop (4 spaces)\n'
        '    print(upper)           # still inside\nprint("done")              # after the loop\n```'
    )
    return nudge, hint, explanation


def _type_error(err, code, where, names):
    ev = err.evalue
    if m := re.search(r"unsupported operand type\(s\) for (.+?): '(\w+)' and '(\w+)'", ev):
        what = f"`{m.group(1)}` is used between a `{m.group(2)}` and a `{m.group(3)}`, which Python can't combine."
    elif m := re.search(r'can only concatenate (\w+) \(not "(\w+)"\) to', ev):
        what = f"You're joining a `{m.group(1)}` with a `{m.group(2)}` using `+`; both sides need the same type (convert one with `str()`/`int()`, or use an f-string)."
    elif m := re.search(r"'(\w+)' object is not callable", ev):
        what = f"Something that is a `{m.group(1)}` is being called with `( )` like a function — maybe a variable has the same name as a function, or a `*` is missing."
    elif m := re.search(r"'(\w+)' object is not subscriptable", ev):
        what = f"`[ ]` is used on a `{m.group(1)}`, which can't be indexed." + (
            " A function without `return` gives `None`." if m.group(1) == "NoneType" else ""
        )
    elif m := re.search(r"'(\w+)' object is not iterable", ev):
        what = f"A loop (or unpacking) goes over a `{m.group(1)}`, which isn't a collection — maybe you meant `range(...)`."
    elif m := re.search(r"(\w+)\(\) missing (\d+) required positional argument", ev):
        what = f"`{m.group(1)}` is called with fewer arguments than its definition asks for."
    elif m := re.search(r"(\w+)\(\) takes (\d+) positional arguments? but (\d+) (?:were|was) given", ev):
        what = f"`{m.group(1)}` is called with {m.group(3)} arguments but accepts {m.group(2)} (inside a class, `self` counts)."
    else:
        what = f"A value of the wrong type is used: *{ev}*."
    nudge = f"Look at {where.md()}: check the *type* of each value involved (try `type(...)` on them)."
    hint = what
    explanation = (
        "Each value has a type (`int`, `str`, `list`, `None`…) and each operation only works with some types. "
        'For example:\n\n```python\nage = 7\n"age: " + age        # TypeError: str + int\n'
        '"age: " + str(age)   # convert first\nf"age: {age}"       # or format it\n```'
    )
    return nudge, hint, explanation


_TYPES = {
    "list": list,
    "str": str,
    "dict": dict,
    "int": int,
    "float": float,
    "tuple": tuple,
    "set": set,
    "NoneType": type(None),
    "bool": bool,
}


# names learners bring from other languages
_ALIASES = {
    "push": "append",
    "add": "append",
    "trim": "strip",
    "toUpperCase": "upper",
    "toLowerCase": "lower",
    "contains": "count",
    "addAll": "extend",
    "put": "update",
    "length": None,
}


def _attribute_error(err, code, where, names):
    ev = err.evalue
    guess = []
    if m := re.search(r"'(\w+)' object has no attribute '(\w+)'", ev):
        tname, attr = m.groups()
        if tname in _TYPES:
            methods = [a for a in dir(_TYPES[tname]) if not a.startswith("_")]
            alias = _ALIASES.get(attr)
            guess = [alias] if alias in methods else closest(attr, methods)
        what = f"A `{tname}` has no `.{attr}`."
        if attr in ("length", "size", "len"):
            what += " To get the number of items, use `len(value)`."
        if tname == "NoneType":
            what += " The value is `None` — often the result of a function that doesn't `return`, or of a method like `list.sort()` that changes in place."
    elif m := re.search(r"module '([\w.]+)' has no attribute '(\w+)'", ev):
        what = f"The module `{m.group(1)}` has no `{m.group(2)}` — check the spelling in its documentation, or whether a file of yours is named like the module."
    else:
        what = f"*{ev}*"
    if guess:
        what += f" Did you mean {' or '.join('`.' + g + '`' for g in guess)}?"
    nudge = f"Look at the `.something` after a value on {where.md()}: what type is that value?"
    explanation = (
        "`value.name` looks up `name` on the value's type; different types have different methods. For example:\n\n"
        "```python\nitems = [3, 1]\nitems.push(2)     # AttributeError: lists have no .push\nitems.append(2)   # lists use .append\n"
        "help(list)        # lists every method\n```"
    )
    return nudge, what, explanation


def _key_error(err, code, where, names):
    key = err.evalue or "?"
    nudge = f"Look at the dictionary lookup `[...]` on {where.md()}."
    hint = f"The key {key} isn't in the dictionary (or column labels, for a DataFrame). Check its spelling and case, and print the keys with `.keys()` to compare."
    explanation = (
        "Looking up a missing key raises KeyError; `.get()` returns a default instead. For example:\n\n"
        '```python\nprices = {"apple": 3}\nprices["Apple"]          # KeyError: keys are case-sensitive\n'
        'prices.get("pear", 0)    # 0 when missing\n"pear" in prices         # False: check first\n```'
    )
    return nudge, hint, explanation


def _index_error(err, code, where, names):
    nudge = f"Look at the position `[...]` used on {where.md()} and how long the sequence is."
    hint = f"*{err.evalue}*: the position asked for doesn't exist. Positions start at 0, so the last one is `len(x) - 1`; an empty list has none."
    explanation = (
        "A sequence of length n has positions 0 … n-1. For example:\n\n"
        '```python\nletters = ["a", "b", "c"]\nletters[3]               # IndexError: last is letters[2]\n'
        'letters[-1]              # "c": negative counts from the end\nfor i in range(len(letters)):  # i stays in range\n    ...\n```'
    )
    return nudge, hint, explanation


def _value_error(err, code, where, names):
    ev = err.evalue
    if "invalid literal for int()" in ev or "could not convert string to float" in ev:
        what = f"*{ev}*: the text can't be read as a number (spaces, letters, commas?). Print it to see exactly what it holds."
    elif "too many values to unpack" in ev or "not enough values to unpack" in ev:
        what = (
            f"*{ev}*: the number of names on the left of `=` differs from the number of values on the right."
        )
    elif "math domain error" in ev:
        what = "A math function got a value outside what it accepts (e.g. `sqrt` of a negative number, `log` of 0)."
    else:
        what = f"The type is right but the value isn't acceptable: *{ev}*."
    nudge = f"Look at the values passed on {where.md()}: print them just before that line."
    explanation = (
        "ValueError means the value has the right type but the wrong content. For example:\n\n"
        '```python\nint("42")     # 42\nint("4 2")    # ValueError: the space\n'
        "a, b = [1, 2, 3]   # ValueError: 3 values, 2 names\n```"
    )
    return nudge, what, explanation


def _zero_division(err, code, where, names):
    nudge = f"Look at the division on {where.md()}: what is the value under the `/` (or `%`, `//`)?"
    hint = "Something is divided by zero. Find where the divisor gets its value (a count of 0, an empty list's `len`…)."
    explanation = (
        "Dividing by zero has no answer, so Python stops. Check the divisor first when it can be 0:\n\n"
        "```python\ncount = 0\naverage = 10 / count                         # ZeroDivisionError\n"
        "average = 10 / count if count else 0         # decide what 'no items' means\n```"
    )
    return nudge, hint, explanation


def _module_not_found(err, code, where, names):
    m = re.search(r"No module named '([\w.]+)'", err.evalue)
    mod = m.group(1) if m else "?"
    known = [
        "numpy",
        "pandas",
        "matplotlib",
        "math",
        "random",
        "statistics",
        "collections",
        "datetime",
        "json",
        "os",
        "re",
        "sys",
        "itertools",
        "scipy",
        "seaborn",
        "sklearn",
        "requests",
    ]
    guesses = closest(mod.split(".")[0], known, n=2)
    nudge = f"Look at the `import` on {where.md()}: is {_q(mod)} spelled right, and is it installed in this kernel?"
    hint = f"Python can't find a module named {_q(mod)}." + (
        f" Did you mean {' or '.join(_q(g) for g in guesses)}?"
        if guesses
        else f" If it is a package, install it into this kernel with `%pip install {mod.split('.')[0]}` and restart the kernel."
    )
    explanation = (
        "`import x` searches the installed packages and the notebook's folder. For example:\n\n"
        "```python\nimport matplotlib.pylot   # typo -> matplotlib.pyplot\n%pip install requests     # installs into *this* kernel\n```\n\n"
        "Some packages install under one name and import under another (`pip install scikit-learn`, `import sklearn`)."
    )
    return nudge, hint, explanation


def _file_not_found(err, code, where, names):
    m = re.search(r"No such file or directory: '([^']*)'", err.evalue)
    fname = m.group(1) if m else None
    nudge = (
        f"Look at the file name on {where.md()}"
        + (f" ({_q(fname)})" if fname else "")
        + " and where the notebook runs."
    )
    hint = (
        "That file isn't where Python looked. Relative paths start at the notebook's folder (see `import os; os.getcwd()` "
        "and `os.listdir()`); check the spelling, the extension, and the sub-folder."
    )
    explanation = (
        "A relative path is looked up from the current working directory. For example:\n\n"
        '```python\nimport os\nprint(os.getcwd())       # where Python looks\nprint(os.listdir("data"))  # what is in data/\n'
        'open("data/scores.csv")  # path relative to that folder\n```'
    )
    return nudge, hint, explanation


def _recursion(err, code, where, names):
    nudge = "Look at the function that calls itself: when does it stop calling itself?"
    hint = "The function keeps calling itself without ever reaching a case that returns directly (a *base case*), or the argument doesn't move towards it."
    explanation = (
        "Each recursive call must get closer to a case that returns without recursing. For example:\n\n"
        "```python\ndef countdown(n):\n    if n == 0:          # base case: stop here\n        return\n"
        "    countdown(n - 1)    # smaller each time\n```"
    )
    return nudge, hint, explanation


def _interrupt(err, code, where, names):
    nudge = "The cell was interrupted: it ran for a long time. Look at the loops in it: when do they end?"
    hint = "A loop probably never finishes: a `while` whose condition never becomes false (is the variable it tests changed inside the loop?), or a very large `range`."
    explanation = (
        "A `while` loop runs as long as its condition is true, so something inside must change it. For example:\n\n"
        "```python\nlaps = 0\nwhile laps < 5:\n    print(laps)\n    laps += 1      # without this line the loop never ends\n```\n\n"
        "To find where it is stuck, print the loop variable inside the loop for a few rounds."
    )
    return nudge, hint, explanation


def _default(err, code, where, names):
    nudge = f"Read the last line of the error (*{err.ename}*) and look at {where.md()}."
    hint = f"Python raised **{err.ename}**: *{err.evalue}*. Check the values used on that line — print them just before it to see what they really hold."
    explanation = (
        "Read a traceback from the bottom up: the last line names the error, the lines above show where it happened, "
        "the arrow `---->` marks the line in your cell. A quick way to investigate:\n\n"
        "```python\nprint(type(value), value)   # just before the failing line\n```"
    )
    return nudge, hint, explanation


FAMILIES = {
    "NameError": _name_error,
    "UnboundLocalError": _name_error,
    "SyntaxError": _syntax_error,
    "IndentationError": _indentation_error,
    "TabError": _indentation_error,
    "TypeError": _type_error,
    "AttributeError": _attribute_error,
    "KeyError": _key_error,
    "IndexError": _index_error,
    "ValueError": _value_error,
    "ZeroDivisionError": _zero_division,
    "ModuleNotFoundError": _module_not_found,
    "ImportError": _module_not_found,
    "FileNotFoundError": _file_not_found,
    "RecursionError": _recursion,
    "KeyboardInterrupt": _interrupt,
}

LEVEL_TITLES = {1: "Nudge", 2: "Hint", 3: "Explanation"}


class BuiltinEngine:
    name = ENGINE

    def hint(self, err: ErrorInfo, code: str, level: int, names=()) -> str:
        level = min(max(int(level or 1), 1), 3)
        family = FAMILIES.get(err.ename, _default)
        if err.ename == "UnboundLocalError":
            err = ErrorInfo(
                err.ename,
                err.evalue.replace("cannot access local variable", "name").replace(
                    "where it is not associated with a value", "is not defined"
                ),
                err.traceback,
            )
        texts = family(err, code, locate(err, code), set(names))
        body = texts[level - 1]
        more = "" if level == 3 else "\n\n_Ask for **more help** if you're still stuck._"
        return f"**{LEVEL_TITLES[level]}** — {body}{more}"

    def answer(self, question: str, err: ErrorInfo | None, code: str, level: int, names=()) -> str:
        """Free questions: be honest about what the offline engine can do."""
        if err is not None:
            return f"{OFFLINE_NOTE}\n\nAbout your latest error (**{err.ename}**):\n\n" + self.hint(
                err, code, level, names
            )
        return OFFLINE_NOTE + " When a cell raises an error, I'll explain it step by step."
