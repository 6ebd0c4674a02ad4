"""Looking things up: KeyError (dict keys, DataFrame columns), IndexError, AttributeError."""

from __future__ import annotations

import ast
import re

from .base import (
    Ctx,
    Hint,
    _simple_assign,
    a_type,
    cap,
    closest,
    describe,
    literal,
    or_list,
    plural,
    static_length,
    static_type,
)
from .names import safe_module
from .typeerrors import _none_hint

_TYPES: dict[str, type] = {
    "list": list,
    "str": str,
    "dict": dict,
    "int": int,
    "float": float,
    "tuple": tuple,
    "set": set,
    "bool": bool,
}
# common attributes of numpy/pandas objects (the server never imports them)
_LIB_ATTRS = {
    "DataFrame": [
        "columns",
        "shape",
        "head",
        "tail",
        "describe",
        "info",
        "loc",
        "iloc",
        "index",
        "dtypes",
        "values",
        "mean",
        "sum",
        "count",
        "groupby",
        "sort_values",
        "drop",
        "merge",
        "plot",
        "dropna",
        "fillna",
        "rename",
        "apply",
        "unique",
        "value_counts",
    ],
    "Series": [
        "shape",
        "head",
        "tail",
        "describe",
        "loc",
        "iloc",
        "index",
        "dtype",
        "values",
        "mean",
        "sum",
        "count",
        "sort_values",
        "unique",
        "value_counts",
        "apply",
        "plot",
        "dropna",
        "fillna",
        "str",
    ],
    "ndarray": [
        "shape",
        "dtype",
        "size",
        "ndim",
        "reshape",
        "mean",
        "sum",
        "max",
        "min",
        "sort",
        "tolist",
        "astype",
        "flatten",
        "transpose",
    ],
}
# names learners bring from other languages
_ALIASES = {
    "push": "append",
    "add": "append",
    "trim": "strip",
    "toUpperCase": "upper",
    "toLowerCase": "lower",
    "uppercase": "upper",
    "lowercase": "lower",
    "contains": "count",
    "addAll": "extend",
    "put": "update",
    "size": None,
    "length": None,
    "len": None,
}


def _dict_literal_keys(ctx: Ctx, name: str) -> list | None:
    """Keys of a dict literal (or of ``pd.DataFrame({...})``) assigned to ``name`` by a plain
    assignment earlier in the cell, when nothing after it could add keys (no facts)."""
    a = ctx.assigned_before(name)
    if a is None or not _simple_assign(ctx, name, a[0]):
        return None
    value = a[2]
    if isinstance(value, ast.Call) and static_type(value, ctx) == "pandas.DataFrame" and value.args:
        value = value.args[0]
    if not isinstance(value, ast.Dict):
        return None
    # any later statement touching the name (d[k] = ..., d.update(...)) may add keys
    for node in ast.walk(ctx.tree) if ctx.tree is not None else ():
        line = getattr(node, "lineno", 0)
        if a[0] < line < (ctx.where.lineno or 0) and isinstance(node, ast.Name) and node.id == name:
            return None
    keys = []
    for k in value.keys:
        if isinstance(k, ast.Constant):
            keys.append(k.value)
        else:
            return None
    return keys


def _subscript_with(ctx: Ctx, key) -> ast.Subscript | None:
    subs = ctx.view.of(ast.Subscript)
    for s in subs:
        if isinstance(s.slice, ast.Constant) and s.slice.value == key:
            return s
    for s in subs:
        if isinstance(s.slice, ast.Name):
            f = ctx.fact(s.slice.id)
            if f is not None and f.preview is not None and f.preview == repr(key):
                return s
    named = [s for s in subs if isinstance(s.slice, ast.Name)]
    loads = [s for s in subs if not (isinstance(s.slice, ast.Constant))]
    if len(named) == 1 and len(loads) == 1:
        return named[0]
    return subs[0] if len(subs) == 1 else None


