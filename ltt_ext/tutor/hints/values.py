"""Right type, wrong value (ValueError and its numpy/pandas cousins), arithmetic (ZeroDivisionError,
OverflowError), iteration (StopIteration, RecursionError, KeyboardInterrupt), files
(FileNotFoundError, UnicodeDecodeError), tests (AssertionError) and the default."""

from __future__ import annotations

import ast
import re

from ..context import BUILTIN_NAMES
from .base import (
    Ctx,
    Hint,
    a_type,
    an,
    closest,
    describe,
    literal,
    plural,
    static_length,
    static_type,
    static_value,
)


def _text_problem(text: str) -> str:
    """What in ``text`` stops int()/float() (checked, never guessed)."""
    if text == "":
        return "it is empty (nothing was typed or read)"
    if text.strip() == "":
        return "it only holds spaces"
    t = text.strip()
    try:
        float(t)
        is_float = True
    except ValueError:
        is_float = False
    if is_float and "." in t:
        return "it has a decimal point: `int()` only reads whole numbers"
    if is_float:
        return "it is written with an exponent or as inf/nan: `int()` only reads whole numbers written with digits"
    if re.fullmatch(r"[+-]?\d{1,3}(,\d{3})+(\.\d+)?", t):
        return "it has commas as thousands separators"
    if re.fullmatch(r"[+-]?\d+,\d+", t):
        return "it uses a comma as the decimal mark (Python needs a point)"
    if re.search(r"\d\s+\d", t):
        return "it has spaces between the digits"
    if re.search(r"[A-Za-z]", t):
        if re.search(r"\d", t):
            return "it mixes letters with the digits"
        return "it is a word, not digits"
    if re.search(r"[$€£%]", t):
        return "it has a currency or percent sign"
    return "it holds characters other than digits"


def conversion(ctx: Ctx, fn: str, text_repr: str) -> Hint:
    text = literal(text_repr)
    text = text if isinstance(text, str) else text_repr
    problem = (
        _text_problem(text)
        if fn == "int"
        else _text_problem(text).replace(
            "it has a decimal point: `int()` only reads whole numbers", "it looks like a number"
        )
    )
    calls = [c for c in ctx.view.of(ast.Call) if isinstance(c.func, ast.Name) and c.func.id == fn and c.args]
    at = ctx.at()
    fixes: list[str] = []
    call_md = f"`{ctx.seg(calls[0])}`" if len(calls) == 1 else f"`{fn}()`"
    nudge = f"{at}, {call_md} gets the text {text_repr}, and {problem}."
    src = None
    if len(calls) == 1 and isinstance(calls[0].args[0], ast.Name):
        a = ctx.assigned_before(calls[0].args[0].id)
        if (
            a is not None
            and isinstance(a[2], ast.Call)
            and isinstance(a[2].func, ast.Name)
            and a[2].func.id == "input"
        ):
            src = (
                f"The text comes from `input()` on line {a[0]}: what the user types arrives exactly as typed."
            )
    if fn == "int" and "decimal point" in problem:
        hint = f"`int()` reads only whole numbers written with digits. {text_repr} is a decimal number: read it with `float()` first (and round it, if you need a whole number)."
        if calls:
            fixes.append(f"float({ctx.seg(calls[0].args[0])})")
    elif "thousands" in problem or "comma" in problem:
        hint = f"Python's number format has no commas: remove them from the text (e.g. with `.replace()`) before converting{', or use a point as the decimal mark' if 'decimal' in problem else ''}."
    elif "empty" in problem or "spaces" in problem:
        hint = "There's no number in that text. Check where it comes from (an empty input, an empty cell of a file) and decide what to do in that case before converting."
    else:
        hint = (
            f"`{fn}()` can only read text made of digits"
            + (" (with an optional point)" if fn == "float" else "")
            + ": is this the value you meant to convert, or does it need cleaning first?"
        )
    if src:
        hint = src + " " + hint
    concept = (
        "`int(text)` and `float(text)` read a number written as text. `int` accepts only whole numbers (`'42'`, "
        "`' 42 '`), `float` also decimals with a point (`'4.2'`); letters, commas, currency signs or an empty text "
        "raise ValueError."
    )
    examples = [
        "print(int('  17 '))            # spaces around are fine: 17\nprint(float('0.25') * 4)       # 1.0\nprint('12'.isdigit(), 'x1'.isdigit())   # test before converting"
    ]
    return Hint(nudge, hint, concept, examples, fixes=fixes)


