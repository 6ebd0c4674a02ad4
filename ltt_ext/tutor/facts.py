"""Read-only facts about the learner's live values, for hints that say what a value *is*.

The tutor asks the kernel, through the shared client, for one silent ``user_expressions``
entry (``silent=True``, ``store_history=False``, empty code): ipykernel neither counts it nor
stores it in history, IPython returns before its execution events for empty code, and an
expression does not touch ``_``/``Out``. The expression runs :data:`PROBE` with the
learner's namespace and a list of names, and :data:`PROBE` only reads what cannot run
learner code:

- a value's class through ``type()`` and its name through the getset descriptors of ``type``
  (never ``__class__``, a metaclass attribute or a property);
- for exact builtin types (``type(v) is list``, never ``isinstance``): ``len``, the ``repr``
  of str/int/float/bool/None/complex (cut to 80 characters), the keys of a dict when they
  are such scalars, the exact type names of the first items of a list/tuple/set;
- for exact ``numpy.ndarray`` (only when numpy is already imported): ``shape`` and ``dtype``;
- for exact ``pandas.DataFrame``/``Series``/``Index`` (only when pandas is already
  imported): shape, dtype(s), and the column/index labels that are scalars;
- for any other object: its class name, and the names in its instance ``__dict__`` and its
  classes' ``__dict__`` (read through ``object.__getattribute__``/``type``'s descriptors).

Nothing is ever called on a learner object: no ``repr``, ``__len__``, ``__getattr__``,
``__eq__`` or property of a class the learner (or a library other than numpy/pandas) wrote.
Builtins are reached through ``__import__('builtins')``, so a learner who shadowed ``type``,
``len`` or ``list`` does not change what runs. This module is plain Python: the service
sends :func:`expression` and parses the answer with :func:`parse`.
"""

from __future__ import annotations

import ast
import builtins
import json
import re
from dataclasses import dataclass, field
from typing import Any

MAX_NAMES = 16
MAX_ITEMS = 30

# Runs in the learner's kernel with globals {"__builtins__": builtins, "ns": <user namespace>,
# "names": [...]}, and leaves its answer in "out" (a JSON string).
PROBE = r"""
import builtins as _b, sys as _sys, json as _json
_T = _b.type
_tname = _T.__dict__['__name__'].__get__
_tmod = _T.__dict__['__module__'].__get__
_tmro = _T.__dict__['__mro__'].__get__
_tdict = _T.__dict__['__dict__'].__get__
_SCALARS = (_b.str, _b.int, _b.float, _b.bool, _T(None), _b.complex)
_CONTAINERS = (_b.list, _b.tuple, _b.set, _b.frozenset, _b.dict, _b.range, _b.bytes)
_MAXI = %(max_items)d

def _one_of(t, types):
    # identity only: `t in types` would call a learner metaclass's __eq__
    for x in types:
        if t is x:
            return True
    return False

def _scalar(v):
    t = _T(v)
    if t is _b.str:
        return v if _b.len(v) <= 80 else v[:77] + '...'
    if t is _b.int or t is _b.bool or t is _T(None) or t is _b.float:
        if t is _b.int and v.bit_length() > 200:
            return '<a %%d-digit int>' %% _b.len(_b.str(v)) if v.bit_length() < 10000 else '<a huge int>'
        return v
    return _b.repr(v)[:80] if t is _b.complex else None

def _label(v):
    return _scalar(v) if _one_of(_T(v), _SCALARS) else '<%%s>' %% _tname(_T(v))

def _clsname(t):
    m = _tmod(t)
    n = _tname(t)
    if _T(m) is not _b.str or m == 'builtins' or m == '__main__':
        return n
    return m.split('.')[0] + '.' + n

def _describe(v):
    t = _T(v)
    d = {'type': _clsname(t)}
    if _one_of(t, _SCALARS):
        d['builtin'] = True
        p = _scalar(v)
        d['preview'] = p if t is _b.int and _T(p) is _b.str else _b.repr(p)
        if t is _b.str:
            d['length'] = _b.len(v)
        return d
    if _one_of(t, _CONTAINERS):
        d['builtin'] = True
        d['length'] = _b.len(v)
        if t is _b.dict:
            ks = []
            for k in v:
                if _b.len(ks) >= _MAXI:
                    break
                if not _one_of(_T(k), _SCALARS):
                    ks = None
                    break
                ks.append(_scalar(k))
            d['keys'] = ks
        elif t is _b.range:
            d['preview'] = _b.repr(v)
        elif t is not _b.bytes:
            its = []
            for x in v:
                if _b.len(its) >= 5:
                    break
                its.append(_clsname(_T(x)))
            d['item_types'] = its
        return d
    np = _sys.modules.get('numpy')
    if np is not None and t is _b.getattr(np, 'ndarray', None):
        d['builtin'] = True
        d['shape'] = _b.list(v.shape)
        d['dtype'] = _b.str(v.dtype)
        d['length'] = v.shape[0] if v.shape else None
        return d
    pd = _sys.modules.get('pandas')
    if pd is not None and _one_of(t, (_b.getattr(pd, 'DataFrame', 0), _b.getattr(pd, 'Series', 0),
                                      _b.getattr(pd, 'Index', 0))):
        d['builtin'] = True
        d['shape'] = _b.list(v.shape)
        d['length'] = v.shape[0]
        if t is pd.DataFrame:
            d['columns'] = [_label(c) for c in _b.list(v.columns[:_MAXI])]
            d['dtypes'] = {_b.str(_label(c)): _b.str(dt) for c, dt in _b.zip(v.columns[:_MAXI], v.dtypes.iloc[:_MAXI])}
            d['index'] = [_label(c) for c in _b.list(v.index[:10])]
        else:
            d['dtype'] = _b.str(v.dtype)
            d['index'] = [_label(c) for c in _b.list((v if t is pd.Index else v.index)[:10])]
            if t is pd.Series:
                d['series_name'] = _label(v.name)
        return d
    d['builtin'] = False
    if t is _b.type(_b.len) or t is _T(_describe):
        d['kind'] = 'function'
    elif _one_of(_T, _tmro(t)):  # a class (its metaclass may be the learner's)
        d['kind'] = 'class'
    elif t is _T(_sys):
        d['kind'] = 'module'
    attrs = set()
    if d.get('kind') == 'class':  # its own and its bases' attributes
        for c in _tmro(v):
            if c is not _b.object:
                attrs.update(k for k in _tdict(c) if _T(k) is _b.str and not k.startswith('__'))
        d['attributes'] = _b.sorted(attrs)[:300]
        return d
    try:
        inst = _b.object.__getattribute__(v, '__dict__') if '__dict__' in _tdict(t) or any(
            '__dict__' in _tdict(c) for c in _tmro(t)) else None
        if _T(inst) is _b.dict:
            attrs.update(k for k in inst if _T(k) is _b.str)
    except _b.Exception:
        pass
    for c in _tmro(t):
        if c is _b.object:
            continue
        attrs.update(k for k in _tdict(c) if _T(k) is _b.str and not k.startswith('__'))
    d['attributes'] = _b.sorted(a for a in attrs if not a.startswith('__'))[:300]
    return d

_res = {}
for _n in names:
    if _n in ns:
        try:
            _res[_n] = _describe(ns[_n])
        except _b.Exception as e:
            _res[_n] = {'type': '?', 'builtin': False, 'error': _tname(_T(e))}
    elif not _b.hasattr(_b, _n):
        _res[_n] = {'defined': False}
out = _json.dumps(_res, default=_b.str)[:20000]
"""


