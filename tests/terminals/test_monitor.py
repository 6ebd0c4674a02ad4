"""The terminal monitor on its own: escape sequences, prompts, command blocks, failures, secrets."""

import pytest

from ltt_ext.terminals import hints
from ltt_ext.terminals.failures import Block, Failure, detect
from ltt_ext.terminals.monitor import Skipped, TerminalMonitor, feed_all
from ltt_ext.terminals.screen import HIDDEN, is_shell_prompt, prompt_exit_status, redact, strip_ansi

# Debian's bash prompt as it reaches the PTY: a window title (OSC), colours (CSI)
PROMPT = "\x1b]0;ann@box: ~/course\x07\x1b[01;32mann@box\x1b[00m:\x1b[01;34m~/course\x1b[00m$ "


def session(*commands_and_outputs, prompt=PROMPT):
    """Chunks as a shell writes them: the prompt, the echo of each key, Enter, the output."""
    chunks = [prompt]
    for command, output in commands_and_outputs:
        chunks += list(command) + ["\r\n"]
        if output:
            chunks.append(output.replace("\n", "\r\n"))
        chunks.append(prompt)
    return chunks


def run(*pairs, prompt=PROMPT):
    m = TerminalMonitor("1")
    return m, feed_all(m, session(*pairs, prompt=prompt))


def test_escape_sequences_are_stripped_even_when_split_across_reads():
    m = TerminalMonitor("1")
    assert strip_ansi(PROMPT) == "ann@box:~/course$ "
    for i in range(len(PROMPT)):  # every split point, including inside the escape sequences
        m = TerminalMonitor("1")
        m.feed(PROMPT[:i])
        m.feed(PROMPT[i:])
        assert m.prompt == "ann@box:~/course$ ", i


def test_carriage_returns_and_backspaces_render_like_a_terminal():
    m, _ = run(("pyhton\b\b\b\bthon x.py", "50%\r100%\n"))
    assert list(m.tail) == ["ann@box:~/course$ python x.py", "100%"]


@pytest.mark.parametrize(
    "line, prompt",
    [
        ("ann@box:~$ ", True),
        ("root@box:/# ", True),
        ("box% ", True),
        ("❯ ", True),
        (">>> ", True),
        ("bash-5.2$ ", True),
        ("50%", False),
        ("> ", False),
        ("Password: ", False),
        ("ann@box:~$", False),
    ],
)
def test_what_counts_as_a_prompt(line, prompt):
    assert is_shell_prompt(line) is prompt


@pytest.mark.parametrize(
    "prompt, status",
    [
        ("[127] ~$ ", 127),
        ("(1) ann$ ", 1),
        ("✘ 2 ~ ❯ ", 2),
        ("ann@box:~$ ", None),
        ("[0] ~$ ", 0),
        ("rc=3 $ ", 3),
    ],
)
def test_exit_status_shown_by_the_prompt(prompt, status):
    assert prompt_exit_status(prompt) == status


def test_failures_are_found_with_their_command_file_and_permission():
    m, failures = run(
        ("lss -l", "bash: lss: command not found\n"),
        ("cat notes.txt", "cat: notes.txt: No such file or directory\n"),
        ("./run.sh", "bash: ./run.sh: Permission denied\n"),
        ("echo hi > /etc/motd", "bash: /etc/motd: Permission denied\n"),
        ("cd /root", "bash: cd: /root: Permission denied\n"),
        ("mkdir /opt/x", "mkdir: cannot create directory ‘/opt/x’: Permission denied\n"),
        ("cat /etc/shadow", "cat: /etc/shadow: Permission denied\n"),
        ("ls data", "ls: cannot access 'data': No such file or directory\n"),
        (
            "python3 nope.py",
            "python3: can't open file '/home/ann/course/nope.py': [Errno 2] No such file or directory\n",
        ),
        ("ls", "a.txt  b.txt\n"),  # no failure
        ("zsh-ish", "zsh: command not found: gti\n"),
        ("./tool", "bash: ./tool: /usr/bin/pyhton3: bad interpreter: No such file or directory\n"),
        ("ssh host", "git@host: Permission denied (publickey).\n"),
    )
    got = [(f.kind, f.command, f.program, f.target, f.action) for f in failures]
    assert got == [
        ("not-found", "lss -l", "lss", "lss", ""),
        ("no-such-file", "cat notes.txt", "cat", "notes.txt", ""),
        ("permission", "./run.sh", "bash", "./run.sh", "run"),
        ("permission", "echo hi > /etc/motd", "echo", "/etc/motd", "write"),
        ("permission", "cd /root", "cd", "/root", "enter"),
        ("permission", "mkdir /opt/x", "mkdir", "/opt/x", "write"),
        ("permission", "cat /etc/shadow", "cat", "/etc/shadow", "read"),
        ("no-such-file", "ls data", "ls", "data", ""),
        ("no-such-file", "python3 nope.py", "python3", "/home/ann/course/nope.py", ""),
        ("not-found", "zsh-ish", "zsh-ish", "gti", ""),
        ("no-such-file", "./tool", "./tool", "/usr/bin/pyhton3", "interpreter"),
        ("permission", "ssh host", "ssh", "", "login"),
    ]
    assert m.failures == len(got) and m.last_failure is failures[-1]


