"""TypeError: values of the wrong type for an operation (str + int, None, calling a non-function,
looping over a number, range(float), len(int), changing a string, wrong arguments...)."""

from __future__ import annotations

import ast
import re

from ..context import BUILTIN_NAMES
from .base import Ctx, Hint, a_type, an, and_list, cap, describe, plural, q, static_type

TYPE_CONCEPT = (
    "Every value has a type (`int`, `str`, `list`, `None`…) and each operation works only with some types: "
    "`+` adds two numbers or joins two texts, `[...]` reads from a collection, `( )` calls a function. "
    "`type(value)` tells what a value is."
)

IN_PLACE = {"sort", "append", "extend", "insert", "remove", "reverse", "clear", "update", "shuffle", "add"}


def _names_in(node: ast.AST) -> list[str]:
    return [n.id for n in ast.walk(node) if isinstance(n, ast.Name)]


def none_origin(ctx: Ctx, name: str) -> str | None:
    """Why ``name`` holds None, when the cell shows it: 'line 1 (`xs = xs.sort()`): `.sort()` ...'."""
    a = ctx.assigned_before(name)
    if a is None:
        return None
    lineno, text, value = a
    if isinstance(value, ast.Call):
        f = value.func
        if isinstance(f, ast.Attribute) and f.attr in IN_PLACE:
            return (
                f"`{name}` got it on line {lineno} (`{text}`): `.{f.attr}()` changes its object in place and returns "
                f"`None`, so the assignment replaced the value of `{name}` with `None`."
            )
        if isinstance(f, ast.Name) and f.id == "print":
            return f"`{name}` got it on line {lineno} (`{text}`): `print()` shows a value but returns `None`."
        if isinstance(f, ast.Name) and ctx.tree is not None:
            fdef = next(
                (n for n in ast.walk(ctx.tree) if isinstance(n, ast.FunctionDef) and n.name == f.id), None
            )
            if fdef is not None and not any(
                isinstance(r, ast.Return) and r.value is not None for r in ast.walk(fdef)
            ):
                return (
                    f"`{name}` got it on line {lineno} (`{text}`): `{f.id}` has no `return` with a value, so "
                    "calling it gives `None`."
                )
    if isinstance(value, ast.Constant) and value.value is None:
        return f"`{name}` was set to `None` on line {lineno} and not changed since."
    return None


def _none_hint(ctx: Ctx, node: ast.AST | None, action: str) -> Hint:
    """A value is None where something else was expected (subscript, attribute, len, loop...)."""
    expr = ctx.seg(node) if node is not None else None
    name = node.id if isinstance(node, ast.Name) else None
    f = ctx.fact(name)
    if f is not None and f.type != "NoneType":
        name = None  # the facts disagree: the None came from a sub-expression; don't claim it
    place = ctx.at()
    if expr:
        nudge = f"{place}, `{expr}` is `None` (no value), and the code {action.format(x='it')}."
    else:
        nudge = f"{place}, the code {action.format(x='a value')} that is `None` (no value)."
    origin = none_origin(ctx, name) if name else None
    if origin:
        hint = origin + (
            " Keep the object itself (the method already changed it), or use a function that returns a new value."
            if "in place" in origin
            else ""
        )
    elif name:
        hint = (
            f"Where does `{name}` get its value? `None` usually comes from a function without `return`, or "
            f"from a method like `.sort()`/`.append()` that changes its object and returns `None` — "
            f"assigning its result to `{name}` replaces the value with `None`."
        )
    else:
        hint = (
            "Something on that line evaluates to `None`: a function without `return`, or a method like "
            "`.sort()`/`.append()` (they change their object and return `None`). Print the pieces to find which."
        )
    examples = [
        "letters = ['c', 'a', 'b']\nresult = letters.reverse()\nprint(result)     # None: reverse() works in place\nprint(letters)    # ['b', 'a', 'c']",
        "def shout(word):\n    print(word.upper())   # shows it, but returns nothing\n\nloud = shout('hey')\nprint(loud)               # None",
        "letters = ['c', 'a', 'b']\nprint(letters.reverse())   # None: the method returns nothing\nprint(sorted(letters))     # a new sorted list",
    ]
    concept = (
        '`None` is Python\'s "no value". Functions without `return`, and methods that change their object in '
        "place (`list.sort`, `list.append`, `dict.update`…), give back `None`; using that result as a list, "
        "a string or a number fails."
    )
    fixes = []
    if name:
        a = ctx.assigned_before(name)
        if a and isinstance(a[2], ast.Call) and isinstance(a[2].func, ast.Attribute):
            fixes.append(ast.unparse(a[2]))
            if a[2].func.attr == "sort":
                fixes.append(f"sorted({ast.unparse(a[2].func.value)})")
    return Hint(nudge, hint, concept, examples, fixes=fixes)


def _binop_candidates(ctx: Ctx, op_symbol: str, left_t: str, right_t: str):
    ops = {
        "+": ast.Add,
        "-": ast.Sub,
        "*": ast.Mult,
        "/": ast.Div,
        "//": ast.FloorDiv,
        "%": ast.Mod,
        "**": ast.Pow,
        "+=": ast.Add,
        "-=": ast.Sub,
    }
    op = ops.get(op_symbol)
    out = []
    for node in ctx.view.nodes:
        if isinstance(node, ast.BinOp) and op and isinstance(node.op, op):
            left, right = node.left, node.right
        elif isinstance(node, ast.AugAssign) and op and isinstance(node.op, op):
            left, right = node.target, node.value
        else:
            continue
        lt, rt = static_type(left, ctx), static_type(right, ctx)
        if (lt and lt != left_t) or (rt and rt != right_t):
            continue
        out.append((node, left, right, (lt is not None) + (rt is not None)))
    out.sort(key=lambda x: -x[3])
    return out