def expression(names: list[str]) -> str:
    """One ``user_expressions`` entry that describes ``names`` (evaluated in the learner's kernel)."""
    names = [n for n in names if n.isidentifier()][:MAX_NAMES]
    probe = PROBE % {"max_items": MAX_ITEMS}
    # The dict literal is evaluated in the expression's own frame, whose locals are the
    # learner's namespace (IPython evaluates user_expressions with it as locals).
    return (
        f"(lambda g: (__import__('builtins').exec({probe!r}, g), g['out'])[1])("
        "{'__builtins__': __import__('builtins'), 'ns': __import__('sys')._getframe(0).f_locals, "
        f"'names': {names!r}}})"
    )


@dataclass(frozen=True)
class ValueFact:
    """What one learner value is. ``builtin``: a type whose details were read safely."""

    name: str
    type: str
    builtin: bool = False
    kind: str | None = None  # 'function' | 'class' | 'module' for such objects
    length: int | None = None
    preview: str | None = None  # repr of a str/number/bool/None (cut at 80 characters)
    keys: tuple[Any, ...] | None = None  # a dict's keys when they are all scalars (first 30)
    item_types: tuple[str, ...] | None = None  # type names of a sequence's first 5 items
    shape: tuple[int, ...] | None = None
    dtype: str | None = None
    dtypes: dict[str, str] | None = None  # a DataFrame's column -> dtype
    columns: tuple[Any, ...] | None = None
    index: tuple[Any, ...] | None = None
    attributes: tuple[str, ...] | None = None  # an object's own and its classes' attribute names

    def describe(self) -> str:
        """One line for a prompt, e.g. "`numbers` is a list of 3 items (int, int, int)"."""
        t = self.type
        if t == "NoneType":
            return f"`{self.name}` is None"
        if self.kind in ("function", "class", "module"):
            return f"`{self.name}` is a {self.kind}"
        if not self.builtin:
            attrs = ", ".join(self.attributes[:20]) if self.attributes else ""
            return f"`{self.name}` is a {t} object" + (f" (attributes: {attrs})" if attrs else "")
        parts = [f"`{self.name}` is a{'n' if t[:1] in 'aeiou' else ''} {t}"]
        if self.preview is not None and t != "str":
            parts.append(f"equal to {self.preview}")
        if t == "str" and self.preview is not None:
            parts.append(f"{self.preview} ({self.length} characters)")
        elif self.length is not None and self.shape is None:
            parts.append(f"of {self.length} item{'s' if self.length != 1 else ''}")
        if self.keys is not None:
            parts.append("with keys " + ", ".join(repr(k) for k in self.keys))
        if self.item_types:
            parts.append("(" + ", ".join(self.item_types) + (", …" if (self.length or 0) > 5 else "") + ")")
        if self.shape is not None:
            parts.append("of shape " + repr(tuple(self.shape)))
        if self.dtype:
            parts.append(f"dtype {self.dtype}")
        if self.columns is not None:
            parts.append("with columns " + ", ".join(repr(c) for c in self.columns))
        return " ".join(parts)