def unpack(ctx: Ctx, expected: int, got: int | None, too_many: bool) -> Hint:
    at = ctx.at()
    target = None
    value = None
    for node in ctx.view.nodes:
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], (ast.Tuple, ast.List)):
            target, value = node.targets[0], node.value
            break
        if isinstance(node, ast.For) and isinstance(node.target, (ast.Tuple, ast.List)):
            target, value = node.target, None
            break
    have = got if got is not None else (static_length(value, ctx) if value is not None else None)
    if have is None and value is not None:
        have = _split_count(ctx, value)
    if target is not None:
        names = ctx.seg(target)
        right = f"`{ctx.seg(value)}`" if value is not None else "each item"
        count = (
            f"{plural(have, 'value')}"
            if have is not None
            else ("more values" if too_many else "fewer values")
        )
        nudge = f"{at}, `{names}` has {plural(expected, 'name')} on the left, and {right} holds {count}."
    else:
        nudge = (
            f"{at}, unpacking expects {plural(expected, 'value')}, and gets {'more' if too_many else 'fewer'}"
            + (f" ({have})." if have is not None else ".")
        )
    hint = "Unpacking gives each name on the left one value, so both sides must have the same number of them. Which side is off: a name missing or extra, or a value with a different length than expected?"
    concept = "`a, b = pair` puts the first item in `a` and the second in `b`: it needs exactly as many names as items."
    examples = [
        "low, high = (3, 9)          # 2 names, 2 items\nfirst, *rest = [5, 6, 7]    # *rest takes whatever is left"
    ]
    return Hint(nudge, hint, concept, examples)


def _split_count(ctx: Ctx, node: ast.AST) -> int | None:
    """How many pieces ``text.split()`` (no arguments) gives, when the text's value is settled."""
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "split"
        and not node.args
        and not node.keywords
    ):
        text = static_value(node.func.value, ctx)
        if isinstance(text, str):
            return len(text.split())
    return None


def ambiguous(ctx: Ctx, what: str) -> Hint:
    at = ctx.at()
    tests = [n.test for n in ctx.view.of(ast.If, ast.While, ast.IfExp) if hasattr(n, "test")]
    bools = ctx.view.of(ast.BoolOp)
    fixes: list[str] = []
    if bools:
        b = bools[0]
        word = "and" if isinstance(b.op, ast.And) else "or"
        nudge = f"{at}, `{word}` in `{ctx.seg(b)}` needs one True/False on each side, but each side is a whole {what} of them."
        hint = f"For element-by-element conditions, combine the comparisons with `{'&' if word == 'and' else '|'}` instead of `{word}`, and put each comparison in parentheses."
    elif tests:
        t = tests[0]
        names = [n.id for n in ast.walk(t) if isinstance(n, ast.Name)]
        f = next((ctx.fact(n) for n in names if ctx.fact(n) is not None and ctx.fact(n).builtin), None)  # type: ignore[union-attr]
        size = f" ({describe(f)})" if f is not None else ""
        nudge = f"{at}, the condition `{ctx.seg(t)}` gives a whole {what} of True/False values{size} — one per item — and `if`/`while` needs a single one."
        hint = f"What should the condition mean: that *any* item satisfies it, or *all* of them? The {what} has `.any()` and `.all()` for that. Or do you want to keep the matching items (filter with the condition as a mask), or test each item in a loop?"
    else:
        nudge = f"{at}, a whole {what} is used where Python needs a single True or False."
        hint = f"Which part of that line turns a {what} into a yes/no question (`if`, `and`, `or`, `not`)? Decide between *any* and *all*, or filter with a mask."
    concept = (
        f"Comparing {an(what)} {what} with a value compares *each item* and gives {an(what)} {what} of True/False. `if` needs one "
        'answer, so Python refuses to guess between "any" and "all".'
    )
    if bools:
        concept = (
            f"Comparing {an(what)} {what} with a value compares *each item* and gives {an(what)} {what} of "
            "True/False. `and`, `or` and `not` ask one yes/no question of a whole value, so Python refuses to "
            f"guess what a whole {what} means; `&`, `|` and `~` work item by item."
        )
    examples = [
        "import numpy as np\nheights = np.array([150, 172, 181])\ntall = heights > 170          # array([False, True, True])\nprint(tall.any(), tall.all())  # True False\nprint(heights[tall])           # keeps 172 and 181",
    ]
    return Hint(nudge, hint, concept, examples, fixes=fixes)