def test_python_tracebacks_run_from_the_shell():
    traceback = (
        "Traceback (most recent call last):\n"
        '  File "/home/ann/course/stats.py", line 12, in <module>\n'
        "    main()\n"
        '  File "/home/ann/course/stats.py", line 9, in main\n'
        "    print(totl)\n"
        "NameError: name 'totl' is not defined\n"
    )
    syntax = '  File "/home/ann/course/bad.py", line 2\n    print("a"\n         ^\nSyntaxError: \'(\' was never closed\n'
    _, failures = run(("python3 stats.py", traceback), ("python3 bad.py", syntax))
    (name_error, syntax_error) = failures
    assert (name_error.kind, name_error.ename, name_error.evalue) == (
        "python",
        "NameError",
        "name 'totl' is not defined",
    )
    assert (name_error.file, name_error.lineno) == ("/home/ann/course/stats.py", 9)
    assert (syntax_error.ename, syntax_error.file, syntax_error.lineno) == (
        "SyntaxError",
        "/home/ann/course/bad.py",
        2,
    )


def test_a_non_zero_exit_where_the_prompt_shows_it():
    prompt = "[$?] ~$ ".replace("$?", "0")
    m = TerminalMonitor("1")
    chunks = [prompt] + list("make") + ["\r\n", "make: *** No targets.  Stop.\r\n", "[2] ~$ "]
    chunks += list("true") + ["\r\n", "[0] ~$ "]
    (failure,) = feed_all(m, chunks)
    assert (failure.kind, failure.command, failure.exit_status, failure.line) == (
        "exit",
        "make",
        2,
        "make: *** No targets.  Stop.",
    )


def test_password_prompts_input_is_never_recorded():
    m = TerminalMonitor("1")
    chunks = [PROMPT] + list("sudo apt update") + ["\r\n", "[sudo] password for ann: "]
    chunks += ["\r\n", "Sorry, try again.\r\n", "[sudo] password for ann: ", "\r\n"]
    chunks += ["Hit:1 http://deb.debian.org/debian secret-output\r\n", PROMPT]
    # a program that echoes what is typed after its prompt
    chunks += list('read -p "Password: " pw; echo "you typed $pw"') + ["\r\n", "Password: "]
    chunks += list("hunter2") + ["\r\n", "you typed hunter2\r\n", PROMPT]
    chunks += [
        "ssh-add\r\n",
        "Enter passphrase for /home/ann/.ssh/id_ed25519: ",
        "\r\n",
        "Bad passphrase, try again: ",
    ]
    chunks += ["\r\n", "Identity added\r\n", PROMPT]
    chunks += list("lss") + ["\r\n", "bash: lss: command not found\r\n", PROMPT]
    failures = feed_all(m, chunks)
    kept = "\n".join(m.tail)
    assert "hunter2" not in kept and "secret-output" not in kept and "Identity added" not in kept
    assert "Sorry, try again" not in kept
    assert f"[sudo] password for ann: {HIDDEN}" in kept and f"Password: {HIDDEN}" in kept
    assert f"Enter passphrase for /home/ann/.ssh/id_ed25519: {HIDDEN}" in kept
    # the secrecy ends at the next shell prompt: the failure after it is seen
    assert [(f.kind, f.target) for f in failures] == [("not-found", "lss")]
    assert not m.secret


def test_secrets_on_the_command_line_are_hidden():
    assert redact("mysql -u root -phunter2 db") == "mysql -u root -p[hidden] db"
    assert redact("curl --token=abc123 x") == "curl --token=[hidden] x"
    assert redact("export API_KEY=sk-123 && run") == "export API_KEY=[hidden] && run"
    m, _ = run(("GITHUB_TOKEN=ghp_123 ./deploy.sh", ""))
    assert "ghp_123" not in "\n".join(m.tail)


def test_the_tail_is_bounded_and_floods_are_skipped_safely():
    m = TerminalMonitor("1", tail_lines=50)
    feed_all(m, session(("yes", "y\n" * 5000)))
    assert len(m.tail) == 50
    skipped = Skipped()
    skipped.add("y\r\n" * 1000 + "bash: lss: command not found\r\n" + "y\r\n" * 1000)
    assert skipped.lines == ["bash: lss: command not found"] and not skipped.secret
    skipped.add("lots of output\r\nPassword: typed\r\nbash: after: command not found\r\n")
    assert skipped.secret and skipped.lines == ["bash: lss: command not found"]
    m.skip(skipped)  # a password prompt in what the tutor did not read
    assert m.secret and "bash: lss: command not found" in m.tail
    m.feed("typed-secret\r\n")
    assert "typed-secret" not in "\n".join(m.tail)


