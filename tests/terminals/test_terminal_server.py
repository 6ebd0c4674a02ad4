"""The tutor follows a real terminal of a real server (jupyter_server_terminals + terminado), typed into
over ``/terminals/websocket/<name>`` as JupyterLab does: failed commands get ladder hints in the
terminal's conversation, with or without a browser, and a password prompt's input is never kept."""

import asyncio
import json
import sys

import pytest
from tornado.httpclient import HTTPClientError

from ltt_ext.testing import wait_until


class Term:
    """A terminal websocket client speaking terminado's protocol: ["stdin", text] out, ["stdout", text] in."""

    def __init__(self, conn):
        self.conn = conn
        self.output = ""
        self.closed = False
        self._reader = asyncio.ensure_future(self._read())

    async def _read(self):
        while True:
            msg = await self.conn.read_message()
            if msg is None:
                self.closed = True
                return
            kind, *rest = json.loads(msg)
            if kind == "stdout":
                self.output += rest[0]
            elif kind == "disconnect":
                self.closed = True

    def type(self, text):
        self.conn.write_message(json.dumps(["stdin", text]))

    async def run(self, command, expect=None):
        """Type a command and Enter; wait until its output (``expect``) and the next prompt show."""
        start = len(self.output)
        self.type(command + "\r")

        def done():
            out = self.output[start + len(command) :]
            at = out.find(expect) + len(expect) if expect else 0
            return at >= len(expect or "") and out[at:].rstrip().endswith(("$", "#"))

        await wait_until(done)

    def close(self):
        self.conn.close()
        self._reader.cancel()


@pytest.fixture
def terminal(jp_fetch, jp_ws_fetch, jp_root_dir):
    opened = []

    async def open_(name=None):
        body = {"cwd": str(jp_root_dir)}
        r = await jp_fetch("api", "terminals", method="POST", body=json.dumps(body))
        name = json.loads(r.body)["name"]
        term = Term(await jp_ws_fetch("terminals", "websocket", name))
        opened.append(term)
        await wait_until(lambda: term.output.rstrip().endswith(("$", "#")))
        return name, term

    yield open_
    for term in opened:
        term.close()


async def hints_of(jp_fetch, name):
    r = await jp_fetch("ltt", "api", "tutor", "terminal", "history", params={"terminal": name})
    body = json.loads(r.body)
    assert body["path"] == f"terminal:{name}"
    return [m for m in body["messages"] if m["kind"] == "hint"]


async def post(jp_fetch, what, body):
    r = await jp_fetch("ltt", "api", "tutor", "terminal", what, method="POST", body=json.dumps(body))
    return json.loads(r.body)


async def test_failed_commands_get_ladder_hints(jp_fetch, jp_ws_fetch, jp_root_dir, terminal, ltt_tutor):
    name, term = await terminal()
    stream = await jp_ws_fetch("ltt", "api", "tutor", "terminal", "stream", params={"terminal": name})
    hello = json.loads(await stream.read_message())
    status = json.loads(await stream.read_message())
    assert hello["type"] == "hello" and status == {
        "type": "status",
        "kernel_state": None,
        "thinking": False,
        "terminal": "running",
    }

    await term.run("echo hello-from-$((6*7))", expect="hello-from-42")  # the terminal websocket still works
    await term.run("lss_no_such_cmd -l")
    (first,) = await wait_until(lambda: hints_of(jp_fetch, name))
    assert first["level"] == 1 and first["role"] == "tutor" and first["engine"] == "builtin"
    assert "`lss_no_such_cmd`" in first["text"]
    pushed = json.loads(await asyncio.wait_for(stream.read_message(), 30))
    assert pushed["type"] == "message" and pushed["message"]["id"] == first["id"]

    # the same failure again climbs the ladder; "more help" climbs it too
    await term.run("lss_no_such_cmd -l")
    await wait_until(lambda: _count(hints_of(jp_fetch, name), 2))
    reply = await post(jp_fetch, "more", {"terminal": name})
    assert reply["reply"]["level"] == 3, [
        (m.level, m.extra.get("failure")) for m in await ltt_tutor.store.history(f"terminal:{name}")
    ]
    assert reply["reply"]["text"].startswith("**Explanation**")

    # a missing file, with the file named and a close name found in the shell's folder
    (jp_root_dir / "notes.txt").write_text("hello\n")
    await term.run("cat note.txt")
    hint = (await wait_until(lambda: _count(hints_of(jp_fetch, name), 4)))[-1]
    assert "`cat`" in hint["text"] and "`note.txt`" in hint["text"] and hint["level"] == 1

    # a script without the execute permission
    (jp_root_dir / "run.sh").write_text("echo ran\n")
    (jp_root_dir / "run.sh").chmod(0o644)
    await term.run("./run.sh")
    hint = (await wait_until(lambda: _count(hints_of(jp_fetch, name), 5)))[-1]
    assert "permission denied" in hint["text"] and "`./run.sh`" in hint["text"]

    # a Python traceback, run from the shell
    (jp_root_dir / "stats.py").write_text("total = 3\nprint(totl)\n")
    await term.run(f"{sys.executable} stats.py")
    hint = (await wait_until(lambda: _count(hints_of(jp_fetch, name), 6)))[-1]
    assert "`NameError`" in hint["text"] and "line 2 of" in hint["text"] and "stats.py" in hint["text"]

    # a flood: the websocket gets all of it, the tutor reads its end and still sees what follows
    await term.run("yes | head -n 200000 | tail -n 1; lss_after_flood_0 ; yes 0123456789 | head -n 100000")
    assert term.output.count("0123456789") >= 100000
    hint = (await wait_until(lambda: _count(hints_of(jp_fetch, name), 7)))[-1]
    assert "`lss_after_flood_0`" in hint["text"]

    # a command that works gets nothing
    await term.run("ls > /dev/null")
    await term.run("true")
    assert len(await hints_of(jp_fetch, name)) == 7
    stream.close()


