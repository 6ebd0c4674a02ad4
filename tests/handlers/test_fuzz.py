"""Hostile and malformed input to every ltt-ext endpoint, on a real server with a real kernel.

Every request must be answered (a bounded wait: a request that does not answer fails), never
with a 5xx, and every error must be a JSON ``{"message"}``. Afterwards the kernel still runs
``1+1``, the notebook on disk is the one we wrote, no notebook room exists for a file that is
not a readable notebook, and the server logged no error. Bodies come from a fixed list of
known-bad inputs plus seeded random mutations of a valid body (the seed is in the failure).
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import urllib.parse

import pytest
from tornado.httpclient import AsyncHTTPClient, HTTPClientError, HTTPRequest
from tornado.websocket import websocket_connect

from ltt_ext.testing import read_notebook, wait_until

SEED = 9
# Seconds. Above the longest any valid request here may take (an execute without "timeout" runs
# up to its default 30 s, then interrupts with a 5 s grace); malformed ones answer in milliseconds.
ANSWER_WITHIN = 60.0
OVER_EVERY_CAP = 17 << 20  # bytes: above the execute cap (16 MiB), far above the tutor's (1 MiB)

NOT_NOTEBOOKS = ["notes.txt", "corrupt.ipynb", "folder.ipynb", "empty.ipynb", "binary.ipynb"]


def nested(depth: int):
    value: object = "leaf"
    for _ in range(depth):
        value = [value]
    return value


# Values put in every field of every body (JSON-encoded with ensure_ascii: "\ud800" stays a lone surrogate).
VALUES = [
    None,
    True,
    False,
    0,
    -1,
    1.5,
    1e308,
    10**30,
    "",
    " ",
    "\ud800",
    "a\udfffb",
    "\udc80" * 3,
    "x" * 100_000,
    "a#b",
    "a:b",
    "../outside.ipynb",
    "/etc/passwd",
    "sub/../../x.ipynb",
    "C:\\x.ipynb",
    "~/x.ipynb",
    "\x00",
    "lesson.ipynb\x00.txt",
    "missing.ipynb",
    *NOT_NOTEBOOKS,
    [],
    {},
    ["lesson.ipynb"],
    {"path": "lesson.ipynb"},
    nested(40),
    "é✓😀",
]

# Bodies that are not a clean JSON object at all.
RAW_BODIES = [
    b"",
    b"{",
    b"}",
    b"null",
    b"1",
    b'"lesson.ipynb"',
    b"[]",
    b"[1, 2]",
    b"true",
    b"\xff\xfe\x00{",
    b'{"path": "lesson.ipynb"',
    b'{"path": NaN}',
    b'{"timeout": Infinity}',
    b'{"timeout": -Infinity}',
    b"[" * 100_000 + b"]" * 100_000,
    b'{"a":' * 50_000 + b"1" + b"}" * 50_000,
    b'{"a": ' + b"[" * 40 + b"]" * 40 + b"}",
    b'{"\\ud800": 1}',
    b'{"text": "\\udfff"}',
    b'{"timeout": 1' + b"0" * 5000 + b"}",
    b'{"code": "1", "code": 2}',
    '{"text": "\u00e9"}'.encode("latin-1"),
    b" " * OVER_EVERY_CAP,
]

SINCE_VALUES = ["nan", "inf", "-inf", "1e999", "soon", "", "0x10", "1" * 10_000, "\x00"]


@pytest.fixture
def readable_and_broken_files(jp_root_dir, make_notebook):
    path, cells = make_notebook(["x = 41", "print(x + 1)"])
    (jp_root_dir / "notes.txt").write_text("not a notebook")
    (jp_root_dir / "corrupt.ipynb").write_text('{"cells": [')
    (jp_root_dir / "folder.ipynb").mkdir()
    (jp_root_dir / "empty.ipynb").write_text("")
    (jp_root_dir / "binary.ipynb").write_bytes(bytes(range(256)) * 4)
    return path, cells


def json_message(body: bytes) -> str | None:
    """The ``message`` of a JSON error body, or None."""
    try:
        message = json.loads(body)["message"]
    except Exception:
        return None
    return message if isinstance(message, str) and message else None


class Client:
    """Raw requests (any bytes, any URL) against the test server, each with a bounded wait."""

    def __init__(self, port: int, base_url: str, headers: dict):
        self.base = f"127.0.0.1:{port}{base_url}"
        self.headers = headers
        self.http = AsyncHTTPClient()
        self.failures: list[str] = []
        self.count = 0

    async def request(self, method: str, endpoint: str, body: bytes | None = None, query: str = "") -> None:
        url = f"http://{self.base}{endpoint}" + (f"?{query}" if query else "")
        what = f"{method} {endpoint}{'?' + query[:80] if query else ''} {(body or b'')[:120]!r}"
        req = HTTPRequest(
            url,
            method=method,
            body=body,
            headers=self.headers,
            allow_nonstandard_methods=True,
            request_timeout=ANSWER_WITHIN,
        )
        self.count += 1
        try:
            response = await self.http.fetch(req, raise_error=False)
        except Exception as e:  # the server closed the connection without an answer
            self.failures.append(f"{what}: no answer ({e!r})")
            return
        if response.code == 599:
            self.failures.append(f"{what}: no answer within {ANSWER_WITHIN:g}s ({response.error!r})")
        elif response.code >= 500:
            self.failures.append(f"{what}: {response.code} {response.body[:200]!r}")
        elif response.code >= 400 and not json_message(response.body):
            self.failures.append(f"{what}: {response.code} without a JSON message: {response.body[:200]!r}")

    async def all(self, requests, concurrency: int = 4) -> None:
        gate = asyncio.Semaphore(concurrency)

        async def one(args):
            async with gate:
                await self.request(*args)

        await asyncio.gather(*(one(args) for args in requests))


def encode(body: dict) -> bytes:
    return json.dumps(body).encode()  # ensure_ascii: lone surrogates become "\ud800" escapes


def mutations(valid: dict, rng: random.Random, n_random: int) -> list[bytes]:
    """Each field replaced by each bad value, each field dropped, then random mixes."""
    bodies = []
    for field in valid:
        bodies.append(encode({k: v for k, v in valid.items() if k != field}))
        bodies.extend(encode({**valid, field: value}) for value in VALUES)
    fields = list(valid) + ["extra", "\ud800"]
    for _ in range(n_random):
        body = {
            f: rng.choice(VALUES + [valid.get(f)]) for f in rng.sample(fields, rng.randint(1, len(fields)))
        }
        bodies.append(encode(body))
    return bodies


def post_requests(endpoint: str, valid: dict, rng: random.Random, n_random: int = 40, method: str = "POST"):
    return [(method, endpoint, body) for body in RAW_BODIES + mutations(valid, rng, n_random)]


async def notebook_content(root, path):
    nb = await wait_until(lambda: read_notebook(root, path))  # None while a save is halfway
    return [(c.id, c.source, c.get("outputs"), c.get("execution_count")) for c in nb.cells]


async def test_no_malformed_request_gets_a_5xx_or_hangs_or_touches_anything(
    jp_http_port,
    jp_base_url,
    jp_auth_header,
    jp_serverapp,
    jp_root_dir,
    notebook_session,
    readable_and_broken_files,
    caplog,
):
    caplog.set_level(logging.WARNING)
    path, cells = readable_and_broken_files
    before = await notebook_content(jp_root_dir, path)
    session, room = await notebook_session(path)  # a learner has the notebook open
    kid = session["kernel"]["id"]
    client = Client(jp_http_port, jp_base_url, dict(jp_auth_header))
    rng = random.Random(SEED)
    execute = f"ltt/api/kernels/{kid}/execute"
    api = "ltt/api/tutor"

    requests = [
        # "nope" is no cell of the notebook: a run that passes validation cannot change it
        *post_requests(execute, {"code": "1+1", "timeout": 2, "cell_id": "nope", "path": path}, rng),
        *post_requests(
            f"{api}/ask", {"path": path, "text": "why?", "cell_id": cells[1], "consent": True}, rng
        ),
        *post_requests(f"{api}/more", {"path": path, "cell_id": cells[1], "consent": False}, rng),
        *post_requests(f"{api}/stop", {"path": path, "id": "m-unknown"}, rng),
        *post_requests(
            f"ltt/api/kernels/{kid}/stdin", {"client_id": "c-1", "session_id": "s-1"}, rng, method="PUT"
        ),
        # every file that is not a readable notebook, as the notebook of a run
        *(("POST", execute, encode({"code": "1+1", "cell_id": "nope", "path": p})) for p in NOT_NOTEBOOKS),
        *(
            ("POST", f"ltt/api/kernels/{k}/execute", encode({"code": "1"}))
            for k in ("0000", "%C3%A9", "%F0%9F%98%80", "a" * 5000)
        ),
        # wrong methods
        ("GET", execute, None),
        ("PUT", f"{api}/ask", b"{}"),
        ("DELETE", f"{api}/history", None),
        ("GET", f"{api}/stop", None),
        ("PATCH", f"{api}/info", b"[["),
        # query strings: bad paths, bad numbers, bytes that are not UTF-8
        *(
            ("GET", f"{api}/history", None, urllib.parse.urlencode({"path": v}, errors="surrogatepass"))
            for v in VALUES
            if isinstance(v, str) and len(v) < 10_000
        ),  # tornado drops a start line over 64 KiB
        *(
            ("GET", f"{api}/history", None, urllib.parse.urlencode({"path": path, "since": s}))
            for s in SINCE_VALUES
        ),
        *(
            ("GET", f"{api}/history", None, q)
            for q in (
                "path=%ED%A0%80",
                "path=%FF%FE",
                "path=%00",
                f"path={path}&path=%ED%A0%80",
                "path",
                "since=1",
                f"path={path}&since=%ED%A0%80",
            )
        ),
        ("GET", f"{api}/info", None, "path=%ED%A0%80&x=" + "y" * 10_000),
    ]
    await client.all(requests)
    await stream_survives_garbage(client, path, jp_http_port, jp_base_url, jp_auth_header)

    summary = f"seed {SEED}: {len(client.failures)} of {client.count} requests failed"
    assert client.failures == [], "\n".join([summary, *client.failures])

    # The kernel is untouched and still answers.
    r = await AsyncHTTPClient().fetch(
        f"http://{client.base}{execute}",
        method="POST",
        body=encode({"code": "1+1"}),
        headers=client.headers,
        request_timeout=ANSWER_WITHIN,
    )
    assert json.loads(r.body)["outputs"][0]["data"]["text/plain"] == "2"
    # So is the notebook, in the room and on disk.
    assert [str(c["source"]) for c in room._jupyter_ydoc.ycells] == ["x = 41", "print(x + 1)"]
    assert await notebook_content(jp_root_dir, path) == before
    # No room was made for a file that is not a readable notebook (its load would fail forever).
    settings = jp_serverapp.web_app.settings
    for bad in NOT_NOTEBOOKS:
        file_id = settings["file_id_manager"].get_id(bad)
        assert not (file_id and settings["yroom_manager"].has_room(f"json:notebook:{file_id}")), bad
    # And nothing went wrong on the server's side (no traceback, no unretrieved task exception).
    errors = [r.getMessage()[:300] for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors == []


async def stream_survives_garbage(client: Client, path: str, port: int, base_url: str, auth: dict) -> None:
    """The tutor stream refuses bad paths with a 4xx, and ignores whatever a client sends it."""

    def ws_url(query: str) -> str:
        return f"ws://127.0.0.1:{port}{base_url}ltt/api/tutor/stream?{query}"

    for query in [
        "",
        "path=",
        "path=..%2Fx.ipynb",
        "path=%ED%A0%80",
        "path=%00",
        "path=missing.ipynb",
        *(urllib.parse.urlencode({"path": p}) for p in NOT_NOTEBOOKS),
    ]:
        client.count += 1
        try:
            ws = await asyncio.wait_for(
                websocket_connect(HTTPRequest(ws_url(query), headers=auth, request_timeout=ANSWER_WITHIN)),
                ANSWER_WITHIN,
            )
        except HTTPClientError as e:
            body = e.response.body if e.response is not None else b""
            if not (400 <= e.code < 500 and json_message(body)):
                client.failures.append(f"stream ?{query}: {e.code} {body[:200]!r}")
        except Exception as e:
            client.failures.append(f"stream ?{query}: no answer ({e!r})")
        else:
            ws.close()
            client.failures.append(f"stream ?{query}: accepted")

    req = HTTPRequest(
        ws_url(urllib.parse.urlencode({"path": path})), headers=auth, request_timeout=ANSWER_WITHIN
    )
    ws = await websocket_connect(req, max_message_size=64 << 20)
    try:
        assert json.loads(await ws.read_message())["type"] == "hello"
        assert json.loads(await ws.read_message())["type"] == "status"
        for frame in [
            "",
            "{",
            "[" * 100_000,
            '"\\ud800"',
            '{"type": "ask", "path": 1}',
            "x" * (1 << 20),
            b"\xff\xfe" * 1000,
            b"",
            json.dumps(nested(40)),
        ]:
            await ws.write_message(frame, binary=isinstance(frame, bytes))
        # Still subscribed and alive: a question asked over REST is pushed to it.
        await client.request("POST", "ltt/api/tutor/ask", encode({"path": path, "text": "still there?"}))
        while True:
            event = await asyncio.wait_for(ws.read_message(), ANSWER_WITHIN)
            assert event is not None, "the stream closed after garbage frames"
            event = json.loads(event)
            if event["type"] == "message" and event["message"]["text"] == "still there?":
                break
    finally:
        ws.close()


@pytest.mark.parametrize("bad", NOT_NOTEBOOKS + ["missing.ipynb"])
async def test_a_path_that_is_not_a_readable_notebook_is_refused_at_once(
    jp_fetch, jp_ws_fetch, jp_serverapp, start_kernel, readable_and_broken_files, bad
):
    # Before: a room was made for any existing file; its load failed unawaited and the
    # request never answered ("Task exception was never retrieved ... Unreadable Notebook").
    kid = await start_kernel()
    status = 404 if bad.startswith("missing") else 400
    calls = [
        (
            ("ltt", "api", "kernels", kid, "execute"),
            {"method": "POST", "body": encode({"code": "1+1", "cell_id": "c", "path": bad})},
        ),
        (("ltt", "api", "tutor", "ask"), {"method": "POST", "body": encode({"path": bad, "text": "why?"})}),
        (("ltt", "api", "tutor", "more"), {"method": "POST", "body": encode({"path": bad})}),
        (("ltt", "api", "tutor", "stop"), {"method": "POST", "body": encode({"path": bad, "id": "m-1"})}),
        (("ltt", "api", "tutor", "history"), {"params": {"path": bad}}),
    ]
    for parts, kw in calls:
        with pytest.raises(HTTPClientError) as e:
            await jp_fetch(*parts, request_timeout=10, **kw)
        assert e.value.code == status, parts
        assert bad in json.loads(e.value.response.body)["message"]
    with pytest.raises(HTTPClientError) as e:
        await jp_ws_fetch("ltt", "api", "tutor", "stream", params={"path": bad}, request_timeout=10)
    assert e.value.code == status
    settings = jp_serverapp.web_app.settings
    file_id = settings["file_id_manager"].get_id(bad)
    assert not (file_id and settings["yroom_manager"].has_room(f"json:notebook:{file_id}"))


async def test_bodies_over_the_cap_are_413(jp_fetch, start_kernel):
    kid = await start_kernel()
    for parts, size in [
        (("ltt", "api", "tutor", "ask"), (1 << 20) + 1),
        (("ltt", "api", "kernels", kid, "execute"), (16 << 20) + 1),
    ]:
        body = encode({"path": "lesson.ipynb", "text": "x" * size, "code": "1"})
        with pytest.raises(HTTPClientError) as e:
            await jp_fetch(*parts, method="POST", body=body, request_timeout=30)
        assert e.value.code == 413 and "larger than" in json.loads(e.value.response.body)["message"]