def length_mismatch(ctx: Ctx, m: re.Match, kind: str) -> Hint:
    at = ctx.at()
    if kind == "pandas":
        values, index = m.group(1), m.group(2)
        sub = next((s for s in ctx.view.of(ast.Subscript) if isinstance(s.ctx, ast.Store)), None)
        if sub is not None:
            df = ctx.seg(sub.value)
            nudge = (
                f"{at}, the new column `{ctx.seg(sub)}` gets {values} values, but `{df}` has {index} rows."
            )
        else:
            nudge = f"{at}, {values} values are given for {index} rows."
        hint = "A DataFrame column holds exactly one value per row: either the list of values is too short/long, or it was built from different data than the DataFrame. Compare their lengths with `len(...)`."
    elif kind == "arrays":
        nudge = f"{at}, all the columns given must have the same length, and they don't."
        hint = (
            "Check `len(...)` of each list used to build the DataFrame: one of them has more or fewer items."
        )
    else:
        shapes = m.group(1).split()
        binops = ctx.view.of(ast.BinOp)
        op = f"`{ctx.seg(binops[0])}`" if len(binops) == 1 else "the operation"
        nudge = f"{at}, {op} combines arrays of shapes {' and '.join(shapes)}, item by item, and their lengths differ."
        hint = "Element-wise operations pair item 0 with item 0, item 1 with item 1… so both arrays need the same length (or one of them a single value). Which one is longer than you expected?"
    concept = "Element-wise operations (numpy arrays, pandas columns) pair items by position, so the pieces must have the same length."
    examples = [
        "import numpy as np\nweights = np.array([2.0, 3.0, 5.0])\nprint(weights * np.array([1, 1, 2]))   # same length: pairs match\nprint(weights * 10)                     # one number applies to all"
    ]
    return Hint(nudge, hint, concept, examples)


def value_error(ctx: Ctx) -> Hint | None:
    ev = ctx.err.evalue
    at = ctx.at()
    if m := re.search(r"invalid literal for int\(\) with base \d+: (.*)$", ev):
        return conversion(ctx, "int", m.group(1))
    if m := re.search(r"could not convert string to float: (.*)$", ev):
        return conversion(ctx, "float", m.group(1))
    if m := re.search(r"too many values to unpack \(expected (\d+)(?:, got (\d+))?\)", ev):
        return unpack(ctx, int(m.group(1)), int(m.group(2)) if m.group(2) else None, True)
    if m := re.search(r"not enough values to unpack \(expected (\d+), got (\d+)\)", ev):
        return unpack(ctx, int(m.group(1)), int(m.group(2)), False)
    if "truth value of an array" in ev:
        return ambiguous(ctx, "array")
    if "truth value of a Series" in ev or "truth value of a DataFrame" in ev:
        return ambiguous(ctx, "column" if "Series" in ev else "table")
    if m := re.search(r"Length of values \((\d+)\) does not match length of index \((\d+)\)", ev):
        return length_mismatch(ctx, m, "pandas")
    if "All arrays must be of the same length" in ev:
        return length_mismatch(ctx, re.match("", ""), "arrays")  # type: ignore[arg-type]
    if m := re.search(r"operands could not be broadcast together with shapes ((?:\([\d, ]*\) ?)+)", ev):
        return length_mismatch(ctx, m, "numpy")
    if m := re.search(r"(max|min)\(\) arg is an empty sequence|(max|min)\(\) iterable argument is empty", ev):
        fn = m.group(1) or m.group(2)
        calls = [
            c for c in ctx.view.of(ast.Call) if isinstance(c.func, ast.Name) and c.func.id == fn and c.args
        ]
        arg = ctx.seg(calls[0].args[0]) if len(calls) == 1 else None
        nudge = f"{at}, `{fn}()` is given " + (f"`{arg}`, which is empty." if arg else "an empty collection.")
        hint = f"There is no {'largest' if fn == 'max' else 'smallest'} item of nothing: was the collection filled before this line? `{fn}` also accepts `default=` for the empty case."
        concept = "`max()`/`min()` compare the items of a collection, so they need at least one item."
        return Hint(
            nudge, hint, concept, ["heights = []\nprint(max(heights, default=0))   # 0 when there are none"]
        )
    if "substring not found" in ev:
        calls = [
            c
            for c in ctx.view.of(ast.Call)
            if isinstance(c.func, ast.Attribute) and c.func.attr in ("index", "rindex")
        ]
        if calls:
            c = calls[0]
            nudge = f"{at}, `{ctx.seg(c)}` looks for {ctx.seg(c.args[0]) if c.args else 'a text'} in `{ctx.seg(c.func.value)}`, and it isn't there."
        else:
            nudge = f"{at}, a text is searched for with `.index()` and not found."
        hint = "`.index()` raises an error when the text isn't found; `.find()` returns -1 instead, and `in` tells whether it is there. Is the case (upper/lower) or a space different?"
        return Hint(
            nudge,
            hint,
            "`text.index(part)` gives the position of `part` in `text`, and fails when `part` is absent.",
            ["motto = 'carpe diem'\nprint('diem' in motto, motto.find('noon'))   # True -1"],
        )
    if "math domain error" in ev:
        calls = [c for c in ctx.view.of(ast.Call) if ctx.seg(c.func).startswith("math.") and c.args]
        if len(calls) == 1:
            c = calls[0]
            arg = c.args[0]
            f = ctx.fact_of(arg)
            val = f" — `{ctx.seg(arg)}` is {describe(f)}" if f is not None else ""
            number = static_value(arg, ctx) if f is None and isinstance(arg, ast.Name) else None
            if isinstance(arg, ast.Name) and type(number) in (int, float):
                a = ctx.assigned_before(arg.id)
                val = f" — `{ctx.seg(arg)}` is {number}" + (f" (line {a[0]})" if a else "")
            nudge = f"{at}, `{ctx.seg(c)}` gets a value outside what `{ctx.seg(c.func)}` accepts{val}."
        else:
            nudge = f"{at}, a `math` function gets a value outside what it accepts."
        hint = "`math.sqrt` needs a number ≥ 0, `math.log` a number > 0, `math.acos`/`asin` a number between -1 and 1. Where does that value come from, and can it really be negative (or zero)?"
        concept = "Math functions are only defined for some inputs (no real square root of a negative number), and raise ValueError outside them."
        return Hint(
            nudge,
            hint,
            concept,
            [
                "import math\nareas = [2.25, 0.0]\nprint([math.sqrt(a) for a in areas])   # [1.5, 0.0]: sqrt needs numbers >= 0\nprint(math.log(1))                      # 0.0: log needs a number > 0"
            ],
        )
    if m := re.search(r"list\.remove\(x\): x not in list|(.+) is not in list", ev):
        calls = [
            c
            for c in ctx.view.of(ast.Call)
            if isinstance(c.func, ast.Attribute) and c.func.attr in ("remove", "index")
        ]
        if calls:
            c = calls[0]
            obj = ctx.seg(c.func.value)
            arg = ctx.seg(c.args[0]) if c.args else "?"
            nudge = f"{at}, `.{c.func.attr}({arg})` looks for {arg} in `{obj}`, and it isn't there."
        else:
            nudge = f"{at}, a value is looked for in a list that doesn't contain it."
        hint = "Check with `in` before removing/finding, and print the list: is the value there with exactly the same type (the text `'3'` is not the number `3`)?"
        return Hint(
            nudge,
            hint,
            "`list.remove(x)` and `list.index(x)` raise ValueError when `x` isn't in the list.",
            ["pets = ['cat', 'dog']\nif 'eel' in pets:\n    pets.remove('eel')   # only when present"],
        )
    return None