def _operand(ctx: Ctx, node: ast.AST, t: str) -> str:
    """ "`age`, an `int` (30)" — the fact's details when known, else the type from the message."""
    f = ctx.fact_of(node)
    if f is not None and f.type == t:
        return f"`{ctx.seg(node)}`, {describe(f)}"
    return f"`{ctx.seg(node)}`, {a_type(t)}"


def concat(ctx: Ctx, op: str, left_t: str, right_t: str) -> Hint:
    cands = _binop_candidates(ctx, op, left_t, right_t)
    at = ctx.at()
    fixes: list[str] = []
    if len(cands) == 1 or (cands and cands[0][3] == 2 and (len(cands) == 1 or cands[1][3] < 2)):
        node, left, right, _ = cands[0]
        nudge = f"{at}, `{op}` is used between {_operand(ctx, left, left_t)}, and {_operand(ctx, right, right_t)}."
        text_side, num_side = (left, right) if left_t == "str" else (right, left)
        if "str" in (left_t, right_t) and {left_t, right_t} & {"int", "float"}:
            num = ctx.seg(num_side)
            src = _input_origin(ctx, num_side) or _input_origin(ctx, text_side)
            text = ctx.seg(text_side)
            if src or left_t != "str":
                todo = (
                    f"Do you mean to compute with numbers? Then turn `{text}` into a number (`int()` or `float()`) "
                    f"first. Or to build a text? Then turn `{num}` into a `str`."
                )
            else:
                todo = f"To put `{num}` into the text, convert it to a `str` first, or build the whole text with an f-string."
            hint = (
                f"`{op}` joins two texts, or adds two numbers — not one of each. "
                + (src + " " if src else "")
                + todo
            )
            fixes += [f"str({num})"]
            if not isinstance(text_side, (ast.Constant, ast.JoinedStr)):
                fixes += [f"int({text})", f"float({text})"]
            if isinstance(node, ast.BinOp):

                def conv(x: ast.expr) -> ast.expr:
                    return ast.Call(ast.Name("str", ast.Load()), [x], []) if x is num_side else x

                fixed = ast.BinOp(left=conv(node.left), op=node.op, right=conv(node.right))
                fixes.append(ast.unparse(fixed))
        else:
            hint = f"{cap(a_type(left_t))} and {a_type(right_t)} can't be combined with `{op}`: which of the two isn't the type you expected, and where did it get its value?"
    else:
        nudge = f"{at}, `{op}` is used between {a_type(left_t)} and {a_type(right_t)}."
        opers = sorted({ctx.seg(x) for c in cands for x in (c[1], c[2]) if not isinstance(x, ast.Constant)})
        hint = (
            f"Which operand is the {a_type(right_t if left_t == 'str' else left_t).split(' ', 1)[1]} here"
            + (f" — {', '.join(q(o) for o in opers[:4])}?" if opers else "?")
            + f" `{op}` joins two texts or adds two numbers, never one of each: convert one side so both have the same type."
        )
    examples = [
        'count = 3\nnote = f"{count} apples"      # an f-string turns the number into text\nprint(int("4") + count)       # int() turns text into a number: 7',
        'width = "12"\nprint(int(width) * 2)   # 24, a number',
    ]
    concept = (
        "`+` means *add* for numbers and *join* for texts, so Python refuses to guess with one of each: the text "
        '`"7"` and the number `7` are different values. `str(...)` turns a value into text, `int(...)`/`float(...)` '
        "turn text into a number, and an f-string inserts values into a text."
    )
    sequences = {"list", "tuple"} & {left_t, right_t}
    if sequences and {left_t, right_t} & {"int", "float"}:
        concept = (
            f"`{op}` between two lists (or two tuples) joins them into a new, longer one; between a list and a "
            f"number it has no meaning, so Python refuses. `{op}` never changes each item of a list: that takes "
            "a loop (or a NumPy array)."
        )
        examples = [
            "dims = (3, 4)\nprint(dims + (5,))   # (3, 4, 5): + joins two tuples\nprint(dims * 2)      # (3, 4, 3, 4): * repeats them",
        ]
    return Hint(nudge, hint, concept, examples, fixes=fixes)


def _input_origin(ctx: Ctx, node: ast.AST) -> str | None:
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "input":
        return "`input()` always gives text (a `str`), even when digits are typed."
    if isinstance(node, ast.Name):
        a = ctx.assigned_before(node.id)
        if (
            a is not None
            and isinstance(a[2], ast.Call)
            and isinstance(a[2].func, ast.Name)
            and a[2].func.id == "input"
        ):
            return f"`{node.id}` comes from `input()` (line {a[0]}), and `input()` always gives text (a `str`), even when digits are typed."
    return None


