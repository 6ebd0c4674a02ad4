"""What a learner's server sends the course's tutor service: STRUCTURED context, never a prompt.

The learner's server (:class:`~ltt_ext.tutor.engines.remote.RemoteEngine`) turns a
:class:`~ltt_ext.tutor.engines.Job` into a JSON object with :func:`job_payload`: the kind and level,
the failing code and its error, recent executions, the notebook's cells, the question, the live
runtime facts and where the notebook is (path, file id). It never carries a system prompt, a model,
instructor notes, a key or a policy. The service rebuilds a ``Job`` with :func:`job_from_payload`,
checking every field's type and size (the caller may be a learner with their own hub token, not
the panel), adds its own instructor notes and builds the prompt itself.

Pure: no tornado, no JupyterHub, no SQLAlchemy (both sides import it).
"""

from __future__ import annotations

import posixpath
from dataclasses import asdict
from typing import Any

from ..tutor.context import Cell, ErrorInfo, Execution, NotebookContext
from ..tutor.engines import Job
from ..tutor.facts import RuntimeFacts, ValueFact

VERSION = 1
MAX_CODE = 20_000
MAX_TEXT = 20_000
MAX_TRACEBACK_LINES = 60
MAX_CELLS = 300
MAX_CELLS_CHARS = 200_000
MAX_EXECUTIONS = 10
MAX_TURNS = 10
MAX_FACTS = 32
MAX_BODY_BYTES = 2 << 20


class PayloadError(ValueError):
    """The payload is not what the panel sends (-> 400 with this message)."""


# -- learner side ---------------------------------------------------------------------------------------


def _error(e: ErrorInfo | None) -> dict | None:
    if e is None:
        return None
    return {"ename": e.ename, "evalue": e.evalue[:MAX_TEXT], "traceback": e.traceback[-MAX_TRACEBACK_LINES:]}


def _execution(ex: Execution) -> dict:
    return {
        "code": ex.code[:MAX_CODE],
        "execution_count": ex.execution_count,
        "cell_id": ex.cell_id,
        "output": ex.output_text[:MAX_TEXT],
        "error": _error(ex.error),
    }


def job_payload(job: Job, *, file_id: str | None, cell_id: str | None, consent: bool) -> dict[str, Any]:
    """The JSON body for the service: structured context only."""
    cells: list[dict] = []
    used = 0
    for c in job.ctx.cells[:MAX_CELLS]:
        if used + len(c.source) > MAX_CELLS_CHARS:
            break
        used += len(c.source)
        cells.append({"id": c.id, "cell_type": c.cell_type, "source": c.source})
    facts = None
    if job.facts:
        facts = {
            "values": {n: asdict(v) for n, v in list(job.facts.values.items())[:MAX_FACTS]},
            "undefined": sorted(job.facts.undefined)[:MAX_FACTS],
        }
    return {
        "version": VERSION,
        "kind": job.kind,
        "level": job.level,
        "question": job.question,
        "request": job.request,
        "cell_source": job.cell_source,
        "path": job.ctx.path,
        "file_id": file_id or job.ctx.path,
        "cell_id": cell_id,
        "focus": _execution(job.focus) if job.focus is not None else None,
        "executions": [
            _execution(ex) for ex in list(job.ctx.executions)[-MAX_EXECUTIONS:] if ex is not job.focus
        ],
        "cells": cells,
        "facts": facts,
        "turns": [[r, t[:MAX_TEXT]] for r, t in list(job.turns)[-MAX_TURNS:]],
        "consent": bool(consent),
    }


# -- service side ---------------------------------------------------------------------------------------


def _str(d: dict, name: str, limit: int = MAX_TEXT, required: bool = False) -> str | None:
    v = d.get(name)
    if v is None:
        if required:
            raise PayloadError(f"'{name}' is required")
        return None
    if not isinstance(v, str):
        raise PayloadError(f"'{name}' must be a string")
    if len(v) > limit:
        raise PayloadError(f"'{name}' is too long (at most {limit} characters)")
    return v


def _int(d: dict, name: str) -> int | None:
    v = d.get(name)
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, int):
        raise PayloadError(f"'{name}' must be an integer")
    return v


def _list(d: dict, name: str, limit: int) -> list:
    v = d.get(name)
    if v is None:
        return []
    if not isinstance(v, list):
        raise PayloadError(f"'{name}' must be a list")
    if len(v) > limit:
        raise PayloadError(f"'{name}' has too many items (at most {limit})")
    return v


def _obj(v: Any, name: str) -> dict:
    if not isinstance(v, dict):
        raise PayloadError(f"'{name}' must be an object")
    return v


def checked_path(path: str) -> str:
    """A notebook path relative to the learner's root, never leaving it."""
    p = path.strip().replace("\\", "/")
    if not p or p.startswith(("/", "~")) or "\x00" in p or any(part == ".." for part in p.split("/")):
        raise PayloadError("'path' must be a notebook path relative to the learner's root")
    p = posixpath.normpath(p)
    if p in (".", "") or p.startswith("../"):
        raise PayloadError("'path' must name a notebook")
    return p


def lesson_of(path: str) -> str:
    """The lesson a notebook belongs to: its folder (``""`` at the root)."""
    return posixpath.dirname(path)


def _error_from(d: Any, name: str) -> ErrorInfo | None:
    if d is None:
        return None
    d = _obj(d, name)
    tb = _list(d, "traceback", MAX_TRACEBACK_LINES)
    if not all(isinstance(t, str) and len(t) <= MAX_TEXT for t in tb):
        raise PayloadError(f"'{name}.traceback' must be a list of strings")
    return ErrorInfo(_str(d, "ename", 200, required=True) or "Error", _str(d, "evalue") or "", list(tb))