def zero_division(ctx: Ctx) -> Hint | None:
    at = ctx.at()
    divs = [
        b for b in ctx.view.of(ast.BinOp, ast.AugAssign) if isinstance(b.op, (ast.Div, ast.FloorDiv, ast.Mod))
    ]
    pick = None
    if len(divs) == 1:
        pick = divs[0]
    else:
        for b in divs:
            right = b.right if isinstance(b, ast.BinOp) else b.value
            f = ctx.fact_of(right)
            if f is not None and f.preview in ("0", "0.0"):
                pick = b
    fixes: list[str] = []
    if pick is not None:
        d = pick.right if isinstance(pick, ast.BinOp) else pick.value
        ds = ctx.seg(d)
        if (
            isinstance(d, ast.Call)
            and isinstance(d.func, ast.Name)
            and d.func.id == "len"
            and d.args
            and ctx.fact("len") is None
        ):
            inner = ctx.seg(d.args[0])
            nudge = f"{at}, the divisor `{ds}` is 0: `{inner}` is empty."
            hint = f"`{inner}` has no items when this line runs. Was it filled (did the loop or cell that adds to it run)? Decide what the result should be for an empty `{inner}` and check for that case before dividing."
        else:
            nudge = f"{at}, the divisor `{ds}` is 0 when this line runs."
            origin = ""
            if isinstance(d, ast.Name):
                a = ctx.assigned_before(d.id)
                if a is not None:
                    origin = f"`{d.id}` gets its value on line {a[0]} (`{a[1]}`). "
            hint = (
                origin
                + "Dividing by zero has no answer: is 0 a value it should never have (then find where it comes from), or a real case (then decide what to do and check it before dividing)?"
            )
    else:
        nudge = f"{at}, one of the divisions (`/`, `//` or `%`) divides by 0."
        hint = "Which divisor on that line is 0? Print each one just before that line."
    concept = "Dividing by zero has no answer, so Python stops. A divisor of 0 usually means an empty collection or a counter that never moved."
    examples = [
        "visits = []\nshare = len(visits) and 100 / len(visits)   # 0 when there are none\nprint(share)"
    ]
    return Hint(nudge, hint, concept, examples, fixes=fixes)