def compare(ctx: Ctx, op: str, left_t: str, right_t: str) -> Hint:
    ops = {"<": ast.Lt, ">": ast.Gt, "<=": ast.LtE, ">=": ast.GtE}
    cands = []
    for node in ctx.view.of(ast.Compare):
        items = [node.left, *node.comparators]
        for i, o in enumerate(node.ops):
            if isinstance(o, ops.get(op, ast.Lt)):
                lt, rt = static_type(items[i], ctx), static_type(items[i + 1], ctx)
                if (lt and lt != left_t) or (rt and rt != right_t):
                    continue
                cands.append((items[i], items[i + 1]))
    at = ctx.at()
    if left_t == "NoneType" or right_t == "NoneType":
        node = next(
            (
                x
                for pair in cands
                for x in pair
                if static_type(x, ctx) == "NoneType" or isinstance(x, ast.Name)
            ),
            None,
        )
        return _none_hint(
            ctx,
            node if len(cands) == 1 and isinstance(node, ast.Name) else None,
            "compares {x} with `" + op + "`",
        )
    fixes: list[str] = []
    if len(cands) == 1:
        left, right = cands[0]
        nudge = f"{at}, `{op}` compares {_operand(ctx, left, left_t)}, with {_operand(ctx, right, right_t)}."
        text_side = left if left_t == "str" else right
        src = _input_origin(ctx, text_side)
        hint = (
            (src + " " if src else f"`{ctx.seg(text_side)}` holds text. ")
            + "Text and numbers can't be ordered against each other: turn the text into a number (`int()` or "
            "`float()`) before comparing, ideally right where it is read."
        )
        ts = ctx.seg(text_side)
        fixes += [f"int({ts})", "int(input("]
    elif sorting := [
        c
        for c in ctx.view.of(ast.Call)
        if (isinstance(c.func, ast.Name) and c.func.id in ("sorted", "max", "min"))
        or (isinstance(c.func, ast.Attribute) and c.func.attr == "sort")
    ]:
        nudge = f"{at}, `{ctx.seg(sorting[0])}` compares the items with each other, and they mix {a_type(left_t)} and {a_type(right_t)}."
        hint = "Sorting (and `max`/`min`) orders items against each other, which only works when they are all numbers or all texts: where do the items of the other type come from? Convert them to one type first."
    else:
        nudge = f"{at}, `{op}` compares {a_type(left_t)} with {a_type(right_t)}."
        hint = "Which side of the comparison holds text? Values compared with `<`/`>` must both be numbers (or both texts): convert the text with `int()`/`float()` first."
    examples = [
        'print("10" < "9")          # True: texts compare letter by letter\nprint(10 < 9)              # False: numbers compare by value\nprint(type("10"), type(10))  # two different types',
    ]
    concept = (
        "`<` and `>` order numbers by value and texts alphabetically, but can't order a text against a number. "
        "`input()` and files give text, even when it looks like a number."
    )
    return Hint(nudge, hint, concept, examples, fixes=fixes)


def not_callable(ctx: Ctx, tname: str) -> Hint:
    at = ctx.at()
    calls = []
    for c in ctx.view.of(ast.Call):
        t = static_type(c.func, ctx) if not isinstance(c.func, ast.Constant) else type(c.func.value).__name__
        if (
            isinstance(c.func, ast.Name)
            and c.func.id in BUILTIN_NAMES
            and ctx.fact(c.func.id) is None
            and ctx.facts is not None
        ):
            continue  # the builtin itself, not shadowed
        if t is None or t == tname:
            calls.append((c, t))
    calls.sort(key=lambda x: x[1] is None)
    rebound = [
        (c, t) for c, t in calls if isinstance(c.func, ast.Name) and _replaces_def(ctx, c.func.id) is not None
    ]
    if len(rebound) == 1 and (len(calls) > 1 and calls[0][1] != tname):
        calls = rebound  # the code says which: the name a line above gave a new value
    fixes: list[str] = []
    if calls and (len(calls) == 1 or calls[0][1] == tname):
        call = calls[0][0]
        fn = call.func
        fs = ctx.seg(fn)
        f = ctx.fact_of(fn)
        what = describe(f) if f is not None and f.type == tname else a_type(tname)
        if isinstance(fn, (ast.Constant, ast.BinOp)) or (
            isinstance(fn, ast.Name)
            and tname in ("int", "float")
            and f is None
            and isinstance(fn, ast.Constant)
        ):
            nudge = f"{at}, `{ctx.seg(call)}` puts `(` right after `{fs}`, {what}, so Python tries to call it like a function."
            hint = "A value followed by `(...)` is a function call. To multiply, write the operator `*` explicitly — Python never multiplies implicitly."
        elif isinstance(fn, ast.Name) and fn.id in BUILTIN_NAMES:
            assigned = ctx.assigned_before(fn.id)
            where = f"on line {assigned[0]} (`{assigned[1]}`)" if assigned else "in a cell that ran earlier"
            nudge = (
                f"{at}, `{fs}(...)` is called, but `{fs}` is now {what} — no longer Python's built-in `{fs}`."
            )
            hint = (
                f"Your assignment to `{fs}` {where} replaced Python's built-in `{fs}` for the whole notebook. "
                f"Rename your variable (everywhere you use it), then remove the old value with `del {fs}` (or restart "
                "the kernel) so the built-in comes back."
            )
        elif isinstance(fn, ast.Name) and (replaced := _replaces_def(ctx, fn.id)) is not None:
            (line_no, text), def_line = replaced
            nudge = f"{at}, `{fs}` is called with `( )` like a function, but it is {what}."
            hint = (
                f"Line {line_no} (`{text}`) gives `{fs}` a new value, and that value replaces the function `{fs}` "
                f"defined on line {def_line}: one name holds one thing at a time. Only functions (and classes) can "
                "be called."
            )
        else:
            nudge = f"{at}, `{fs}` is called with `( )` like a function, but it is {what}."
            hint = (
                f"Only functions (and classes) can be called. Did a variable named `{fs}` replace a function of the "
                "same name, or is `[ ]` (indexing) or an operator meant here instead of `( )`?"
            )
    else:
        nudge = f"{at}, something that is {a_type(tname)} is called with `( )` like a function."
        hint = "Which name on that line holds a value rather than a function? A variable may reuse a function's name, or a `*` may be missing before `(`."
    examples = [
        "max_speed = max([3, 8])   # a new name keeps the built-in max usable\nprint(max(1, 2))\nprint(2 * (1 + 4))         # multiplication needs *",
    ]
    concept = (
        "`name(...)` calls whatever `name` holds now. A notebook shares its names between cells, so assigning "
        "`sum = 0` or `list = [...]` hides Python's `sum()` or `list()` until the name is deleted or the kernel restarts."
    )
    return Hint(nudge, hint, concept, examples, fixes=fixes)