def _execution_from(d: Any, name: str, path: str) -> Execution:
    d = _obj(d, name)
    ex = Execution(
        kernel_id="",
        msg_id="",
        code=_str(d, "code", MAX_CODE) or "",
        execution_count=_int(d, "execution_count"),
        cell_id=_str(d, "cell_id", 200),
        path=path,
    )
    output = _str(d, "output")
    if output:
        ex.add_output(output)
    ex.error = _error_from(d.get("error"), f"{name}.error")
    return ex


_FACT_FIELDS = set(ValueFact.__dataclass_fields__)


def _facts_from(d: Any) -> RuntimeFacts | None:
    if d is None:
        return None
    d = _obj(d, "facts")
    values = _obj(d.get("values") or {}, "facts.values")
    if len(values) > MAX_FACTS:
        raise PayloadError("'facts' has too many values")
    facts = RuntimeFacts()
    for name, v in values.items():
        v = _obj(v, f"facts.values.{name}")
        fields = {k: v[k] for k in _FACT_FIELDS if k in v}
        fields["name"] = str(name)[:200]
        fields["type"] = str(fields.get("type", "?"))[:200]
        for k in ("keys", "item_types", "shape", "columns", "index", "attributes"):
            if isinstance(fields.get(k), list):
                fields[k] = tuple(fields[k][:60])
            elif k in fields:
                fields[k] = None
        for k in ("preview", "dtype", "kind"):
            if k in fields and not isinstance(fields[k], str):
                fields[k] = None
        if not isinstance(fields.get("length"), int) or isinstance(fields.get("length"), bool):
            fields["length"] = None
        if not isinstance(fields.get("dtypes"), dict):
            fields["dtypes"] = None
        fields["builtin"] = bool(fields.get("builtin"))
        facts.values[fields["name"]] = ValueFact(**fields)
    undefined = _list(d, "undefined", MAX_FACTS)
    facts.undefined = {str(n)[:200] for n in undefined}
    return facts


def job_from_payload(body: dict, *, history_executions: int = 20) -> tuple[Job, dict[str, Any]]:
    """The service's ``Job`` (without notes) and the request's metadata (path, file id, cell id,
    consent), or :class:`PayloadError`."""
    kind = body.get("kind")
    if kind not in ("hint", "answer"):
        raise PayloadError("'kind' must be 'hint' or 'answer'")
    level = _int(body, "level") or 1
    if not 1 <= level <= 3:
        raise PayloadError("'level' must be 1, 2 or 3")
    path = checked_path(_str(body, "path", 1000, required=True) or "")
    file_id = _str(body, "file_id", 255) or path
    ctx = NotebookContext(path, history_executions)
    cells, used = [], 0
    for i, c in enumerate(_list(body, "cells", MAX_CELLS)):
        c = _obj(c, f"cells[{i}]")
        source = _str(c, "source", MAX_CELLS_CHARS) or ""
        used += len(source)
        if used > MAX_CELLS_CHARS:
            raise PayloadError("'cells' are too long")
        cell_type = str(c["cell_type"]) if c.get("cell_type") in ("code", "markdown", "raw") else "code"
        cells.append(Cell(_str(c, "id", 200), cell_type, source))
    ctx.cells = cells
    for i, e in enumerate(_list(body, "executions", MAX_EXECUTIONS)):
        ctx.record(_execution_from(e, f"executions[{i}]", path))
    focus = _execution_from(body["focus"], "focus", path) if body.get("focus") is not None else None
    if focus is not None:
        ctx.record(focus)
    if kind == "hint" and (focus is None or focus.error is None):
        raise PayloadError("a hint needs 'focus' with its 'error'")
    question = _str(body, "question")
    if kind == "answer" and not (question or "").strip():
        raise PayloadError("an answer needs a 'question'")
    turns: list[tuple[str, str]] = []
    for i, t in enumerate(_list(body, "turns", MAX_TURNS)):
        if not (isinstance(t, list) and len(t) == 2 and all(isinstance(x, str) for x in t)):
            raise PayloadError(f"'turns[{i}]' must be [role, text]")
        if len(t[1]) > MAX_TEXT:
            raise PayloadError(f"'turns[{i}]' is too long")
        turns.append(("tutor" if t[0] in ("tutor", "assistant") else "learner", t[1]))
    job = Job(
        kind,
        ctx,
        focus,
        level,
        question=question,
        request=_str(body, "request", 2000),
        cell_source=_str(body, "cell_source", MAX_CODE),
        facts=_facts_from(body.get("facts")),
        turns=turns,
        names=ctx.names(),
    )
    meta = {
        "path": path,
        "file_id": file_id,
        "cell_id": _str(body, "cell_id", 200),
        "consent": body.get("consent") is True,
    }
    return job, meta


def error_report(ex: Execution, path: str, file_id: str | None) -> dict[str, Any]:
    """An execution's error for the instructor dashboard (no code, no outputs)."""
    assert ex.error is not None
    return {
        "type": "error",
        "path": path,
        "file_id": file_id or path,
        "cell_id": ex.cell_id,
        "ename": ex.error.ename[:200],
        "evalue": ex.error.evalue[:500],
        "signature": ex.error.signature(ex.code),
        "execution_count": ex.execution_count,
    }