def key_error(ctx: Ctx) -> Hint | None:
    raw = ctx.err.evalue
    if not raw:
        return None  # a bare `raise KeyError`: nothing to name
    key = literal(raw)
    key_md = f"`{raw}`" if raw else "a key"
    at = ctx.at()
    sub = _subscript_with(ctx, key) if raw else None
    fixes: list[str] = []
    container = ctx.seg(sub.value) if sub is not None else None
    f = ctx.fact_of(sub.value) if sub is not None else None
    keys: list | None = None
    kind = "key"
    if f is not None and f.keys is not None:
        keys = list(f.keys)
    elif f is not None and f.columns is not None:
        keys, kind = list(f.columns), "column"
    elif sub is not None and isinstance(sub.value, ast.Name):
        keys = _dict_literal_keys(ctx, sub.value.id)
    if keys is not None and key in keys:
        keys = None  # the facts say the key is there: the failing lookup is another one; don't claim
    is_df = (f is not None and f.type == "pandas.DataFrame") or (
        sub is not None and static_type(sub.value, ctx) == "pandas.DataFrame"
    )
    if is_df:
        kind = "column"
    augmented = sub is not None and any(
        isinstance(n, ast.AugAssign) and n.target is sub for n in ctx.view.nodes
    )
    via = ""
    if sub is not None and isinstance(sub.slice, ast.Name):
        via = f" (the value of `{sub.slice.id}`)"
    if sub is None:
        nudge = f"{at}, a lookup of the key {key_md} fails: which lookup on that line uses that key, and what keys does that dict (or table) have?"
    elif augmented:
        nudge = f"{at}, `{container}` has no entry for {key_md}{via} yet when `{ctx.seg(sub)}` is increased."
    elif keys is not None:
        what = "the DataFrame" if is_df else "the dict"
        nudge = f"{at}, {what} `{container}` has no {kind} {key_md}{via} — it has {plural(len(keys), kind)}."
    else:
        nudge = f"{at}, `{container}` has no {kind} {key_md}{via} at this point."
    guesses = closest(key, keys, n=2) if keys is not None and isinstance(key, str) else []
    twin = _type_twin(key, keys) if keys is not None and not augmented else None
    examples = [
        "stock = {'Pears': 4}\nprint('pears' in stock)       # False: case counts\nprint(stock.get('plums', 0))  # 0: a default for a missing key",
        "tally = {}\nfor fruit in ['fig', 'fig']:\n    tally[fruit] = tally.get(fruit, 0) + 1",
    ]
    if twin is not None and keys is not None:
        shown = ", ".join(f"`{k!r}`" for k in keys[:10]) + (", …" if len(keys) > 10 else "")
        hint = (
            f"`{container}`'s {kind}s are {shown}. {key_md} is {a_type(type(key).__name__)}, and the {kind} "
            f"`{twin!r}` is {a_type(type(twin).__name__)}: a number and a text that look alike are different {kind}s."
        )
        if sub is not None:
            fixes += [f"{container}[{twin!r}]", f"{container}[str({ctx.seg(sub.slice)})]"]
            fixes += [f"{container}[int({ctx.seg(sub.slice)})]"]
        examples.insert(
            0,
            "codes = {7: 'lucky'}\nprint('7' in codes)   # False: the key is the number 7, not the text '7'\nprint(7 in codes)     # True",
        )
    elif augmented and sub is not None:
        hint = (
            f"`{ctx.seg(sub)} += ...` first reads the current value for {key_md}, and a key seen for the first time has "
            "none. Give a new key its starting value before adding to it (test with `in`, or read it with `.get()` "
            "and a default)."
        )
        fixes += [f"{container}.get({ctx.seg(sub.slice)}, 0)"] if sub is not None else []
    elif guesses:
        g = guesses[0]
        why = []
        if isinstance(g, str) and g.strip() != g and g.strip() == str(key).strip():
            why.append("note the spaces around it")
        elif isinstance(g, str) and g.lower() == str(key).lower():
            why.append("upper/lower case counts")
        hint = (
            f"Did you mean the {kind} {or_list('`' + repr(x) + '`' for x in guesses)}"
            + (f" ({'; '.join(why)})" if why else "")
            + f"? {kind.capitalize()}s must match exactly."
        )
        if sub is not None:
            fixes += [f"{container}[{g!r}]", f'{container}["{g}"]']
    elif keys is not None:
        shown = ", ".join(f"`{k!r}`" for k in keys[:10]) + (", …" if len(keys) > 10 else "")
        hint = (
            f"`{container}`'s {kind}s are {shown}"
            + ("." if keys else " — it is empty.")
            + f" {key_md} is not one of them: is it spelled as when the {kind} was created, or was it never added?"
        )
    else:
        hint = (
            f"Is {key_md} spelled exactly like the {kind} when it was created (upper/lower case, spaces)? Print "
            f"`{container or 'the dict'}{'.columns' if is_df else '.keys()'}` to compare, and check that the line adding it has run."
        )
    concept = (
        "A dict (or a DataFrame's columns) is looked up by exact key: `'Name'`, `'name'` and `'name '` are three "
        "different keys. Looking up a missing key raises KeyError; `key in d` checks first, and `d.get(key, default)` "
        "returns a default instead."
    )
    return Hint(nudge, hint, concept, examples, fixes=fixes)