def _replaces_def(ctx: Ctx, name: str) -> tuple[tuple[int, str], int] | None:
    """((line, text) of the assignment, line of the def) when this cell defines the function
    ``name`` and then, above the failing line, assigns something else to ``name``."""
    if ctx.tree is None:
        return None
    defs = [
        d.lineno
        for d in ast.walk(ctx.tree)
        if isinstance(d, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and d.name == name
    ]
    a = ctx.assigned_before(name)
    if not defs or a is None or min(defs) > a[0]:
        return None
    return (a[0], a[1]), max(d for d in defs if d < a[0])


def not_iterable(ctx: Ctx, tname: str) -> Hint:
    at = ctx.at()
    target = None
    for node in ctx.view.nodes:
        if isinstance(node, (ast.For, ast.comprehension)):
            target = node.iter
        elif isinstance(node, ast.Assign) and isinstance(node.targets[0], (ast.Tuple, ast.List)):
            target = node.value
        elif isinstance(node, ast.Compare) and any(isinstance(o, (ast.In, ast.NotIn)) for o in node.ops):
            target = node.comparators[-1]
        if target is not None:
            break
    if tname == "NoneType":
        return _none_hint(ctx, target if isinstance(target, ast.Name) else None, "loops over {x}")
    fixes: list[str] = []
    if target is not None:
        ts = ctx.seg(target)
        f = ctx.fact_of(target)
        what = describe(f) if f is not None and f.type == tname else a_type(tname)
        nudge = f"{at}, the code goes through the items of `{ts}`, but `{ts}` is {what} — a single value, not a collection."
        if tname in ("int", "float"):
            hint = "A number has no items to go through. To repeat something a number of times, go through a `range()` of that number; to go through a list, use the list itself (not its length)."
            fixes += [f"range({ts})"]
        else:
            hint = f"{cap(a_type(tname))} has no items to go through: which collection did you mean to loop over?"
    else:
        nudge = f"{at}, {a_type(tname)} is used where a collection of items is needed."
        hint = "Which value on that line is a single number (or other single value) where a list, text or `range` was expected?"
    examples = [
        "for step in range(3):       # range(3) gives 0, 1, 2\n    print('step', step)\nfor ch in 'abc':            # a text is a collection of characters\n    print(ch)",
    ]
    concept = "`for x in something` needs a collection (list, text, dict, `range`...). A number is a single value, so `range(n)` makes the numbers 0…n-1 to loop over."
    return Hint(nudge, hint, concept, examples, fixes=fixes)


def unpack_scalar(ctx: Ctx, tname: str) -> Hint:
    """``a, b = 5`` or ``for a, b in [1, 2]``: a single value is split into several names."""
    at = ctx.at()
    if tname == "NoneType":
        return _none_hint(ctx, None, "splits {x} into several names")
    loop = next(
        (n for n in ctx.view.of(ast.For, ast.comprehension) if isinstance(n.target, (ast.Tuple, ast.List))),
        None,
    )
    assign = next(
        (n for n in ctx.view.of(ast.Assign) if isinstance(n.targets[0], (ast.Tuple, ast.List))), None
    )
    if loop is not None:
        names, src = ctx.seg(loop.target), ctx.seg(loop.iter)
        nudge = f"{at}, each item of `{src}` is split into `{names}`, but an item is {a_type(tname)} — a single value."
        hint = f"`for {names} in ...` needs items that are pairs (or tuples of that size), like the items of `dict.items()`, `zip(...)` or `enumerate(...)`. What do the items of `{src}` look like?"
    elif assign is not None:
        names, src = ctx.seg(assign.targets[0]), ctx.seg(assign.value)
        nudge = f"{at}, `{src}` is split into `{names}`, but it is {a_type(tname)} — a single value."
        hint = f"Unpacking needs a collection with one value per name on the left; `{src}` is {a_type(tname)}. Where does it get its value?"
    else:
        nudge = f"{at}, {a_type(tname)} — a single value — is split into several names."
        hint = "Which value on that line should be a pair (or a list) but is a single value?"
    concept = "`a, b = pair` and `for a, b in pairs` split each value into as many names: the value must be a collection of exactly that size."
    examples = [
        "for position, letter in enumerate('hi'):   # pairs (0, 'h'), (1, 'i')\n    print(position, letter)"
    ]
    return Hint(nudge, hint, concept, examples)


def not_iterator(ctx: Ctx, tname: str) -> Hint:
    at = ctx.at()
    calls = [
        c for c in ctx.view.of(ast.Call) if isinstance(c.func, ast.Name) and c.func.id == "next" and c.args
    ]
    arg = ctx.seg(calls[0].args[0]) if calls else None
    nudge = (
        f"{at}, `next({arg})` asks `{arg}`, {a_type(tname)}, for its next item — but a {tname} isn't an iterator."
        if arg
        else f"{at}, `next()` is given {a_type(tname)}, which isn't an iterator."
    )
    hint = "`next()` works on an *iterator* (which remembers where it is). Make one from the collection with `iter(...)` once, then call `next` on that iterator — or simply loop over the collection with `for`."
    concept = "A list can be walked through many times; an iterator (from `iter(...)`, a generator, a file) walks through it once and remembers its place: `next()` needs the latter."
    return Hint(
        nudge,
        hint,
        concept,
        ["colors = iter(['red', 'green'])\nprint(next(colors))   # red\nprint(next(colors))   # green"],
    )


def no_len(ctx: Ctx, tname: str) -> Hint:
    calls = [
        c for c in ctx.view.of(ast.Call) if isinstance(c.func, ast.Name) and c.func.id == "len" and c.args
    ]
    if tname == "NoneType":
        arg = calls[0].args[0] if len(calls) == 1 else None
        return _none_hint(ctx, arg if isinstance(arg, ast.Name) else None, "gives {x} to `len()`")
    at = ctx.at()
    fixes: list[str] = []
    if len(calls) == 1:
        arg = calls[0].args[0]
        s = ctx.seg(arg)
        f = ctx.fact_of(arg)
        what = describe(f) if f is not None and f.type == tname else a_type(tname)
        nudge = f"{at}, `len` is given `{s}`, which is {what}: a single number has no items to count."
        hint = (
            "`len()` counts the items of a collection (characters of a text, items of a list). What should be "
            f"counted here? If it's the digits of `{s}`, they are the characters of its text form"
            + (
                f"; if `{s}` should be a list, check where it got its value."
                if isinstance(arg, ast.Name)
                else "."
            )
        )
        fixes += [f"len(str({s}))"]
    else:
        nudge = f"{at}, `len` is given {a_type(tname)}, which has no items to count."
        hint = "Which `len(...)` on that line gets a number instead of a collection?"
    examples = [
        "word = 'kayak'\nprint(len(word))          # 5 characters\nprint(len([10, 20, 30]))  # 3 items"
    ]
    concept = "`len(x)` counts the items in a collection: characters in a `str`, items in a `list`, keys in a `dict`. Numbers aren't collections."
    return Hint(nudge, hint, concept, examples, fixes=fixes)


def float_as_int(ctx: Ctx) -> Hint:
    at = ctx.at()
    culprit = None
    caller = None
    for c in ctx.view.of(ast.Call):
        for arg in c.args:
            if isinstance(arg, ast.BinOp) and isinstance(arg.op, ast.Div) or static_type(arg, ctx) == "float":
                culprit, caller = arg, c
                break
        if culprit is not None:
            break
    fixes: list[str] = []
    if culprit is not None and caller is not None:
        cs = ctx.seg(culprit)
        fn = ctx.seg(caller.func)
        value = ""
        if (
            isinstance(culprit, ast.BinOp)
            and isinstance(culprit.left, ast.Name)
            and isinstance(culprit.right, ast.Constant)
        ):
            f = ctx.fact(culprit.left.id)
            if (
                f is not None
                and f.type == "int"
                and f.preview
                and isinstance(culprit.right.value, int)
                and culprit.right.value
            ):
                try:
                    value = f" ({int(f.preview) / culprit.right.value} here)"
                except ValueError:
                    value = ""
        why = (
            "`/` always gives a `float`, even when the division is exact"
            if isinstance(culprit, ast.BinOp)
            else f"`{cs}` is a `float`"
        )
        nudge = f"{at}, `{fn}` gets `{cs}`, a `float`{value}, where it needs a whole number (`int`)."
        hint = f"{why}. For a whole-number result use floor division `//`, or convert explicitly with `int()` / `round()` (decide which rounding you want)."
        if isinstance(culprit, ast.BinOp):
            fixes += [cs.replace("/", "//"), f"int({cs})"]
    else:
        nudge = f"{at}, a `float` is given where a whole number (`int`) is required (for a `range`, a position, a repetition count)."
        hint = (
            "Which value there is a float? `/` always gives one; use `//` or `int()` to get a whole number."
        )
    examples = [
        "print(9 / 3, type(9 / 3))     # 3.0 <class 'float'>: / always gives a float\nprint(9 // 2, type(9 // 2))   # 4 <class 'int'>: // gives an int\nprint(round(4.6))             # 5: round() gives an int too"
    ]
    concept = "`range()`, positions like `x[i]` and repetition `text * n` need whole numbers (`int`). `/` always returns a `float` (10 / 2 is 5.0); `//` returns an `int` for ints."
    return Hint(nudge, hint, concept, examples, fixes=fixes)


def not_an_int(ctx: Ctx, tname: str) -> Hint:
    """A `str` (or another non-number) where a whole number is needed: ``range(times)``."""
    at = ctx.at()
    pick = next(
        ((c, arg) for c in ctx.view.of(ast.Call) for arg in c.args if static_type(arg, ctx) == tname),
        None,
    )
    fixes: list[str] = []
    if pick is not None:
        call, arg = pick
        f = ctx.fact_of(arg)
        what = describe(f) if f is not None and f.type == tname else a_type(tname)
        nudge = f"{at}, `{ctx.seg(call.func)}` gets `{ctx.seg(arg)}`, {what}, where it needs a whole number (`int`)."
        origin = _input_origin(ctx, arg) if tname == "str" else None
        hint = (origin + " " if origin else "") + (
            "Text that holds digits is still text: it has to be turned into a number before it can count "
            "repetitions or positions."
            if tname == "str"
            else f"Where does `{ctx.seg(arg)}` get its value, and what kind of value did you expect there?"
        )
        fixes += [f"int({ctx.seg(arg)})", "int(input("]
    else:
        nudge = f"{at}, {a_type(tname)} is given where a whole number (`int`) is needed (a `range`, a position, a repetition count)."
        hint = "Which value on that line is not a number? Print it and its `type(...)` just before the line."
    examples = [
        "answer = '4'                 # text, even though it shows a digit\nprint(type(answer), type(int(answer)))\nprint(list(range(int('2'))))   # [0, 1]",
        "print('3' * 2)     # 33: a text is repeated\nprint(3 * 2)       # 6: a number is multiplied\nprint(type('3'), type(3))",
    ]
    concept = "`range()`, positions like `x[i]` and repetition `text * n` need whole numbers (`int`); `input()` and files give text (`str`), even when it looks like a number."
    return Hint(nudge, hint, concept, examples, fixes=fixes)


def item_assignment(ctx: Ctx, tname: str) -> Hint:
    at = ctx.at()
    targets = [n for n in ctx.view.of(ast.Subscript) if isinstance(n.ctx, ast.Store)]
    if targets:
        t = targets[0]
        obj = ctx.seg(t.value)
        f = ctx.fact_of(t.value)
        what = describe(f) if f is not None and f.type == tname else a_type(tname)
        nudge = f"{at}, `{ctx.seg(t)} = ...` tries to replace part of `{obj}`, which is {what} — and {'strings' if tname == 'str' else tname + 's'} can't be changed in place."
    else:
        obj = None
        nudge = f"{at}, an item of {a_type(tname)} is assigned, and {'strings' if tname == 'str' else tname + 's'} can't be changed in place."
    if tname == "str":
        hint = (
            "Strings never change once created. Build a *new* string from pieces (slices and `+`, or a method "
            f"like `.replace()`) and assign that new string to {'`' + obj + '`' if obj else 'the name'}."
        )
        examples = [
            "city = 'paris'\ncity_title = city.capitalize()   # a new string: 'Paris'\nprint(city[:3] + '...')          # slices build new strings too"
        ]
        concept = "Strings are *immutable*: `text[0] = ...` is not allowed. Methods and slicing return new strings, which you assign to a name."
    else:
        hint = "Tuples can't be changed after they're made: build a new tuple, or use a list if the values must change."
        examples = [
            "corner = (2, 5)\nmoved = (corner[0] + 1, corner[1])  # a new tuple\ncoords = list(corner)\ncoords.append(7)                    # a list can change"
        ]
        concept = "Tuples are *immutable*, like strings: their items can't be replaced. Lists can."
    return Hint(nudge, hint, concept, examples)


def arguments(ctx: Ctx, m: re.Match, kind: str) -> Hint:
    at = ctx.at()
    func = m.group(1)
    short_name = func.split(".")[-1]
    fdef = None
    if ctx.tree is not None:
        fdef = next(
            (n for n in ast.walk(ctx.tree) if isinstance(n, ast.FunctionDef) and n.name == short_name), None
        )
    params = [a.arg for a in fdef.args.args] if fdef is not None else None
    if short_name == "__init__" and "." in func:
        short_name = func.split(".")[-2]  # A.__init__() is what `A(...)` calls
        cdef = (
            next(
                (n for n in ast.walk(ctx.tree) if isinstance(n, ast.ClassDef) and n.name == short_name), None
            )
            if ctx.tree
            else None
        )
        init = (
            next((n for n in cdef.body if isinstance(n, ast.FunctionDef) and n.name == "__init__"), None)
            if cdef
            else None
        )
        params = [a.arg for a in init.args.args][1:] if init is not None else None
        func = short_name
    call = next(
        (c for c in ctx.view.of(ast.Call) if ctx.seg(c.func).split(".")[-1] == short_name),
        None,
    )
    call_md = f"`{ctx.seg(call)}`" if call is not None else f"the call to `{short_name}`"
    in_class = "." in func
    if kind == "missing":
        missing = re.findall(r"'(\w+)'", m.group(0))
        nudge = f"{at}, {call_md} gives `{short_name}` no value for {and_list(q(x) for x in missing)}."
        if missing == ["self"]:
            hint = f"`{short_name}` is a method: call it on an object made from the class (first create one with the class name and `()`), not on the class itself."
        else:
            defn = (
                f" `{short_name}` is defined with the parameters ({', '.join(q(p) for p in params)})"
                if params
                else ""
            )
            hint = f"Each parameter without a default needs a value, in order.{defn}{';' if defn else ''} the call passes fewer values."
    elif kind == "too_many":
        takes, given = m.group(2), m.group(3)
        nudge = f"{at}, {call_md} passes {plural(int(given), 'positional value')}, and `{short_name}` accepts {takes}."
        first = params[0] if params else None
        if in_class and first != "self":
            hint = f"For a method, Python passes the object itself as the first value: `{short_name}`'s definition needs `self` as its first parameter."
        else:
            hint = "Compare the call with the definition: one value per parameter, in order" + (
                f" (`{short_name}` has {plural(len(params), 'parameter')}: {and_list(q(p) for p in params)})."
                if params
                else "."
            )
    else:
        kw = re.search(r"unexpected keyword argument '(\w+)'", m.group(0))
        nudge = (
            f"{at}, {call_md} passes `{kw.group(1) if kw else '?'}=`, a keyword `{short_name}` doesn't have."
        )
        hint = "Keyword arguments must use the parameter names of the definition" + (
            f": {', '.join(params)}." if params else "; check its documentation (`help(...)`)."
        )
    examples = [
        "def rectangle_perimeter(side_a, side_b):\n    return 2 * (side_a + side_b)\n\nprint(rectangle_perimeter(4, 2))   # one value per parameter, in order"
    ]
    concept = "A call passes one value for each parameter of the function's definition (except those with a default value), in order or by name."
    return Hint(nudge, hint, concept, examples)


def wrong_index_type(ctx: Ctx, container_t: str, key_t: str) -> Hint:
    at = ctx.at()
    subs = list(ctx.view.of(ast.Subscript))
    pick = None
    for s in subs:
        ct = static_type(s.value, ctx)
        kt = static_type(s.slice, ctx)
        if (ct in (None, container_t)) and (kt in (None, key_t)):
            pick = s
            if ct == container_t:
                break
    if pick is not None:
        obj, key = ctx.seg(pick.value), ctx.seg(pick.slice)
        f = ctx.fact_of(pick.value)
        what = describe(f) if f is not None and f.type == container_t else a_type(container_t)
        nudge = f"{at}, `{obj}` is {what}, and `[{key}]` uses {a_type(key_t)} as its position."
        loopvar = _loop_item_of(ctx, pick)
        if loopvar:
            hint = f"`{key}` comes from `for {key} in {obj}`: it is already an *item* of `{obj}`, not a position — use it directly (or loop over `range(len(...))` / `enumerate` if you need positions)."
        elif container_t == "str":
            hint = f"`{obj}` is a text, whose positions are numbers; to look things up by name you need a `dict` — is `{obj}` the value you think it is?"
        else:
            hint = f"A `{container_t}` is indexed by position (0, 1, 2…), not by {a_type(key_t)}. To look values up by a name, use a `dict`; if `{obj}` holds dicts, pick one by position first."
    else:
        nudge = f"{at}, {a_type(container_t)} is indexed with {a_type(key_t)}."
        hint = f"Which `[...]` on that line uses {a_type(key_t)} on a {container_t}? Positions must be whole numbers."
    examples = [
        "colors = ['red', 'blue']\nprint(colors[1])                 # by position\nages = {'ann': 31}\nprint(ages['ann'])               # by key, in a dict"
    ]
    concept = "Lists, tuples and strings are indexed by position (an `int`), dicts by key. `for item in items` gives the items themselves, not their positions."
    return Hint(nudge, hint, concept, examples)


def _loop_item_of(ctx: Ctx, sub: ast.Subscript) -> bool:
    if ctx.tree is None or not isinstance(sub.slice, ast.Name) or not isinstance(sub.value, ast.Name):
        return False
    for n in ast.walk(ctx.tree):
        if isinstance(n, ast.For) and isinstance(n.target, ast.Name) and n.target.id == sub.slice.id:
            if isinstance(n.iter, ast.Name) and n.iter.id == sub.value.id:
                return True
    return False


def not_subscriptable(ctx: Ctx, tname: str) -> Hint:
    subs = ctx.view.of(ast.Subscript)
    if tname == "NoneType":
        cands = [s.value for s in subs if static_type(s.value, ctx) in (None, "NoneType")]
        node = cands[0] if len(cands) == 1 else None
        return _none_hint(ctx, node, "reads an item of {x} with `[...]`")
    at = ctx.at()
    cands = [s for s in subs if static_type(s.value, ctx) in (None, tname)]
    if len(cands) == 1 or (cands and static_type(cands[0].value, ctx) == tname):
        s = cands[0]
        obj = ctx.seg(s.value)
        f = ctx.fact_of(s.value)
        what = describe(f) if f is not None and f.type == tname else a_type(tname)
        if (
            f is not None
            and f.kind == "function"
            or tname in ("function", "builtin_function_or_method", "method")
        ):
            nudge = f"{at}, `{ctx.seg(s)}` uses `[ ]` on `{obj}`, which is a function."
            hint = f"A function is called with `( )`; `[ ]` reads an item of a collection. Did you mean to call `{obj}`, or to index its result?"
        else:
            nudge = (
                f"{at}, `{ctx.seg(s)}` reads an item of `{obj}`, but `{obj}` is {what}, which has no items."
            )
            hint = f"Only collections (lists, texts, dicts…) have items to read with `[ ]`. Where does `{obj}` get its value — is it the collection you meant?"
    else:
        nudge = f"{at}, `[ ]` is used on {a_type(tname)}, which has no items."
        hint = f"Which value on that line is {a_type(tname)} rather than a collection?"
    examples = [
        "prices = [4, 7]\nfirst = prices[0]      # lists have items\nquantity = 12\nprint(str(quantity)[0])   # a number's digits: through its text"
    ]
    concept = "`x[i]` reads an item of a collection (list, tuple, str, dict). Numbers, `None` and functions have no items."
    return Hint(nudge, hint, concept, examples)


def unhashable(ctx: Ctx, tname: str) -> Hint:
    at = ctx.at()
    subs = [
        n
        for n in ctx.view.of(ast.Subscript)
        if static_type(n.slice, ctx) in (tname, None) and not isinstance(n.slice, ast.Constant)
    ]
    if len(subs) == 1:
        nudge = f"{at}, `{ctx.seg(subs[0])}` uses `{ctx.seg(subs[0].slice)}`, {a_type(tname)}, as a key."
    else:
        nudge = f"{at}, {a_type(tname)} is used as a dict key or a set item."
    hint = (
        f"Dict keys and set items must be values that never change (numbers, texts, tuples); {an(tname)} `{tname}` "
        "can change, so it can't be one. Use a tuple instead, or the item you meant to look up."
    )
    concept = "Dicts and sets find their keys by a hash of the value, so a key must be immutable: `str`, `int`, `tuple` yes; `list`, `dict`, `set` no."
    return Hint(
        nudge, hint, concept, ["visits = {}\nvisits[('Oslo', 2024)] = 3   # a tuple key works\nprint(visits)"]
    )


def sequence_mult(ctx: Ctx, other: str) -> Hint:
    at = ctx.at()
    mults = [n for n in ctx.view.of(ast.BinOp) if isinstance(n.op, ast.Mult)]
    if len(mults) == 1:
        b = mults[0]
        nudge = f"{at}, `{ctx.seg(b)}` multiplies a text or list by {a_type(other)}."
        hint = (
            "`*` with a text (or list) *repeats* it a whole number of times. Is one side text that should be a number "
            "(convert it with `int()`/`float()`), or is the count a float?"
        )
    else:
        nudge = f"{at}, a text or list is multiplied by {a_type(other)}."
        hint = "Which `*` on that line has a text (or list) on one side? Convert text to a number before multiplying."
    examples = [
        "unit_price = '2.5'\nprint(float(unit_price) * 4)   # 10.0: a number times a number\nprint('ab' * 3)                # 'ababab': text repeated"
    ]
    concept = (
        "`text * n` repeats the text n times (n must be an `int`); to compute, both sides must be numbers."
    )
    return Hint(nudge, hint, concept, examples)


def type_error(ctx: Ctx) -> Hint | None:
    ev = ctx.err.evalue
    if m := re.search(r'can only concatenate (\w+) \(not "(\w+)"\) to \w+', ev):
        return concat(ctx, "+", m.group(1), m.group(2))
    if m := re.search(r"unsupported operand type\(s\) for (\S+): '(\w+)' and '(\w+)'", ev):
        if "NoneType" in (m.group(2), m.group(3)):
            side = list(ctx.view.of(ast.BinOp, ast.AugAssign))
            node = None
            for b in side:
                for x in (
                    getattr(b, "left", None) or getattr(b, "target", None),
                    getattr(b, "right", None) or getattr(b, "value", None),
                ):
                    if isinstance(x, ast.Name) and static_type(x, ctx) in ("NoneType",):
                        node = x
            return _none_hint(ctx, node, "uses {x} with `" + m.group(1) + "`")
        return concat(ctx, m.group(1), m.group(2), m.group(3))
    if m := re.search(r"'(\S+)' not supported between instances of '(\w+)' and '(\w+)'", ev):
        return compare(ctx, m.group(1), m.group(2), m.group(3))
    if m := re.search(r"'(\w+)' object is not callable", ev):
        return not_callable(ctx, m.group(1))
    if m := re.search(r"cannot unpack non-iterable (\w+) object", ev):
        return unpack_scalar(ctx, m.group(1))
    if m := re.search(r"'(\w+)' object is not iterable", ev):
        return not_iterable(ctx, m.group(1))
    if m := re.search(r"'(\w+)' object is not an iterator", ev):
        return not_iterator(ctx, m.group(1))
    if m := re.search(r"object of type '(\w+)' has no len\(\)", ev):
        return no_len(ctx, m.group(1))
    if "cannot be interpreted as an integer" in ev and "'float'" in ev:
        return float_as_int(ctx)
    if m := re.search(r"'(\w+)' object cannot be interpreted as an integer", ev):
        return not_an_int(ctx, m.group(1))
    if m := re.search(r"'(\w+)' object does not support item assignment", ev):
        return item_assignment(ctx, m.group(1))
    if m := re.search(r"([\w.]+)\(\) missing \d+ required positional arguments?: .*", ev):
        return arguments(ctx, m, "missing")
    if m := re.search(r"([\w.]+)\(\) takes (\d+) positional arguments? but (\d+) (?:were|was) given", ev):
        return arguments(ctx, m, "too_many")
    if m := re.search(r"([\w.]+)\(\) got an unexpected keyword argument '\w+'", ev):
        return arguments(ctx, m, "keyword")
    if m := re.search(r"(list|tuple|string) indices must be integers(?: or slices)?, not (\w+)", ev):
        return wrong_index_type(ctx, "str" if m.group(1) == "string" else m.group(1), m.group(2).strip("'"))
    if m := re.search(r"string indices must be integers(?:, not '(\w+)')?", ev):
        return wrong_index_type(ctx, "str", m.group(1) or "str")
    if m := re.search(r"'(\w+)' object is not subscriptable", ev):
        return not_subscriptable(ctx, m.group(1))
    if m := re.search(r"can't multiply sequence by non-int of type '(\w+)'", ev):
        return sequence_mult(ctx, m.group(1))
    if m := re.search(r"unhashable type: '(\w+)'", ev):
        return unhashable(ctx, m.group(1))
    return None


__all__ = ["type_error", "none_origin", "TYPE_CONCEPT", "an"]
