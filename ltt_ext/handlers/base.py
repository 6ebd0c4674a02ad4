"""What every ltt-ext API handler shares: JSON bodies checked once, and notebook paths.

Bad input is a 4xx JSON answer here, before any handler or service sees it: a body
that is too big (413), not JSON, nested absurdly deep (``json`` raises RecursionError,
not ValueError), holding NaN/Infinity, or holding lone surrogates (``"\\ud800"``
is valid JSON but no UTF-8 string: the kernel session packer and SQLite raise on it).
"""

from __future__ import annotations

import json
import math
from typing import Any

from jupyter_core.utils import ensure_async
from jupyter_server.base.handlers import APIHandler
from tornado import web

from ..workspace import normalize_path

MAX_BODY_BYTES = 1 << 20  # 1 MiB: a question or a stop request is a few hundred bytes
MAX_DEPTH = 32  # our bodies are flat; deeper is never a real request
MAX_ID_LENGTH = 200  # cell ids, message ids


def _reject_constant(name: str):
    raise ValueError(f"{name} is not a JSON number")


def parse_json_object(raw: bytes, max_bytes: int = MAX_BODY_BYTES) -> dict[str, Any]:
    """``raw`` as a JSON object of clean values, or an HTTPError (400/413) saying why."""
    if len(raw) > max_bytes:
        raise web.HTTPError(413, f"The request body is larger than {max_bytes} bytes.")
    try:
        body = json.loads(raw or b"{}", parse_constant=_reject_constant)
    except RecursionError:
        raise web.HTTPError(400, "The request body is nested too deeply.") from None
    except ValueError as e:  # also bad UTF-8 and integers of thousands of digits
        raise web.HTTPError(400, f"The request body is not valid JSON: {e}") from None
    if not isinstance(body, dict):
        raise web.HTTPError(400, "The request body must be a JSON object.")
    check_json_values(body)
    return body


def check_json_values(value: Any) -> None:
    """No nesting deeper than MAX_DEPTH and only UTF-8-encodable strings (keys included)."""
    stack = [(value, 1)]
    while stack:  # iterative: the point is not to recurse on hostile input
        item, depth = stack.pop()
        if isinstance(item, str):
            check_text(item)
        elif isinstance(item, (dict, list)):
            if depth > MAX_DEPTH:
                raise web.HTTPError(400, "The request body is nested too deeply.")
            if isinstance(item, dict):
                for k, v in item.items():
                    check_text(k)
                    stack.append((v, depth + 1))
            else:
                stack.extend((v, depth + 1) for v in item)


def check_text(text: str, name: str = "The request") -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise web.HTTPError(
            400, f"{name} contains text that is not valid Unicode (a lone surrogate)."
        ) from None


def string_field(
    body: dict, name: str, *, required: bool = False, max_length: int | None = None, forbidden: str = ""
) -> str | None:
    """``body[name]`` as a string (None when absent and optional), or a 400."""
    value = body.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or (required and not value):
        raise web.HTTPError(400, f'"{name}" must be a {"non-empty " if required else ""}string.')
    if max_length is not None and len(value) > max_length:
        raise web.HTTPError(400, f'"{name}" is too long (at most {max_length} characters).')
    if any(c in value for c in forbidden):
        raise web.HTTPError(400, f'"{name}" must not contain any of {" ".join(forbidden)}.')
    return value


def number_field(body: dict, name: str, *, default: float, low: float, high: float) -> float:
    """``body[name]`` as a number in (low, high], or a 400 (booleans are not numbers)."""
    value = body.get(name, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not (low < value <= high):
        raise web.HTTPError(400, f'"{name}" must be a number in ({low:g}, {high:g}].')
    return float(value)


async def checked_notebook_path(handler, value: Any) -> str:
    """A notebook path under the root that exists (404) and reads as a notebook (400).

    Read now, so that a corrupt ``.ipynb`` or a text file is a 400 at once instead of a room
    whose load fails in the background and leaves the request waiting forever. A notebook
    whose room is loaded (open in JupyterLab: the usual case) is not read again.
    """
    if not isinstance(value, str):
        raise web.HTTPError(400, '"path" must be a notebook path relative to the server root.')
    check_text(value, '"path"')
    try:
        path = normalize_path(value)
    except ValueError as e:
        raise web.HTTPError(400, f'"path": {e}.') from None
    cm = handler.contents_manager
    try:
        model = await ensure_async(cm.get(path, content=False))
        if model.get("type") != "notebook":
            raise web.HTTPError(400, f"Not a notebook: {path}")
        if not _loaded_room(handler, path):
            await ensure_async(cm.get(path, content=True, type="notebook"))
    except web.HTTPError as e:
        if e.status_code == 404:
            raise web.HTTPError(404, f"No such notebook: {path}") from None
        if 400 <= e.status_code < 500:
            raise web.HTTPError(e.status_code, f"Not a readable notebook: {path}") from None
        raise
    return path


def _loaded_room(handler, path: str) -> bool:
    rooms = handler.settings.get("yroom_manager")
    fileids = handler.settings.get("file_id_manager")
    if rooms is None or fileids is None:
        return False
    file_id = fileids.get_id(path)
    room_id = f"json:notebook:{file_id}"
    if not file_id or not rooms.has_room(room_id):
        return False
    return rooms.get_room(room_id).file_api.content_loaded


class LttAPIHandler(APIHandler):
    """APIHandler answers errors as JSON already; this adds strict body parsing."""

    max_body_bytes = MAX_BODY_BYTES

    def json_body(self) -> dict[str, Any]:
        """The request body as a JSON object of clean values, or a 4xx that says what is wrong."""
        return parse_json_object(self.request.body, self.max_body_bytes)

    def query_number(self, name: str) -> float | None:
        value = self.get_query_argument(name, None)
        if value is None:
            return None
        try:
            number = float(value)
        except ValueError:
            number = math.nan
        if not math.isfinite(number):
            raise web.HTTPError(400, f"'{name}' must be a number")
        return number

    async def notebook_path(self, value: Any) -> str:
        return await checked_notebook_path(self, value)