def overflow(ctx: Ctx) -> Hint | None:
    ev = ctx.err.evalue
    at = ctx.at()
    culprits = [
        n
        for n in ctx.view.of(ast.BinOp, ast.Call)
        if isinstance(n, ast.BinOp)
        and isinstance(n.op, (ast.Pow, ast.Mult))
        or isinstance(n, ast.Call)
        and ctx.seg(n.func) in ("math.exp", "math.pow", "float", "math.factorial", "np.exp")
    ]
    stmt = f"`{ctx.seg(culprits[0])}`" if len(culprits) == 1 else "this line"
    names = [
        n
        for n in ctx.view.of(ast.Name)
        if n.id not in BUILTIN_NAMES and ctx.fact(n.id) is not None and ctx.fact(n.id).builtin  # type: ignore[union-attr]
    ]
    vals = ", ".join(f"`{n.id}` is {describe(ctx.fact(n.id))}" for n in names[:3])  # type: ignore[arg-type]
    vals = f" ({vals})" if vals else ""
    if "int too large to convert to float" in ev:
        nudge = f"{at}, a whole number too large for a float (more than about 1.8 × 10**308) is turned into one{vals}."
    elif "cannot convert float infinity" in ev:
        nudge = f"{at}, an infinite float (`inf`) is turned into an `int`{vals}."
        hint = "`inf` has no whole-number value. Where does it come from: an earlier result too large for a float, a division by a tiny number, or `float('inf')` used as a starting value?"
        concept = (
            "Floats can be infinite (`inf`) after an overflow; `int()` and `range()` can't use infinity."
        )
        return Hint(
            nudge,
            hint,
            concept,
            ["import math\nlimit = math.inf\nprint(limit > 10 ** 300)   # True: inf is above every number"],
        )
    else:
        nudge = f"{at}, the result of {stmt} is larger than the largest float Python can hold (about 1.8 × 10**308){vals}."
    hint = (
        "Floats have a maximum. Is the size really what you intended (an exponent or a loop growing too fast, a "
        "missing division)? Whole-number arithmetic with `int` has no limit, and logarithms keep huge values small."
    )
    concept = "A `float` can't go beyond about 1.8e308: `math.exp`, `**` with floats and conversions to float raise OverflowError past it. Python's `int` has no such limit."
    return Hint(
        nudge,
        hint,
        concept,
        [
            "import math\nprint(10 ** 400 > 0)            # ints have no maximum\nprint(400 * math.log(10))       # work with logarithms instead"
        ],
    )


def stop_iteration(ctx: Ctx) -> Hint | None:
    at = ctx.at()
    calls = [
        c for c in ctx.view.of(ast.Call) if isinstance(c.func, ast.Name) and c.func.id == "next" and c.args
    ]
    fixes: list[str] = []
    if len(calls) > 1:
        shown = " or ".join(f"`{ctx.seg(c)}`" for c in calls[:3])
        nudge = f"{at}, one of the calls {shown} asks for one more item than its iterator has left."
        hint = "An iterator gives each item once: when it is used up, `next` raises StopIteration. Which of them was already consumed (or empty from the start)? `next` also accepts a default as second argument."
    elif calls:
        c = calls[0]
        arg = c.args[0]
        if isinstance(arg, ast.GeneratorExp) and arg.generators and arg.generators[0].ifs:
            gen = arg.generators[0]
            nudge = f"{at}, `next(...)` looks for the first item of `{ctx.seg(gen.iter)}` with `{ctx.seg(gen.ifs[0])}`, and no item matches."
            hint = f"`next()` raises StopIteration when there is no item left to give. Either no item of `{ctx.seg(gen.iter)}` satisfies the condition (check the data and the condition), or give `next` a default value as its second argument for that case."
        else:
            s = ctx.seg(arg)
            f = ctx.fact_of(arg)
            kind = f" ({describe(f)})" if f is not None else ""
            nudge = f"{at}, `next({s})` asks `{s}`{kind} for one more item, and it has none left."
            hint = f"An iterator gives each item once: when it is used up (by earlier `next` calls or a loop), `next` raises StopIteration. Was `{s}` already consumed, or empty from the start? `next` also accepts a default as second argument."
        fixes.append(ctx.seg(c)[:-1] + ", None)")
    else:
        nudge = (
            f"{at}, an iterator was asked for another item and had none left (StopIteration has no message)."
        )
        hint = "Which `next(...)` or iterator on that line is already used up? An iterator can be walked through only once."
    concept = "`next(it)` takes the next item of an iterator. An iterator is used up after one pass; asking for more raises StopIteration, unless `next` gets a default value."
    return Hint(
        nudge,
        hint,
        concept,
        [
            "queue = iter(['a', 'b'])\nprint(next(queue), next(queue))\nprint(next(queue, 'empty'))   # default instead of StopIteration"
        ],
        fixes=fixes,
    )