def _type_twin(key, keys: list):
    """The key that differs from ``key`` only by being text instead of a number (or the reverse)."""
    for k in keys:
        if isinstance(key, int) and isinstance(k, str) and k.strip() == str(key):
            return k
        if isinstance(key, str) and isinstance(k, int) and not isinstance(k, bool) and key.strip() == str(k):
            return k
    return None


def index_error(ctx: Ctx) -> Hint | None:
    ev = ctx.err.evalue
    at = ctx.at()
    m_np = re.search(r"index (-?\d+) is out of bounds for axis (\d+) with size (\d+)", ev)
    if "pop from empty" in ev:
        pops = [
            c for c in ctx.view.of(ast.Call) if isinstance(c.func, ast.Attribute) and c.func.attr == "pop"
        ]
        obj = ctx.seg(pops[0].func.value) if pops else None
        nudge = (
            f"{at}, `.pop()` is called on `{obj}`, which is empty."
            if obj
            else f"{at}, `.pop()` is called on an empty list."
        )
        hint = "There's nothing left to take: check that the list has items (`if ...:`) before popping, or why it is empty at that point."
        return Hint(nudge, hint, _INDEX_CONCEPT, _INDEX_EXAMPLES)
    subs = [s for s in ctx.view.of(ast.Subscript) if not isinstance(s.slice, ast.Slice)]
    if not subs and not m_np and not ev:
        return None  # a bare `raise IndexError`
    pick = None
    sure = False
    for s in subs:
        length = static_length(s.value, ctx)
        kt = static_type(s.slice, ctx)
        if kt not in (None, "int"):
            continue
        if length is not None:
            idx = _index_value(ctx, s.slice)
            if idx is not None and (idx >= length or idx < -length):
                pick, sure = s, True
                break
        if pick is None:
            pick = s
    if len(subs) > 1 and not sure:
        pick = None  # several lookups on the line and nothing says which one: ask
    fixes: list[str] = []
    if (
        pick is not None
        and isinstance(pick.value, ast.Attribute)
        and pick.value.attr in ("iloc", "loc", "iat", "at")
    ):
        frame = pick.value.value
        f = ctx.fact_of(frame)
        rows = f.shape[0] if f is not None and f.shape else None
        shown = f" — it has {plural(rows, 'row')}, at positions 0 to {rows - 1}" if rows else ""
        nudge = f"{at}, `{ctx.seg(pick)}` asks `{ctx.seg(frame)}` for row position `{ctx.seg(pick.slice)}`, which doesn't exist{shown}."
        hint = f"`.{pick.value.attr}[...]` counts rows from 0 to `len({ctx.seg(frame)}) - 1`. Is the position past the end, or was the table filtered to fewer rows than you expect?"
        return Hint(nudge, hint, _INDEX_CONCEPT, _INDEX_EXAMPLES)
    if pick is not None:
        obj, idx_src = ctx.seg(pick.value), ctx.seg(pick.slice)
        length = static_length(pick.value, ctx)
        idx = _index_value(ctx, pick.slice)
        idx_md = f"`{idx_src}`" + (f" (= {idx})" if idx is not None and idx_src != str(idx) else "")
        if length is not None and idx is not None and -length <= idx < length:
            length = None  # in range: the failing lookup is another one; don't claim a length
        if length is not None:
            n = length
            if n == 0:
                nudge = f"{at}, `{obj}` is empty (0 items), so position {idx_md} doesn't exist."
                hint = f"`{obj}` has no items at all at this point: was it filled before this line (did the loop or the cell that adds to it run)?"
            else:
                unit = "character" if static_type(pick.value, ctx) == "str" else "item"
                nudge = f"{at}, `{obj}` has {plural(n, unit)}, at positions 0 to {n - 1}, and the code asks for position {idx_md}."
                hint = (
                    f"Positions start at 0, so the last item of `{obj}` is at position {n - 1}"
                    + (" (or -1 from the end)." if idx is not None and idx >= n else ".")
                    + (
                        " A loop that goes one step too far, or `len(...)` used as a position, gives exactly this."
                        if idx is not None and idx == n
                        else ""
                    )
                )
                fixes += [f"{obj}[{n - 1}]", f"{obj}[-1]"]
                loop = _range_loop(ctx, pick.slice)
                if loop is not None:
                    for_line, range_src = loop
                    hint += (
                        f" `{idx_src}` takes its values from `{range_src}` on line {for_line}: how many values "
                        f"is that, and what is the last one, compared with the {plural(n, unit)} of `{obj}`?"
                    )
        else:
            nudge = f"{at}, `{ctx.seg(pick)}` asks for position {idx_md} of `{obj}`, and `{obj}` has no item there."
            hint = (
                f"How many items does `{obj}` have at that moment? Positions run from 0 to `len({obj}) - 1`; "
                "an empty list has none, and a loop over `range(len(...) + 1)` or using `i + 1` goes one past the end."
            )
    elif m_np:
        nudge = f"{at}, an array position {m_np.group(1)} is asked for on axis {m_np.group(2)}, which has size {m_np.group(3)} (positions 0 to {int(m_np.group(3)) - 1})."
        hint = "Which index on that line reaches past the end? Positions start at 0."
    else:
        cands = " or ".join(f"`{ctx.seg(x)}`" for x in subs[:4])
        nudge = f"{at}, one of the positions asked for{' — ' + cands + ' —' if cands else ''} is past the end of its sequence."
        hint = "Which lookup on that line goes too far? Print the length of each sequence there (`len(...)`) and the positions used."
    return Hint(nudge, hint, _INDEX_CONCEPT, _INDEX_EXAMPLES, fixes=fixes)


