"""Names and imports: NameError, UnboundLocalError, ImportError, ModuleNotFoundError."""

from __future__ import annotations

import ast
import re
import sys

from ..context import BUILTIN_NAMES
from .base import COMMON_MODULES, MODULE_ALIASES, Ctx, Hint, closest, or_list, q

NAME_CONCEPT = (
    "A name exists only after Python has run the line that creates it (an assignment, a `def`, an "
    "`import`), and it must be spelled exactly the same way every time, upper/lower case included. "
    "A notebook's cells share one set of names, created in the order the cells *ran*, not the order "
    "they appear on the page."
)
NAME_EXAMPLES = [
    "width = 4\narea = width * widht   # NameError: 'widht' is a typo\narea = width * width   # one spelling everywhere",
    "import statistics\nmiddle = statistics.median([3, 9, 4])   # the module's name exists after the import",
    "def greet(person):\n    return 'Hi ' + person\n\nmessage = greet('Sam')   # greet exists: its def ran first",
]


def _name_culprit_from_message(evalue: str) -> str | None:
    m = re.search(r"name '([^']+)' is not defined", evalue)
    return m.group(1) if m else None


def _uses_as_module(ctx: Ctx, name: str) -> str | None:
    """'math.sqrt' when the failing line uses ``name`` as ``name.attribute``."""
    for node in ctx.view.of(ast.Attribute):
        if isinstance(node.value, ast.Name) and node.value.id == name:
            return f"{name}.{node.attr}"
    return None


def _defined_later(ctx: Ctx, name: str) -> int | None:
    if not ctx.where.in_cell or not ctx.where.lineno or ctx.tree is None:
        return None
    for node in ast.walk(ctx.tree):
        line = getattr(node, "lineno", 0)
        if line <= ctx.where.lineno:
            continue
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store) and node.id == name:
            return line
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)) and node.name == name:
            return line
        if isinstance(node, (ast.Import, ast.ImportFrom)) and any(
            (a.asname or a.name).split(".")[0] == name for a in node.names
        ):
            return line
    return None


def _only_local(ctx: Ctx, name: str) -> tuple[str, int] | None:
    """(function, line) when this cell assigns ``name`` only inside one function, and the failing
    line is outside it."""
    if ctx.tree is None or not ctx.where.in_cell or not ctx.where.lineno:
        return None
    n = ctx.where.lineno
    found: tuple[str, int] | None = None
    funcs = [f for f in ast.walk(ctx.tree) if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef))]
    inside = {id(x) for f in funcs for x in ast.walk(f)}
    for f in funcs:
        if f.lineno <= n <= (f.end_lineno or f.lineno):
            return None  # the failing line is in a function: another story
        for x in ast.walk(f):
            if isinstance(x, ast.Name) and x.id == name and isinstance(x.ctx, ast.Store):
                if found is not None and found[0] != f.name:
                    return None
                found = found or (f.name, x.lineno)
    outside = any(
        isinstance(x, ast.Name) and x.id == name and isinstance(x.ctx, ast.Store) and id(x) not in inside
        for x in ast.walk(ctx.tree)
    )
    return None if outside else found


def _star_imports(ctx: Ctx) -> list:
    """Standard-library modules the cell imports with ``from x import *`` (their names count)."""
    if ctx.tree is None:
        return []
    mods = [
        n.module
        for n in ast.walk(ctx.tree)
        if isinstance(n, ast.ImportFrom) and n.module and any(a.name == "*" for a in n.names)
    ]
    return [m for m in (safe_module(x) for x in mods) if m is not None]