def assertion(ctx: Ctx) -> Hint | None:
    line = (ctx.where.line or "").strip()
    msg = ctx.err.evalue.strip()
    if not line.startswith("assert"):
        return None  # raised by other code: the default names the line
    where = ctx.where.md()
    test = None
    tree = None
    if line.startswith("assert"):
        try:
            tree = ast.parse(line)
            node = tree.body[0]
            test = node.test if isinstance(node, ast.Assert) else None
        except SyntaxError:
            test = None
    func = ""
    if isinstance(test, ast.Compare) and len(test.ops) == 1 and isinstance(test.ops[0], (ast.Eq, ast.NotEq)):
        left, right = ast.unparse(test.left), ast.unparse(test.comparators[0])
        actual_side, expected_side = (test.left, test.comparators[0])
        if isinstance(actual_side, ast.Constant) and not isinstance(expected_side, ast.Constant):
            actual_side, expected_side = expected_side, actual_side
            left, right = right, left
        f = ctx.fact_of(actual_side) if ctx.where.in_cell else None
        actual = f" — it is {describe(f)}" if f is not None else ""
        nudge = f"The check on {where}{func} failed: the test expects `{left}` to be {right}{actual}."
        if msg:
            nudge += f" Its message: *{msg}*."
        if f is not None:
            hint = (
                f"`{left}` is {describe(f)} and the test expects {right}: follow, line by line, how your code computes "
                f"`{left}` — which step gives a different value than you intended?"
            )
        else:
            hint = (
                f"The test compares what your code gives for `{left}` with the expected {right}. Run `{left}` on its "
                "own in a cell to see what it really gives, then follow how your code computes it for that input."
            )
    else:
        cond = ast.unparse(test) if test is not None else line.removeprefix("assert").strip()
        nudge = f"The check on {where}{func} failed: `{cond}` is False." + (
            f" Its message: *{msg}*." if msg else ""
        )
        hint = "The test states what your code should do. Evaluate each part of that condition in a cell to see which part differs from what it expects, and why."
    concept = "`assert condition, message` stops with AssertionError when the condition is False: tests use it to compare what your code gives with what it should give. The test is right by design; the difference points at your code."
    return Hint(
        nudge,
        hint,
        concept,
        [
            "def square(side):\n    return side * side\n\nprint(square(3))        # look at the real result first\nassert square(3) == 9    # then what the test expects"
        ],
    )


def unicode_decode(ctx: Ctx) -> Hint | None:
    ev = ctx.err.evalue
    m = re.search(r"'([\w-]+)' codec can't decode byte 0x([0-9a-f]{2}) in position (\d+)", ev)
    at = ctx.at()
    if not m:
        return None
    codec, byte, pos = m.group(1), int(m.group(2), 16), m.group(3)
    try:
        ch = bytes([byte]).decode("cp1252")
    except UnicodeDecodeError:
        ch = None
    calls = [
        c
        for c in ctx.view.of(ast.Call)
        if ctx.seg(c.func).split(".")[-1]
        in (
            "read_csv",
            "open",
            "read_table",
            "loadtxt",
            "genfromtxt",
            "read_text",
            "read",
            "readlines",
            "readline",
        )
    ]
    what = f"`{ctx.seg(calls[0])}` reads the file" if calls else "bytes are read"
    nudge = (
        f"{at}, {what} as {codec.upper()} text, but byte 0x{byte:02x} at position {pos} isn't valid {codec.upper()}"
        + (f" (in Windows/Latin-1 encoding it is `{ch}`)." if ch and ch.isprintable() else ".")
    )
    hint = (
        "The file was saved in another text encoding. Tell the reading function which one with its `encoding` "
        "argument: files exported by Excel on Windows are often `cp1252` (or `latin-1`)."
        if calls
        else "These bytes were written in another encoding than UTF-8: decode them with the encoding that produced "
        "them (where do they come from?)."
    )
    concept = "A text file is bytes; an encoding says which bytes mean which characters. UTF-8 is the default; older tools save accented letters as Latin-1/cp1252 bytes that UTF-8 can't read."
    return Hint(
        nudge,
        hint,
        concept,
        [
            "print('é'.encode('utf-8'))      # b'\\xc3\\xa9': two bytes in UTF-8\nprint('é'.encode('utf-16-le'))  # b'\\xe9\\x00': other bytes, another encoding",
            "data = 'ü'.encode('utf-16-le')\nprint(data)   # b'\\xfc\\x00': the same letter, other bytes in another encoding",
        ],
        fixes=['encoding="latin-1"', "encoding='latin-1'", 'encoding="cp1252"', "encoding='cp1252'"],
    )