def test_typing_at_the_prompt_is_not_a_new_prompt():
    m = TerminalMonitor("1")
    failures = feed_all(
        m,
        [
            PROMPT,
            "cat notes.txt > ",
            "copy.txt",
            "\r\n",
            "cat: notes.txt: No such file or directory\r\n",
            PROMPT,
        ],
    )
    assert [(f.command, f.target) for f in failures] == [("cat notes.txt > copy.txt", "notes.txt")]


def test_commands_typed_ahead_of_the_prompt():
    m = TerminalMonitor("1")
    chunks = [PROMPT, "echo hi\r\n", "hi\r\n" + PROMPT + "lss\r\nbash: lss: command not found\r\n", PROMPT]
    assert [(f.command, f.target) for f in feed_all(m, chunks)] == [("lss", "lss")]


def test_without_a_recognised_prompt_lines_are_judged_one_by_one():
    m = TerminalMonitor("1")
    failures = feed_all(m, ["weird> lss\r\n", "lss: command not found\r\n"])
    assert [(f.kind, f.target) for f in failures] == [("not-found", "lss")]


def test_a_block_with_no_failure():
    assert detect(Block("ls", exit_status=0)) is None
    assert detect(Block("ls")) is None


def failure(kind, **kw):
    return Failure(kind, kw.pop("command", ""), kw.pop("line", ""), **kw)


@pytest.mark.parametrize(
    "f, around, expected",
    [
        (failure("not-found", command="lss", target="lss"), hints.Around(), ["`lss`"]),
        (
            failure("permission", command="./run.sh", program="bash", target="./run.sh", action="run"),
            hints.Around(),
            ["`./run.sh`", "permission denied"],
        ),
        (
            failure("no-such-file", command="cat notes.txt", program="cat", target="notes.txt"),
            hints.Around(cwd="/home/ann"),
            ["`cat`", "`notes.txt`", "`/home/ann`"],
        ),
        (
            failure("python", command="python3 s.py", ename="NameError", file="s.py", lineno=3),
            hints.Around(),
            ["`NameError`", "line 3 of `s.py`"],
        ),
        (
            failure("exit", command="make", program="make", exit_status=2),
            hints.Around(),
            ["`make`", "exit status 2"],
        ),
    ],
)
def test_each_failure_has_a_specific_nudge(f, around, expected):
    text = hints.hint(f, 1, around)
    assert text.startswith("**Nudge**")
    for piece in expected:
        assert piece in text
    assert "**more help**" in text


def test_the_ladder_climbs_to_specifics_then_an_explanation(tmp_path):
    (tmp_path / "notes.txt").write_text("x")
    (tmp_path / "run.sh").write_text("echo hi")
    missing = failure("no-such-file", command="cat note.txt", program="cat", target="note.txt")
    around = hints.look_around(missing, str(tmp_path))
    assert around.similar_file == "notes.txt"
    assert "there is `notes.txt`" in hints.hint(missing, 2, around)
    assert hints.hint(missing, 3, around).startswith("**Explanation**")
    local = failure("not-found", command="run.sh", target="run.sh")
    assert "`./run.sh`" in hints.hint(local, 2, hints.look_around(local, str(tmp_path)))
    typo = failure("not-found", command="pyhton3 x.py", target="pyhton3")
    around = hints.look_around(typo, str(tmp_path))
    assert around.similar_command is not None and "Did you mean" in hints.hint(typo, 2, around)
    denied = failure("permission", command="./run.sh", program="bash", target="run.sh", action="run")
    around = hints.look_around(denied, str(tmp_path))
    assert around.mode == "-rw-r--r--" or around.mode.startswith("-rw")
    assert "execute" in hints.hint(denied, 2, around) and "chmod u+x" in hints.hint(denied, 3, around)
    assert "more help" not in hints.hint(denied, 3, around)


def test_bracketed_paste_marks_prompts_even_in_one_read():
    # bash >= 5.1 turns bracketed paste on before each prompt: prompt and typed-ahead command in one read
    on, off = "\x1b[?2004h", "\x1b[?2004l\r"
    m = TerminalMonitor("1")
    chunks = [
        on + "bash-5.2$ ",
        "PS1='[$?] \\w\\$ '\r\n" + off + on + "[0] ~/course$ (exit 3)\r\n" + off + on + "[3] ~/course$ ",
    ]
    (failure,) = feed_all(m, chunks)
    assert (failure.command, failure.exit_status) == ("(exit 3)", 3)
    # a password prompt's secrecy ends at the next prompt readline draws, even in the same read
    chunks = ['read -p "Password: " pw; echo "$pw"; lss\r\n', "Password: ", "hunter2\r\n"]
    chunks += [
        "hunter2\r\nbash: lss: command not found\r\n"
        + off
        + on
        + "[127] ~/course$ lss2\r\nbash: lss2: command not found\r\n"
    ]
    chunks += [off + on + "[127] ~/course$ "]
    failures = feed_all(m, chunks)
    assert [f.target for f in failures] == ["lss2"]
    assert "hunter2" not in "\n".join(m.tail)