def _range_loop(ctx: Ctx, node: ast.AST) -> tuple[int, str] | None:
    """(line, `range(...)` source) of the `for` loop around the failing line that gives ``node``
    (a plain name) its values from a ``range``."""
    if not isinstance(node, ast.Name) or ctx.tree is None or not ctx.where.in_cell or not ctx.where.lineno:
        return None
    n = ctx.where.lineno
    for loop in ast.walk(ctx.tree):
        if (
            isinstance(loop, ast.For)
            and isinstance(loop.target, ast.Name)
            and loop.target.id == node.id
            and loop.lineno < n <= (loop.end_lineno or loop.lineno)
            and isinstance(loop.iter, ast.Call)
            and isinstance(loop.iter.func, ast.Name)
            and loop.iter.func.id == "range"
        ):
            return loop.lineno, ast.get_source_segment(ctx.code, loop.iter) or ast.unparse(loop.iter)
    return None


def _index_value(ctx: Ctx, node: ast.AST) -> int | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, int):
        return node.value
    if (
        isinstance(node, ast.UnaryOp)
        and isinstance(node.op, ast.USub)
        and isinstance(node.operand, ast.Constant)
    ):
        v = node.operand.value
        return -v if isinstance(v, int) else None
    if isinstance(node, ast.Name):
        f = ctx.fact(node.id)
        if f is not None and f.type == "int" and f.preview and re.fullmatch(r"-?\d+", f.preview):
            return int(f.preview)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "len" and node.args:
        n = static_length(node.args[0], ctx)
        if n is not None and ctx.fact("len") is None:
            return n
    return None


def _class_attributes(ctx: Ctx, node: ast.AST, tname: str) -> list[str]:
    """Attributes of a class defined in the cell (its methods and ``self.x = ...``), when ``node`` is
    a name made from it by a plain assignment."""
    if ctx.tree is None:
        return []
    cls = next((n for n in ast.walk(ctx.tree) if isinstance(n, ast.ClassDef) and n.name == tname), None)
    if cls is None:
        return []
    out = []
    for n in ast.walk(cls):
        if isinstance(n, ast.FunctionDef) and not n.name.startswith("__"):
            out.append(n.name)
        elif (
            isinstance(n, ast.Attribute)
            and isinstance(n.ctx, ast.Store)
            and isinstance(n.value, ast.Name)
            and n.value.id == "self"
        ):
            out.append(n.attr)
    return out


_INDEX_CONCEPT = (
    "A sequence of n items has positions 0 to n-1 (negative positions count from the end: -1 is the last). "
    "Asking for position n or more raises IndexError."
)
_INDEX_EXAMPLES = [
    "planets = ('Mercury', 'Venus', 'Earth')\nprint(planets[2])        # the last: position len - 1\nprint(planets[-1])       # also the last\nfor pos, name in enumerate(planets):\n    print(pos, name)",
    "planets = ('Mercury', 'Venus', 'Earth')\nlast_pos = len(planets) - 1      # 2: positions are 0, 1, 2\nfor pos, name in enumerate(planets):\n    print(pos, name)             # pos never reaches len(planets)",
]