def file_not_found(ctx: Ctx) -> Hint | None:
    m = re.search(r"No such file or directory: '([^']*)'", ctx.err.evalue)
    fname = m.group(1) if m else None
    at = ctx.at()
    nudge = (
        f"{at}, the file `{fname}` isn't found where Python looks for it."
        if fname
        else f"{at}, a file isn't found where Python looks for it."
    )
    ext = _odd_extension(fname) if fname else None
    hint = (
        (
            f"The name ends in `.{ext[0]}`, which is not a usual file extension (`.{ext[1]}` is): check how the "
            "file's name is spelled on disk. "
            if ext
            else ""
        )
        + (
            f"`{fname}` is an absolute path (it starts at `/`, whatever folder the kernel is in): check each folder "
            "in it, one level at a time, with `os.listdir(...)`. "
            if fname and fname.startswith("/")
            else ""
        )
        + (
            "A relative path is looked up from the kernel's working folder (usually the notebook's folder). Check the exact "
            "name (upper/lower case, extension like `.csv` vs `.txt`) and whether the file is in a sub-folder: "
            "`import os; print(os.getcwd(), os.listdir())` shows where Python looks and what is there."
        )
    )
    concept = "`open('name')`, `pd.read_csv('name')` look for the file relative to the working folder unless the path starts at the root."
    return Hint(
        nudge,
        hint,
        concept,
        [
            'import os\nprint(os.getcwd())          # the folder Python looks in\nprint(os.listdir("."))      # what is in it'
        ],
    )


_EXTENSIONS = (
    "csv tsv txt json xlsx xls xml html md py ipynb png jpg jpeg gif svg pdf zip dat parquet pkl"
).split()


def _odd_extension(fname: str) -> tuple[str, str] | None:
    """(extension, the usual one it looks like) when a file name's extension is a misspelling."""
    base = fname.replace("\\", "/").rsplit("/", 1)[-1]
    if "." not in base.strip("."):
        return None
    ext = base.rsplit(".", 1)[1]
    if not ext or ext.lower() in _EXTENSIONS:
        return None
    near = [e for e in _EXTENSIONS if sorted(e) == sorted(ext.lower())] or closest(
        ext.lower(), _EXTENSIONS, n=1, cutoff=0.66
    )
    return (ext, near[0]) if near else None


def recursion(ctx: Ctx) -> Hint | None:
    funcs = [f.func for f in ctx.where.frames if f.func]
    func = max(set(funcs), key=funcs.count) if funcs else None
    fdef = None
    if ctx.tree is not None and func:
        fdef = next(
            (n for n in ast.walk(ctx.tree) if isinstance(n, ast.FunctionDef) and n.name == func), None
        )
    rec_line = None
    rec_call = None
    if fdef is not None:
        for n in ast.walk(fdef):
            if isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id == func:
                rec_call = n
                rec_line = n.lineno
                break
    name = f"`{func}`" if func else "the function"
    if rec_line is not None and rec_call is not None:
        nudge = f"{name} calls itself on line {rec_line} (`{ast.unparse(rec_call)}`) again and again, until Python's limit on nested calls stopped it."
    else:
        nudge = f"{name} keeps calling itself, until Python's limit on nested calls stopped it."
    if fdef is not None:
        params = [a.arg for a in fdef.args.args]
        has_base = any(
            isinstance(n, ast.If) and any(isinstance(r, ast.Return) for r in ast.walk(n))
            for n in ast.walk(fdef)
        )
        same_args = rec_call is not None and [ast.unparse(a) for a in rec_call.args] == params
        if not has_base:
            hint = f"{name} has no case where it returns *without* calling itself (a base case, tested with `if`), so nothing stops it."
        elif same_args:
            hint = f"{name} calls itself with the same arguments it received ({', '.join(params)}), so each call is no closer to its stopping case."
        else:
            hint = f"{name} has a stopping case, but is it ever reached? Follow the argument through a few calls by hand (or print it at the top of {name}): does it move *towards* the stopping case, and can it jump over it?"
    else:
        hint = f"Does {name} have a case that returns without calling itself, and does each call bring its argument closer to that case?"
    concept = "A recursive function needs a case that returns directly (the base case), and each call must move its argument towards it; otherwise the calls pile up until RecursionError."
    after = (
        f"Now look again at {name} and its call to itself on line {rec_line} with this in mind."
        if rec_line is not None
        else ""
    )
    return Hint(
        nudge,
        hint,
        concept,
        after=after,
        examples=[
            "def total_digits(text):\n    if text == '':            # base case: nothing left\n        return 0\n    return int(text[0]) + total_digits(text[1:])   # shorter each time\n\nprint(total_digits('2024'))"
        ],
    )