def name_error(ctx: Ctx) -> Hint | None:
    name = _name_culprit_from_message(ctx.err.evalue)
    if not name:
        return None
    at = ctx.at()
    where = ctx.where.short_md()
    fixes: list[str] = []
    line = ctx.where.line or ""
    concept, examples = NAME_CONCEPT, NAME_EXAMPLES

    later = _defined_later(ctx, name)
    module_use = _uses_as_module(ctx, name)
    module = MODULE_ALIASES.get(name) or (name if name in COMMON_MODULES else None)
    in_notebook = name in ctx.names and later is None

    if later is not None:
        nudge = f"{at}, `{name}` is used before line {later} of the same cell gives it a value."
        hint = (
            f"Python runs a cell from top to bottom: when it reaches {where}, `{name}` doesn't exist yet — "
            f"it is only created on line {later}. The line that creates a name must run before any line that uses it."
        )
    elif module and module_use and not in_notebook:
        nick = f" (the usual short name for `{module}`)" if module != name else ""
        nudge = (
            f"{at}, `{module_use}` uses the module name `{name}`{nick}, but no import has created "
            f"`{name}` in this kernel."
        )
        if module != name:
            hint = (
                f"`{name}` only exists after `{module}` has been imported *under that name* (with `as {name}`). "
                f"Add that import at the top of this cell (or in a first cell) and run it before {where}."
            )
        else:
            hint = (
                f"A module must be imported before its functions can be used: add an `import` of `{name}` at the "
                f"top of this cell (or in a first cell) and run it before {where}."
            )
        fixes.append(f"import {module} as {name}" if module != name else f"import {name}")
    elif in_notebook and (local := _only_local(ctx, name)) is not None:
        func, line_no = local
        nudge = (
            f"{at}, `{name}` is used outside `{func}`, but the only line of this cell that gives it a value "
            f"(line {line_no}) is inside `{func}`."
        )
        hint = (
            f"A name assigned inside a function is *local* to it: `{name}` exists only while `{func}` runs, and "
            f"is gone when it returns. Code outside `{func}` can only get that value if the function hands it back "
            "with `return` and the caller keeps what the call gives."
        )
        concept = (
            "Each call of a function gets its own, fresh set of local names, which disappear when the call "
            "ends. A function shares a result with the rest of the code through `return`: the call itself "
            "then stands for that value, wherever it is written."
        )
        examples = [
            "def squares(limit):\n    found = [k * k for k in range(limit)]   # 'found' lives only inside squares\n"
            "    return found\n\nprint(len(squares(4)))   # the call gives the list; 'found' itself is not visible here",
        ]
    elif in_notebook:
        nudge = (
            f"{at}, the kernel has no value for `{name}` yet, though your notebook uses that name elsewhere."
        )
        hint = (
            f"Is the cell that gives `{name}` its value run since the kernel (re)started? Cells must run again, "
            f"top to bottom, after a restart or when the notebook is reopened. And is `{name}` created at the top "
            "level of that cell, not only inside a function (names made inside a `def` stay there)?"
        )
    else:
        cands = set(ctx.names) | BUILTIN_NAMES
        if ctx.facts is not None:
            cands |= set(ctx.facts.values)
        for star in _star_imports(ctx):
            cands |= {n for n in dir(star) if not n.startswith("_")}
        # a name the failing line itself binds (its loop variable) can't be the one it meant to read
        cands -= {n.id for n in ctx.view.of(ast.Name) if isinstance(n.ctx, ast.Store)}
        guesses = [g for g in closest(name, cands) if not g.startswith("_")]
        same_letters = [g for g in guesses if g.lower() == name.lower()]
        guesses = same_letters or guesses
        if guesses:
            origin = []
            for g in guesses:
                if g in ctx.names:
                    origin.append(f"`{g}` is a name your notebook defines")
                elif g in BUILTIN_NAMES:
                    origin.append(f"`{g}` is built into Python")
                elif any(hasattr(m, g) for m in _star_imports(ctx)):
                    origin.append(f"`{g}` comes with the `import *` of this cell")
            nudge = (
                f"{at}, Python doesn't know the name `{name}`. Compare it letter by letter with the names "
                f"you meant to use{' (case counts)' if any(g.lower() == name.lower() for g in guesses) else ''}."
            )
            hint = (
                f"`{name}` isn't defined. Did you mean {or_list(q(g) for g in guesses)}? "
                + ("; ".join(origin) + ". " if origin else "")
                + "Names must match exactly, upper/lower case included."
            )
            for g in guesses[:1]:
                fixes.append(re.sub(rf"\b{re.escape(name)}\b", g, line))
        else:
            nudge = f"{at}, Python doesn't know the name `{name}`: nothing in this kernel is called that."
            hint = (
                f"Is `{name}` meant to be a variable? Then a line must give it a value before {where} runs "
                f"(check its spelling against where you created it). Or is it meant as text? Then it needs quotes."
            )
            fixes.append(re.sub(rf"\b{re.escape(name)}\b", f'"{name}"', line))
    return Hint(nudge, hint, concept, examples, fixes=fixes)