def attribute_error(ctx: Ctx) -> Hint | None:
    ev = ctx.err.evalue
    at = ctx.at()
    fixes: list[str] = []
    if m := re.search(r"module '([\w.]+)' has no attribute '(\w+)'", ev):
        mod, attr = m.groups()
        loaded = safe_module(mod)
        guesses: list = []
        if loaded is not None:
            guesses = closest(attr, [n for n in dir(loaded) if not n.startswith("_")], n=2)
        nudge = f"{at}, `.{attr}` is looked up in the module `{mod}`, which has nothing by that name."
        hint = (
            f"Did you mean {or_list('`' + mod + '.' + g + '`' for g in guesses)}?"
            if guesses
            else f"Check the exact spelling and case of `{attr}` in `{mod}`'s documentation (`dir({mod})` lists its contents). A file of yours named `{mod.split('.')[0]}.py` next to the notebook would also hide the real module."
        )
        fixes += [f"{mod}.{g}" for g in guesses]
        examples = [
            "import statistics\nnames = [n for n in dir(statistics) if not n.startswith('_')]\nprint(names[:5])"
        ]
        concept = (
            "`module.name` looks `name` up inside the module; it must exist there with exactly that spelling."
        )
        return Hint(nudge, hint, concept, examples, fixes=fixes)
    m = re.search(r"'(\w+)' object has no attribute '(\w+)'", ev)
    if not m:
        return None
    tname, attr = m.groups()
    attrs_nodes = [a for a in ctx.view.of(ast.Attribute) if a.attr == attr]
    node = attrs_nodes[0].value if len(attrs_nodes) == 1 else None
    if tname == "NoneType":
        return _none_hint(ctx, node, "reads `." + attr + "` from {x}")
    obj = ctx.seg(node) if node is not None else None
    f = ctx.fact_of(node)
    what = describe(f) if f is not None and f.type.split(".")[-1] == tname else a_type(tname)
    if obj:
        nudge = f"{at}, `{obj}.{attr}` looks up `.{attr}` on `{obj}`, which is {what} — and that type has no `{attr}`."
    else:
        nudge = f"{at}, `.{attr}` is looked up on {a_type(tname)}, which has no `{attr}`."
    guesses = []
    if tname in _TYPES:
        methods = [a for a in dir(_TYPES[tname]) if not a.startswith("_")]
        alias = _ALIASES.get(attr)
        guesses = [alias] if alias in methods else closest(attr, methods, n=2)
    elif f is not None and f.attributes:
        guesses = closest(attr, [a for a in f.attributes if not a.startswith("_")], n=2)
    elif tname in _LIB_ATTRS:
        guesses = closest(attr, _LIB_ATTRS[tname], n=2, cutoff=0.75)
    elif node is not None and (static := _class_attributes(ctx, node, tname)):
        guesses = closest(attr, static, n=2)
    columns = list(f.columns) if f is not None and f.columns else []
    col_guess = closest(attr, [c for c in columns if isinstance(c, str)], n=1) if columns else []
    if attr in ("length", "size", "len", "lenght") and tname in _TYPES:
        hint = f"To count the items of a `{tname}`, Python uses the function `len()` around the value, not an attribute."
        if obj:
            fixes.append(f"len({obj})")
    elif col_guess and (not guesses or str(col_guess[0]).strip().lower() == attr.lower()):
        hint = f"`{obj}` has a column `{col_guess[0]!r}` — column names are case- and space-sensitive; with brackets (`[...]`) any column name works."
    elif guesses:
        hint = f"Did you mean {or_list('`.' + g + '`' for g in guesses)}? `{tname}` values have that, not `.{attr}`."
        if obj:
            fixes += [f"{obj}.{g}" for g in guesses]
    elif columns:
        shown = ", ".join(f"`{c!r}`" for c in columns[:10])
        hint = f"`{obj}` has no attribute `{attr}`, and no column of that name either: its columns are {shown}. Is `{attr}` spelled as in the data, or not created yet?"
    elif f is not None and f.attributes is not None and not f.builtin:
        shown = ", ".join(f"`{a}`" for a in f.attributes[:12])
        hint = f"`{obj}`'s attributes are {shown or 'none'}: is `{attr}` set in `__init__` (as `self.{attr} = ...`), or spelled differently?"
    else:
        hint = f"What type did you expect `{obj or 'that value'}` to be? {cap(a_type(tname))} has no `.{attr}`: `dir(...)` lists what it has; check the spelling, or where the value came from."
    examples = [
        "tags = {'red', 'blue'}\ntags.add('green')            # sets use .add\nprint(len(tags))             # sizes come from len()\nprint([m for m in dir(tags) if not m.startswith('_')][:4])",
        "tags = {'red', 'blue'}\ntags.add('green')            # sets use .add, lists use .append\nprint([m for m in dir(tags) if not m.startswith('_')][:4])",
    ]
    concept = (
        "`value.name` looks `name` up on the value's type: lists, strings, dicts and your own classes each have their "
        "own methods and attributes. `dir(value)` and `help(type(value))` list them."
    )
    return Hint(nudge, hint, concept, examples, fixes=fixes)