@dataclass
class RuntimeFacts:
    """The facts of one inspection: ``values`` by name, and the names found undefined."""

    values: dict[str, ValueFact] = field(default_factory=dict)
    undefined: set[str] = field(default_factory=set)
    elapsed_ms: float | None = None

    def get(self, name: str) -> ValueFact | None:
        return self.values.get(name)

    def defined(self, name: str) -> bool | None:
        """True/False when the name was inspected, None when it was not asked about."""
        if name in self.values:
            return True
        if name in self.undefined:
            return False
        return None

    def __bool__(self) -> bool:
        return bool(self.values or self.undefined)

    def describe(self) -> str:
        """The facts as Markdown bullets (for the LLM's prompt)."""
        lines = [f"- {v.describe()}" for v in self.values.values()]
        lines += [f"- `{n}` is not defined in the kernel" for n in sorted(self.undefined)]
        return "\n".join(lines)


def _tuple(v: Any) -> tuple | None:
    return tuple(v) if isinstance(v, list) else None


def parse(text_plain: str | None) -> RuntimeFacts | None:
    """The kernel's ``text/plain`` answer (the repr of the probe's JSON string) -> facts, or None."""
    if not text_plain:
        return None
    try:
        data = json.loads(ast.literal_eval(text_plain))
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return None
    if not isinstance(data, dict):
        return None
    facts = RuntimeFacts()
    for name, d in data.items():
        if not isinstance(d, dict):
            continue
        if d.get("defined") is False:
            facts.undefined.add(name)
            continue
        shape = _tuple(d.get("shape"))
        facts.values[name] = ValueFact(
            name=name,
            type=str(d.get("type", "?")),
            builtin=bool(d.get("builtin")),
            kind=d.get("kind"),
            length=d.get("length") if isinstance(d.get("length"), int) else None,
            preview=d.get("preview") if isinstance(d.get("preview"), str) else None,
            keys=_tuple(d.get("keys")),
            item_types=_tuple(d.get("item_types")),
            shape=shape,
            dtype=d.get("dtype") if isinstance(d.get("dtype"), str) else None,
            dtypes=d.get("dtypes") if isinstance(d.get("dtypes"), dict) else None,
            columns=_tuple(d.get("columns")),
            index=_tuple(d.get("index")),
            attributes=_tuple(d.get("attributes")),
        )
    return facts


_BUILTIN_NAMES = set(dir(builtins))


def names_to_inspect(code: str, line: int | None = None) -> list[str]:
    """The learner's names worth describing: those on the failing line first, then the cell's
    (loads only, builtins left out unless the cell rebinds them)."""
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError):
        return []
    assigned = {
        n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, (ast.Store, ast.Del))
    }
    first: list[str] = []
    rest: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
            name = node.id
            on_line = line is not None and getattr(node, "lineno", None) == line
            if name in _BUILTIN_NAMES and name not in assigned and not on_line:
                continue  # a builtin, unless the failing line uses it (it may be shadowed)
            bucket = first if on_line else rest
            if name not in first and name not in rest:
                bucket.append(name)
    return (first + [n for n in rest if n not in first])[:MAX_NAMES]


_CELL_FRAME = re.compile(r"(?:Cell In\s*\[\d*\]|<ipython-input-\d+-\w+>|File \"<[^>]*>\")[^\n]*?line (\d+)")


def error_line(traceback: list[str]) -> int | None:
    """The failing line of the learner's cell, from an (ANSI-stripped) IPython traceback."""
    text = "\n".join(traceback)
    cells = list(_CELL_FRAME.finditer(text))
    if cells:
        return int(cells[-1].group(1))
    found = re.findall(r"line (\d+)", text)
    return int(found[-1]) if found else None