def unbound_local(ctx: Ctx) -> Hint | None:
    m = re.search(r"local variable '([^']+)'", ctx.err.evalue)
    if not m:
        return None
    name = m.group(1)
    func = ctx.where.func.split(".")[-1] if ctx.where.func else None
    fdef = None
    if ctx.tree is not None and func:
        fdef = next(
            (
                n
                for n in ast.walk(ctx.tree)
                if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and n.name == func
            ),
            None,
        )
    assign_line = None
    if fdef is not None:
        for n in ast.walk(fdef):
            if isinstance(n, ast.Name) and n.id == name and isinstance(n.ctx, ast.Store):
                assign_line = n.lineno if assign_line is None else min(assign_line, n.lineno)
    in_f = f"`{func}`" if func else "the function"
    nudge = f"On {ctx.where.md()}, inside {in_f}, `{name}` is read before {in_f} has given its own `{name}` a value."
    assigned = (
        f" (line {assign_line}: `{ctx.lines[assign_line - 1].strip()}`)"
        if assign_line and assign_line <= len(ctx.lines) and ctx.where.in_cell
        else ""
    )
    attribute = _attribute_of_self(ctx, fdef, name) if fdef is not None else None
    outer = _assigned_outside(ctx, name)
    if attribute is not None:
        me, line_no = attribute
        hint = (
            f"`{name}` and `{me}.{name}` are two different names: line {line_no} "
            f"(`{ctx.lines[line_no - 1].strip()}`) stores a value on the object, as its attribute `{name}`, but "
            f"a bare `{name}` inside {in_f} is a *local* name of the method, and it has no value when line "
            f"{ctx.where.lineno} reads it. A method reaches what is stored on its object through `{me}`."
        )
    elif outer is not None or ctx.defined_now(name):
        there = (
            f"the `{name}` of line {outer}" if outer is not None else f"the `{name}` your notebook defines"
        )
        hint = (
            f"Because {in_f} assigns to `{name}` somewhere in its body{assigned}, Python treats `{name}` as a "
            f"*local* name of {in_f} everywhere inside it — so {there}, outside the function, is not used there, "
            "and the local one has no value yet when it is read. Give the function the value it needs as a "
            "parameter (and return the new value), or create the local name before reading it."
        )
    else:
        hint = (
            f"Because {in_f} assigns to `{name}` somewhere in its body{assigned}, `{name}` is a *local* name of "
            f"{in_f}, and no line has given it a first value when line {ctx.where.lineno} reads it. A name "
            "that is updated (`+=`, `= ... + ...`) needs a starting value before the first update runs."
        )
    concept = (
        "Inside a function, a name that is assigned anywhere in the function is local to the whole function. "
        "Reading it before that assignment raises UnboundLocalError, even if a global name of the same spelling exists."
    )
    examples = [
        "def add_tax(amount, rate):\n    amount = amount * (1 + rate)   # 'amount' is a parameter: it has a value\n    return amount\n\nfinal = add_tax(50, 0.2)",
    ]
    fixes = [f"global {name}", f"nonlocal {name}"]
    if attribute is not None:
        examples.insert(
            0,
            "class Greeter:\n    def __init__(self, who):\n        self.who = who\n\n    def hello(self):\n"
            "        return 'Hi ' + self.who   # the object's attribute, read through self\n\n"
            "print(Greeter('Ada').hello())",
        )
        fixes.append(f"{attribute[0]}.{name}")
    return Hint(nudge, hint, concept, examples, fixes=fixes)


def _attribute_of_self(ctx: Ctx, fdef: ast.AST, name: str) -> tuple[str, int] | None:
    """(``self``, line) when ``fdef`` is a method and its class stores ``self.<name>`` somewhere."""
    if (
        ctx.tree is None
        or not isinstance(fdef, (ast.FunctionDef, ast.AsyncFunctionDef))
        or not fdef.args.args
    ):
        return None
    cls = next(
        (c for c in ast.walk(ctx.tree) if isinstance(c, ast.ClassDef) and fdef in c.body),
        None,
    )
    if cls is None:
        return None
    me = fdef.args.args[0].arg
    for x in ast.walk(cls):
        if (
            isinstance(x, ast.Attribute)
            and x.attr == name
            and isinstance(x.ctx, ast.Store)
            and isinstance(x.value, ast.Name)
            and x.value.id == me
        ):
            return me, x.lineno
    return None


def _assigned_outside(ctx: Ctx, name: str) -> int | None:
    """The first line of this cell that assigns ``name`` at its top level (outside any def)."""
    if ctx.tree is None or not ctx.where.in_cell:
        return None
    for stmt in ctx.tree.body:
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            continue
        for x in ast.walk(stmt):
            if isinstance(x, ast.Name) and x.id == name and isinstance(x.ctx, ast.Store):
                return x.lineno
    return None