def interrupt(ctx: Ctx) -> Hint | None:
    w = ctx.where
    loops = []
    if ctx.tree is not None:
        loops = [n for n in ast.walk(ctx.tree) if isinstance(n, ast.While)]
    at = f"while running {w.md()}" if w.lineno else "while it was running"
    if loops:
        loop = loops[0]
        cond = ast.unparse(loop.test)
        tested = {n.id for n in ast.walk(loop.test) if isinstance(n, ast.Name)}
        changed = {
            t.id
            for n in ast.walk(ast.Module(body=loop.body, type_ignores=[]))
            for t in ast.walk(n)
            if isinstance(t, ast.Name) and isinstance(t.ctx, ast.Store)
        }
        frozen = sorted(tested - changed - BUILTIN_NAMES)
        inside = (
            f"while running the `while` loop of line {loop.lineno} (`{ast.unparse(loop.test)}` is its condition)"
            if w.lineno == loop.lineno or not w.lineno
            else f"{at}, inside the `while` loop of line {loop.lineno}"
        )
        nudge = f"The cell was stopped {inside}: after many rounds, `{cond}` was still true."
        if frozen and not (tested & changed):
            vals = "; ".join(f"`{n}` is {describe(ctx.fact(n))}" for n in frozen if ctx.fact(n) is not None)  # type: ignore[arg-type]
            hint = (
                f"Nothing inside the loop changes {', '.join('`' + n + '`' for n in frozen)}, so `{cond}` stays true forever"
                + (f" ({vals} now)." if vals else ".")
            )
        else:
            hint = f"Does each round of the loop bring `{cond}` closer to being false? Print the values it tests inside the loop for a few rounds."
    else:
        nudge = f"The cell was stopped {at}: it ran for a long time."
        hint = "A loop probably never finishes (a `while` whose condition never becomes false), or works on far more data than expected."
    concept = (
        "A `while` loop runs as long as its condition is true, so something inside must change what it tests."
    )
    return Hint(
        nudge,
        hint,
        concept,
        ["laps = 0\nwhile laps < 5:\n    laps += 1      # changes what the condition tests\nprint(laps)"],
    )


def default(ctx: Ctx) -> Hint:
    at = ctx.at()
    ev = ctx.err.evalue.strip()
    names = [n.id for n in ctx.view.of(ast.Name) if n.id not in BUILTIN_NAMES or ctx.fact(n.id) is not None]
    seen: list[str] = []
    for n in names:
        if n not in seen:
            seen.append(n)
    facts = [
        f"`{n}` is {describe(f)}"
        for n in seen
        if (f := ctx.fact(n)) is not None and f.kind not in ("module", "function", "class")
    ]
    said = f" ({ev})" if ev else ""
    if facts:
        nudge = (
            f"{at}, Python stopped with {a_type(ctx.err.ename).replace('`', '')}{said}. There, "
            + "; ".join(facts[:4])
            + "."
        )
    elif seen:
        nudge = f"{at}, Python stopped with {a_type(ctx.err.ename).replace('`', '')}{said}: what do {', '.join('`' + n + '`' for n in seen[:4])} hold just before that line runs?"
    else:
        nudge = f"{at}, Python stopped with {a_type(ctx.err.ename).replace('`', '')}{said}."
    hint = "Read the error's last line, then check the values used on that line: print them (and their `type(...)`) just before it, and compare with what you expected."
    concept = "Read a traceback from the bottom up: the last line names the error, the frames above show where it happened, and the arrow `---->` marks the line in your cell."
    return Hint(
        nudge,
        hint,
        concept,
        ["reading = '21.5'\nprint(type(reading), repr(reading))   # what a value really is"],
    )


__all__ = [
    "assertion",
    "default",
    "file_not_found",
    "interrupt",
    "overflow",
    "recursion",
    "stop_iteration",
    "unicode_decode",
    "value_error",
    "zero_division",
    "static_type",
]
