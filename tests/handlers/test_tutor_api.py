"""The tutor API contract (docs/api.md): auth, 4xx JSON errors (never 500), paths kept inside the root."""

import json

import nbformat
import pytest
from tornado.httpclient import AsyncHTTPClient, HTTPClientError
from tornado.websocket import websocket_connect


@pytest.fixture
def jp_server_config(ltt_tutored_server_config):
    return ltt_tutored_server_config


@pytest.fixture
def nb(jp_root_dir):
    (jp_root_dir / "sub").mkdir()
    nbformat.write(nbformat.v4.new_notebook(), jp_root_dir / "sub" / "lesson.ipynb")
    return "sub/lesson.ipynb"


async def fails(fetch, *parts, **kw):
    with pytest.raises(HTTPClientError) as e:
        await fetch(*parts, **kw)
    body = json.loads(e.value.response.body) if e.value.response.body else {}
    return e.value.code, body


def post(what, body):
    raw = body if isinstance(body, (str, bytes)) else json.dumps(body)
    return ("ltt", "api", "tutor", what), {"method": "POST", "body": raw}


@pytest.mark.parametrize(
    "bad_path,status",
    [
        ("../outside.ipynb", 400),
        ("/etc/passwd", 400),
        ("sub/../../x.ipynb", 400),
        ("", 400),
        ("C:\\\\x.ipynb", 400),
        ("missing.ipynb", 404),
    ],
)
async def test_paths_outside_the_root_or_missing_are_refused(jp_fetch, nb, bad_path, status):
    code, body = await fails(jp_fetch, "ltt", "api", "tutor", "history", params={"path": bad_path})
    assert code == status and body["message"]
    parts, kw = post("ask", {"path": bad_path, "text": "hi"})
    code, body = await fails(jp_fetch, *parts, **kw)
    assert code == status and "message" in body


@pytest.mark.parametrize(
    "what,body",
    [
        ("ask", "{not json"),
        ("ask", "[1, 2]"),
        ("ask", {"path": "sub/lesson.ipynb"}),
        ("ask", {"path": "sub/lesson.ipynb", "text": "  "}),
        ("ask", {"path": "sub/lesson.ipynb", "text": 3}),
        ("ask", {"path": "sub/lesson.ipynb", "text": "x", "cell_id": ["a"]}),
        ("ask", {"path": 7, "text": "x"}),
        ("more", {}),
        ("stop", {"path": "sub/lesson.ipynb"}),
        ("stop", {"path": "sub/lesson.ipynb", "id": 5}),
    ],
)
async def test_bad_bodies_are_400_json(jp_fetch, nb, what, body):
    parts, kw = post(what, body)
    code, answer = await fails(jp_fetch, *parts, **kw)
    assert code == 400 and answer["message"]


async def test_bad_since_and_valid_requests(jp_fetch, nb, ltt_fake_llm):
    code, body = await fails(jp_fetch, "ltt", "api", "tutor", "history", params={"path": nb, "since": "soon"})
    assert code == 400
    r = await jp_fetch("ltt", "api", "tutor", "history", params={"path": "./sub//lesson.ipynb", "since": "0"})
    assert json.loads(r.body) == {"path": nb, "messages": []}
    parts, kw = post("more", {"path": nb})
    r = await jp_fetch(*parts, **kw)
    reply = json.loads(r.body)["reply"]
    assert r.code == 202 and reply["kind"] == "notice" and "no recent error" in reply["text"]
    parts, kw = post("stop", {"path": nb, "id": "m-unknown"})
    assert json.loads((await jp_fetch(*parts, **kw)).body) == {"stopped": False}


async def test_info_never_leaks_the_key_or_endpoint(jp_fetch, ltt_tutor_config):
    r = await jp_fetch("ltt", "api", "tutor", "info")
    info = json.loads(r.body)
    assert info == {
        "engine": "llm",
        "model": "fake-tutor",
        "proactive": True,
        "allow_solutions": False,
        "consent_required": False,
    }
    assert ltt_tutor_config["api_key"] not in r.body.decode() and "127.0.0.1" not in r.body.decode()


async def test_unauthenticated_requests_are_refused(http_server_client, jp_http_port, jp_base_url, nb):
    base = f"http://127.0.0.1:{jp_http_port}{jp_base_url}ltt/api/tutor"
    client = AsyncHTTPClient()
    for url, kw in [
        (f"{base}/info", {}),
        (f"{base}/history?path={nb}", {}),
        (f"{base}/ask", {"method": "POST", "body": json.dumps({"path": nb, "text": "x"})}),
    ]:
        with pytest.raises(HTTPClientError) as e:
            await client.fetch(url, **kw)
        assert e.value.code == 403
    with pytest.raises(HTTPClientError) as e:
        await websocket_connect(f"ws://127.0.0.1:{jp_http_port}{jp_base_url}ltt/api/tutor/stream?path={nb}")
    assert e.value.code == 403


async def test_websocket_refuses_bad_paths(jp_ws_fetch, nb):
    with pytest.raises(HTTPClientError) as e:
        await jp_ws_fetch("ltt", "api", "tutor", "stream", params={"path": "../etc.ipynb"})
    assert e.value.code == 400
    with pytest.raises(HTTPClientError) as e:
        await jp_ws_fetch("ltt", "api", "tutor", "stream", params={"path": "nope.ipynb"})
    assert e.value.code == 404
    ws = await jp_ws_fetch("ltt", "api", "tutor", "stream", params={"path": nb})
    assert json.loads(await ws.read_message())["type"] == "hello"
    status = json.loads(await ws.read_message())
    assert status == {"type": "status", "kernel_state": None, "thinking": False}
    ws.close()


class TestDisabled:
    @pytest.fixture
    def jp_server_config(self, ltt_tutored_server_config):
        ltt_tutored_server_config["Tutor"]["enabled"] = False
        return ltt_tutored_server_config

    async def test_a_disabled_tutor_answers_503(self, jp_fetch, jp_ws_fetch, nb):
        code, body = await fails(jp_fetch, "ltt", "api", "tutor", "info")
        assert code == 503 and "turned off" in body["message"]
        parts, kw = post("ask", {"path": nb, "text": "hi"})
        assert (await fails(jp_fetch, *parts, **kw))[0] == 503
        with pytest.raises(HTTPClientError) as e:
            await jp_ws_fetch("ltt", "api", "tutor", "stream", params={"path": nb})
        assert e.value.code == 503