def import_error(ctx: Ctx) -> Hint | None:
    ev = ctx.err.evalue
    m = re.search(
        r"cannot import name '([^']+)' from (?:partially initialized module )?'([^']+)'(?: \(([^)]*)\))?", ev
    )
    if not m:
        if "No module named" in ev:
            return module_not_found(ctx)
        return None
    name, mod, path = m.group(1), m.group(2), m.group(3) or ""
    nudge = f"{ctx.at()}, the module `{mod}` has nothing called `{name}` to import."
    guesses: list[str] = []
    loaded = safe_module(mod)
    if loaded is not None:
        guesses = closest(name, [n for n in dir(loaded) if not n.startswith("_")], n=2)
    circular = "circular import" in ev or "partially initialized" in ev
    own_file = (
        bool(path) and "site-packages" not in path and "/lib/python" not in path and "lib-dynload" not in path
    )
    if guesses:
        hint = f"Did you mean {or_list(q(g) for g in guesses)}? Names inside a module must match exactly, case included."
    elif own_file or circular:
        hint = (
            f"The `{mod}` that was imported comes from `{path or 'a file of yours'}` — is a file of yours named "
            f"`{mod}.py` hiding the real `{mod}`? If so, rename your file."
        )
    else:
        hint = (
            f"Check the spelling and case of `{name}` against `{mod}`'s documentation (`dir({mod})` after "
            f"`import {mod}` lists what it has), and whether `{name}` lives in a sub-module of `{mod}`."
        )
    concept = (
        "`from module import name` first loads the module, then looks up `name` inside it; the name must exist "
        "there with exactly that spelling."
    )
    examples = [
        "import statistics\nprint([n for n in dir(statistics) if 'med' in n])   # what the module offers",
    ]
    return Hint(nudge, hint, concept, examples, fixes=[f"from {mod} import {g}" for g in guesses])


# standard-library modules whose names the server may look into (importing them runs no learner
# code and has no side effect); anything else is only read when the server already loaded it
SAFE_STDLIB = {
    "math",
    "cmath",
    "statistics",
    "random",
    "string",
    "collections",
    "itertools",
    "functools",
    "datetime",
    "json",
    "csv",
    "re",
    "os",
    "os.path",
    "time",
    "decimal",
    "fractions",
    "operator",
    "pathlib",
    "textwrap",
    "copy",
    "heapq",
    "bisect",
    "calendar",
}


def safe_module(mod: str):
    """The server's own copy of a standard-library module, for "did you mean" (None otherwise)."""
    import importlib

    loaded = sys.modules.get(mod)
    if mod.split(".")[0] not in getattr(sys, "stdlib_module_names", ()):
        return None
    if loaded is None and mod in SAFE_STDLIB:
        try:
            loaded = importlib.import_module(mod)
        except ImportError:
            return None
    return loaded


# packages whose import name differs from their pip name
_PIP_NAMES = {
    "sklearn": "scikit-learn",
    "cv2": "opencv-python",
    "PIL": "pillow",
    "bs4": "beautifulsoup4",
    "yaml": "pyyaml",
}
_KNOWN = sorted(COMMON_MODULES | set(getattr(sys, "stdlib_module_names", ())) | {"matplotlib.pyplot"})


def module_not_found(ctx: Ctx) -> Hint | None:
    m = re.search(r"No module named '([\w.]+)'", ctx.err.evalue)
    if not m:
        return None
    mod = m.group(1)
    top, _, sub = mod.partition(".")
    nudge = f"{ctx.at()}, the import asks for a module named `{mod}`, and this kernel has none by that name."
    fixes: list[str] = []
    if sub and top in COMMON_MODULES:
        subs = {
            "matplotlib": ["pyplot", "colors", "animation"],
            "sklearn": ["linear_model", "model_selection"],
        }
        guesses = closest(sub, subs.get(top, []), n=2)
        hint = f"`{top}` is found, but it has no sub-module `{sub}`" + (
            f": did you mean {or_list(q(top + '.' + g) for g in guesses)}?"
            if guesses
            else "; check its spelling."
        )
        fixes += [f"import {top}.{g}" for g in guesses]
    else:
        guesses = [g for g in closest(top, _KNOWN, n=2, cutoff=0.75) if not g.startswith("_")]
        if top in _PIP_NAMES:
            hint = (
                f"`{top}` comes from the package `{_PIP_NAMES[top]}`, which isn't installed in this kernel: install it "
                f"into this kernel with `%pip install {_PIP_NAMES[top]}`, then restart the kernel."
            )
        elif guesses:
            hint = f"Did you mean {or_list(q(g) for g in guesses)}? Module names must match exactly, lower case included."
            fixes += [f"import {g}" for g in guesses]
        else:
            hint = (
                f"Is `{top}` spelled right? If it is a package you need, it isn't installed in this kernel: install it "
                f"with `%pip install {top}` in a cell, then restart the kernel."
            )
    concept = (
        "`import x` searches the packages installed for this kernel's Python, and the notebook's folder. "
        "A typo, or a package installed for another Python, gives ModuleNotFoundError; some packages install "
        "under one name and import under another (`pip install scikit-learn`, `import sklearn`)."
    )
    examples = [
        "%pip install requests    # installs into the Python of *this* kernel\n# then: Kernel > Restart"
    ]
    return Hint(nudge, hint, concept, examples, fixes=fixes)