async def _count(coro, n):
    found = await coro
    return found if len(found) >= n else None


async def test_a_non_zero_exit_shown_by_the_prompt(jp_fetch, terminal):
    name, term = await terminal()
    await term.run("PS1='[$?] \\w\\$ '", expect="] ")
    await term.run("(exit 3)", expect="[3] ")
    (hint,) = await wait_until(lambda: hints_of(jp_fetch, name))
    assert "exit status 3" in hint["text"] and "`(exit`" in hint["text"]


async def test_no_browser_needed_and_closing_keeps_the_history(
    jp_fetch, jp_serverapp, jp_root_dir, ltt_tutor
):
    r = await jp_fetch("api", "terminals", method="POST", body=json.dumps({"cwd": str(jp_root_dir)}))
    name = json.loads(r.body)["name"]
    pty = jp_serverapp.web_app.settings["terminal_manager"].terminals[name]
    assert not any(type(c).__name__ == "TermSocket" for c in pty.clients)  # no websocket at all
    await wait_until(lambda: getattr(ltt_tutor.terminal_tutor.monitors.get(name), "prompt", None))
    pty.ptyproc.write("cat nowhere.txt\r")  # what a websocket's stdin does, without one
    (hint,) = await wait_until(lambda: hints_of(jp_fetch, name))
    assert "`nowhere.txt`" in hint["text"]
    pty.ptyproc.write("exit\r")
    await wait_until(lambda: name not in jp_serverapp.web_app.settings["terminal_manager"].terminals)
    assert ltt_tutor.terminal_tutor.status(name)["terminal"] == "closed"
    assert len(await hints_of(jp_fetch, name)) == 1


async def test_a_password_prompt_input_is_never_recorded(jp_fetch, terminal, ltt_tutor):
    name, term = await terminal()
    term.type('read -p "Password: " pw; echo "you typed $pw"; lss_after_secret\r')
    await wait_until(lambda: term.output.endswith("Password: "))
    term.type("hunter2-secret\r")
    await wait_until(lambda: "you typed hunter2-secret" in term.output)  # the terminal itself shows it
    await wait_until(lambda: term.output.rstrip().endswith(("$", "#")))
    # a failure printed before the next prompt is dropped with the rest: secrecy comes first
    await term.run("lss_visible")
    (hint,) = await wait_until(lambda: hints_of(jp_fetch, name))
    assert "`lss_visible`" in hint["text"]
    tail = ltt_tutor.terminal_tutor.tail(name, 200)
    assert "Password: [input hidden]" in tail
    assert "hunter2" not in tail and "you typed" not in tail
    stored = json.dumps(await ltt_tutor.store.history(f"terminal:{name}"), default=lambda m: m.__dict__)
    assert "hunter2" not in stored


async def test_bad_requests_get_json_errors(jp_fetch, jp_ws_fetch):
    for params in [{}, {"terminal": "../x"}, {"terminal": "a b"}]:
        with pytest.raises(HTTPClientError) as e:
            await jp_fetch("ltt", "api", "tutor", "terminal", "history", params=params)
        assert e.value.code == 400 and "message" in json.loads(e.value.response.body)
    for what, body in [("more", {}), ("ask", {"terminal": "1"}), ("ask", {"terminal": "1", "text": " "})]:
        with pytest.raises(HTTPClientError) as e:
            await post(jp_fetch, what, body)
        assert e.value.code == 400
    with pytest.raises(HTTPClientError) as e:
        await jp_ws_fetch("ltt", "api", "tutor", "terminal", "stream", params={"terminal": "../x"})
    assert e.value.code == 400
    # a terminal with no failure yet: honest answers
    reply = await post(jp_fetch, "more", {"terminal": "9"})
    assert "no failed command" in reply["reply"]["text"]
    reply = await post(jp_fetch, "ask", {"terminal": "9", "text": "what is ls?"})
    assert "In a terminal I help with failed commands" in reply["reply"]["text"]
