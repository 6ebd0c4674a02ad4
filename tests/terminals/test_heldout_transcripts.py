"""Held-out transcripts: terminal-failure detection and hints on sessions the code was not tuned on.

Every transcript is what a real shell writes to its PTY. The messages and most byte layouts were
captured from real programs on Debian 12 (bash 5.2.15 with bracketed paste, zsh 5.9 without rc
files, python3 3.11.2, pip 23.0.1 in a venv, git 2.39.5, coreutils 9.1, sudo 1.9.13) driven through
a PTY, then copied here with the scratch folder renamed to ``/home/ann/course``.

Three kinds of check:

* ``test_detection``: the failures the monitor reports (kind and key fields), or none, and that a
  typed secret never reaches anything the monitor keeps.
* ``test_hints``: for each detected failure, three hint levels; level 1 names the culprit token and
  no level contains a secret.
* ``test_judgement_*``: expectations that are a judgement call (an unclassified error seen without an
  exit status, a failure inside a password block, a hint that gives away the fixed command line).

Written apart from the monitor and the hints, by someone who had not read them. Their first run
failed 13 transcripts' detection and 7 hint checks; the code was fixed where the case was fair and
the fix in reach (absolute paths, zsh, `less`, errors inside scripts, library frames, `python -c`,
false positives in `echo` and `git log`). ``GAPS`` and ``DECIDED`` list the rest, as strict xfails.
"""

import dataclasses
import re

import pytest

from ltt_ext.terminals import hints
from ltt_ext.terminals.monitor import TerminalMonitor, feed_all

# ---------------------------------------------------------------------------------------------------
# How shells write to the PTY
# ---------------------------------------------------------------------------------------------------

# Debian's /etc/skel/.bashrc colour prompt with the xterm window title (OSC 0), in ~/course
DEBIAN = "\x1b]0;ann@box: ~/course\x07\x1b[01;32mann@box\x1b[00m:\x1b[01;34m~/course\x1b[00m$ "
VENV = "(venv) " + DEBIAN  # what venv's activate script puts in front of PS1
PLAIN = "$ "
ROOT = "root@box:/srv/www# "  # Debian root: PS1 from /etc/bash.bashrc, no colour


def STATUS(status):
    """PS1='[$?] $ ': the exit status of the previous command."""
    return f"[{status}] $ "


def VENV_STATUS(status):
    return f"(venv) [{status}] $ "


BP_ON, BP_OFF = "\x1b[?2004h", "\x1b[?2004l\r"  # bash 5.2 bracketed paste around each command


def bash(*steps, prompt=DEBIAN, bracketed=True):
    """Chunks as bash writes them: the prompt, the echo of each typed key, Enter, the output, the next
    prompt. A step is (command, output) or (command, output, exit status shown by the next prompt)."""

    def draw(status):
        text = prompt(status) if callable(prompt) else prompt
        return BP_ON + text if bracketed else text

    chunks = [draw(0)]
    for step in steps:
        command, output = step[0], step[1]
        status = step[2] if len(step) > 2 else 0
        chunks += list(command)
        chunks.append("\r\n" + BP_OFF if bracketed else "\r\n")
        if output:
            chunks.append(output.replace("\n", "\r\n"))
        chunks.append(draw(status))
    return chunks


# zsh 5.9 (zsh -f, PS1='box%# ', 80 columns), byte for byte as captured: PROMPT_SP's reverse-video
# '%' and 79 spaces, the prompt, bracketed paste; ZLE echoes the first key, then redraws it with the
# second one ("g", "\bgt")
ZSH_PROMPT = (
    "\x1b[1m\x1b[7m%\x1b[27m\x1b[1m\x1b[0m"
    + " " * 79
    + "\r \r\r\x1b[0m\x1b[27m\x1b[24m\x1b[Jbox% \x1b[K\x1b[?2004h"
)


def zsh(*steps):
    chunks = [ZSH_PROMPT]
    for command, output in steps:
        chunks += [command[0], "\b" + command[:2], *command[2:]]
        chunks.append("\x1b[?2004l\r\r\n")
        if output:
            chunks.append(output.replace("\n", "\r\n"))
        chunks.append(ZSH_PROMPT)
    return chunks


def rechunk(chunks, sizes):
    """The same bytes, read in other pieces: sizes are used in turn, cyclically."""
    text, out, i, k = "".join(chunks), [], 0, 0
    while i < len(text):
        n = sizes[k % len(sizes)]
        out.append(text[i : i + n])
        i, k = i + n, k + 1
    return out


def split_at(chunks, *markers):
    """Split the joined bytes just after each marker (marker given as (text, offset-in-text))."""
    text = "".join(chunks)
    cuts = sorted({text.index(m) + off for m, off in markers})
    pieces, start = [], 0
    for cut in cuts:
        pieces.append(text[start:cut])
        start = cut
    pieces.append(text[start:])
    return pieces


# ---------------------------------------------------------------------------------------------------
# Real program outputs (Debian 12)
# ---------------------------------------------------------------------------------------------------

NAME_ERROR = """Traceback (most recent call last):
  File "/home/ann/course/stats.py", line 15, in <module>
    main()
  File "/home/ann/course/stats.py", line 12, in main
    print(mean([3, 4, 5]))
          ^^^^^^^^^^^^^^^
  File "/home/ann/course/stats.py", line 8, in mean
    return totl / len(values)
           ^^^^
NameError: name 'totl' is not defined. Did you mean: 'total'?
"""

ZERO_DIVISION = """Traceback (most recent call last):
  File "/home/ann/course/divide.py", line 3, in <module>
    average = sum(scores) / count
              ~~~~~~~~~~~~^~~~~~~
ZeroDivisionError: division by zero
"""

SYNTAX_ERROR = """  File "/home/ann/course/bad.py", line 2
    print("Hello, " + name
         ^
SyntaxError: '(' was never closed
"""

INDENTATION_ERROR = """  File "/home/ann/course/indent.py", line 2
    print("Hello", name)
    ^
IndentationError: expected an indented block after function definition on line 1
"""

C_ZERO_DIVISION = """Traceback (most recent call last):
  File "<string>", line 1, in <module>
ZeroDivisionError: division by zero
"""

C_SYNTAX_ERROR = """  File "<string>", line 1
    print('hi'
         ^
SyntaxError: '(' was never closed
"""

C_MODULE_NOT_FOUND = """Traceback (most recent call last):
  File "<string>", line 1, in <module>
ModuleNotFoundError: No module named 'reqeusts'
"""

C_PERMISSION_ERROR = """Traceback (most recent call last):
  File "<string>", line 1, in <module>
PermissionError: [Errno 13] Permission denied: '/etc/shadow'
"""

FILE_NOT_FOUND = """Traceback (most recent call last):
  File "/home/ann/course/readcsv.py", line 3, in <module>
    with open("measurements.csv") as f:
         ^^^^^^^^^^^^^^^^^^^^^^^^
FileNotFoundError: [Errno 2] No such file or directory: 'measurements.csv'
"""

JSON_ERROR = """Traceback (most recent call last):
  File "/home/ann/course/load.py", line 4, in <module>
    config = json.load(f)
             ^^^^^^^^^^^^
  File "/usr/lib/python3.11/json/__init__.py", line 293, in load
    return loads(fp.read(),
           ^^^^^^^^^^^^^^^^
  File "/usr/lib/python3.11/json/__init__.py", line 346, in loads
    return _default_decoder.decode(s)
           ^^^^^^^^^^^^^^^^^^^^^^^^^^
  File "/usr/lib/python3.11/json/decoder.py", line 337, in decode
    obj, end = self.raw_decode(s, idx=_w(s, 0).end())
               ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
  File "/usr/lib/python3.11/json/decoder.py", line 353, in raw_decode
    obj, end = self.scan_once(s, idx)
               ^^^^^^^^^^^^^^^^^^^^^^
json.decoder.JSONDecodeError: Expecting property name enclosed in double quotes: line 1 column 17 (char 16)
"""

TRAIN_OUTPUT = "".join(f"epoch {e:3d} loss {1.0 / e:.4f}\n" for e in range(1, 301)) + (
    "Traceback (most recent call last):\n"
    '  File "/home/ann/course/train.py", line 6, in <module>\n'
    "    ratio = losses[-1] / (losses[0] - 1.0)\n"
    "            ~~~~~~~~~~~^~~~~~~~~~~~~~~~~~~\n"
    "ZeroDivisionError: float division by zero\n"
)

BIG_LOG = "".join(f"INFO request {i} served in 12ms\n" for i in range(1, 301))

# pip 23.0.1 in a venv, colours as written to a TTY (the reset of the last colour lands after \r\n)
PIP_MISSPELT = (
    "\x1b[31mERROR: Could not find a version that satisfies the requirement reqeusts (from versions: none)"
    "\x1b[0m\x1b[31m\r\n\x1b[0m\x1b[31mERROR: No matching distribution found for reqeusts\x1b[0m\x1b[31m\r\n\x1b[0m"
)

# Debian 12's system pip outside a venv (PEP 668), as written to a TTY
PIP_EXTERNALLY_MANAGED = (
    "\x1b[1;31merror\x1b[0m: \x1b[1mexternally-managed-environment\x1b[0m\n"
    "\n"
    "\x1b[31m×\x1b[0m This environment is externally managed\n"
    "\x1b[31m╰─>\x1b[0m To install Python packages system-wide, try apt install\n"
    "\x1b[31m   \x1b[0m python3-xyz, where xyz is the package you are trying to\n"
    "\x1b[31m   \x1b[0m install.\n"
    "\x1b[31m   \x1b[0m \n"
    "\x1b[31m   \x1b[0m If you wish to install a non-Debian-packaged Python package,\n"
    "\x1b[31m   \x1b[0m create a virtual environment using python3 -m venv path/to/venv.\n"
    "\x1b[31m   \x1b[0m Then use path/to/venv/bin/python and path/to/venv/bin/pip. Make\n"
    "\x1b[31m   \x1b[0m sure you have python3-full installed.\n"
    "\x1b[31m   \x1b[0m \n"
    "\x1b[31m   \x1b[0m If you wish to install a non-Debian packaged Python application,\n"
    "\x1b[31m   \x1b[0m it may be easiest to use pipx install xyz, which will manage a\n"
    "\x1b[31m   \x1b[0m virtual environment for you. Make sure you have pipx installed.\n"
    "\x1b[31m   \x1b[0m \n"
    "\x1b[31m   \x1b[0m See /usr/share/doc/python3.11/README.venv for more information.\n"
    "\n"
    "\x1b[1;35mnote\x1b[0m: If you believe this is a mistake, please contact your Python installation or OS "
    "distribution provider. You can override this, at the risk of breaking your Python installation or OS, "
    "by passing --break-system-packages.\n"
    "\x1b[1;36mhint\x1b[0m: See PEP 668 for the detailed specification.\n"
)

NOT_A_REPO = "fatal: not a git repository (or any of the parent directories): .git\n"

GIT_COMIT = "git: 'comit' is not a git command. See 'git --help'.\n\nThe most similar command is\n\tcommit\n"

# pytest 9 -q, three passing tests, coloured as on a TTY
PYTEST_PASS = (
    "\x1b[32m.\x1b[0m\x1b[32m.\x1b[0m\x1b[32m.\x1b[0m\x1b[32m"
    + " " * 70
    + "[100%]\x1b[0m\n\x1b[32m\x1b[32m\x1b[1m3 passed\x1b[0m\x1b[32m in 0.69s\x1b[0m\x1b[0m\n"
)

# `ls` with Debian's alias ls='ls --color=auto' in a folder holding a file named "not found.txt"
LS_COLOUR = (
    " bad.py        \x1b[0m\x1b[01;34mdata\x1b[0m        load.py          notes.txt    \x1b[01;32msetup.sh\x1b[0m\n"
    " big.log       \x1b[01;32mdeploy.sh\x1b[0m   log.txt          readcsv.py   stats.py\n"
    " config.json   divide.py   login.py         \x1b[01;34mrepo\x1b[0m         test_maths.py\n"
    " \x1b[01;32mcrlf.sh\x1b[0m       indent.py  'not found.txt'   script.sh    train.py\n"
)

APT_UPDATE = (
    "Hit:1 http://deb.debian.org/debian bookworm InRelease\n"
    "Hit:2 http://deb.debian.org/debian bookworm-updates InRelease\n"
    "Hit:3 http://deb.debian.org/debian-security bookworm-security InRelease\n"
    "Reading package lists... Done\n"
    "Building dependency tree... Done\n"
    "Reading state information... Done\n"
    "All packages are up to date.\n"
)

SECRET = "hunter2-Zq9"


def secret_sudo_session():
    """sudo as captured (no echo of the password; '\\r\\n' written by sudo), one wrong try, then apt;
    afterwards a typo at the next prompt."""
    chunks = [BP_ON + DEBIAN, *"sudo apt update", "\r\n" + BP_OFF]
    chunks += ["[sudo] password for ann: ", "\r\n", "Sorry, try again.\r\n[sudo] password for ann: ", "\r\n"]
    chunks += [APT_UPDATE.replace("\n", "\r\n"), BP_ON + DEBIAN]
    chunks += [*"sl", "\r\n" + BP_OFF, "bash: sl: command not found\r\n", BP_ON + DEBIAN]
    return chunks


def secret_sudo_same_block():
    """The command run by sudo fails after the (unechoed) password."""
    chunks = [BP_ON + DEBIAN, *"sudo cat /etc/shdow", "\r\n" + BP_OFF, "[sudo] password for ann: ", "\r\n"]
    chunks += ["cat: /etc/shdow: No such file or directory\r\n", BP_ON + DEBIAN]
    return chunks


def secret_sudo_three_wrong():
    chunks = [BP_ON + DEBIAN, *"sudo systemctl restart nginx", "\r\n" + BP_OFF]
    chunks += ["[sudo] password for ann: ", "\r\n", "Sorry, try again.\r\n[sudo] password for ann: ", "\r\n"]
    chunks += ["Sorry, try again.\r\n", "[sudo] password for ann: ", "\r\n"]
    chunks += ["sudo: 3 incorrect password attempts\r\n", BP_ON + DEBIAN]
    return chunks


def secret_echoed_input_traceback():
    """python's input('Password: ') echoes what is typed; the traceback then quotes it (captured)."""
    chunks = [BP_ON + DEBIAN, *"python3 login.py", "\r\n" + BP_OFF, "Password: "]
    chunks += [*SECRET, "\r\n"]
    chunks.append(
        (
            "Traceback (most recent call last):\n"
            '  File "/home/ann/course/login.py", line 2, in <module>\n'
            "    code = int(pin)\n"
            "           ^^^^^^^^\n"
            f"ValueError: invalid literal for int() with base 10: '{SECRET}'\n"
        ).replace("\n", "\r\n")
    )
    chunks += [
        BP_ON + DEBIAN,
        *"claer",
        "\r\n" + BP_OFF,
        "bash: claer: command not found\r\n",
        BP_ON + DEBIAN,
    ]
    return chunks


def secret_read_p_then_error():
    """A bash exercise: read without -s echoes the password, then it lands in an error message."""
    chunks = [PLAIN, *'read -p "Password: " pw; ls "$pw"', "\r\n", "Password: "]
    chunks += [*SECRET, "\r\n", f"ls: cannot access '{SECRET}': No such file or directory\r\n", PLAIN]
    chunks += [*"cd /nope", "\r\n", "bash: cd: /nope: No such file or directory\r\n", PLAIN]
    return chunks


def ssh_password_prompts():
    """ssh's own password prompt (no echo), three refusals."""
    chunks = [BP_ON + DEBIAN, *"ssh ann@10.0.0.5", "\r\n" + BP_OFF, "ann@10.0.0.5's password: ", "\r\n"]
    chunks += ["Permission denied, please try again.\r\n", "ann@10.0.0.5's password: ", "\r\n"]
    chunks += ["Permission denied, please try again.\r\n", "ann@10.0.0.5's password: ", "\r\n"]
    chunks += ["ann@10.0.0.5: Permission denied (publickey,password).\r\n", BP_ON + DEBIAN]
    chunks += [*"gti log", "\r\n" + BP_OFF, "bash: gti: command not found\r\n", BP_ON + DEBIAN]
    return chunks


# Sessions captured as the reads came (bash 5.2 in a PTY, 80 columns)

EDITED_LINE = [  # typed "ct notes.md", Ctrl-A, Ctrl-F, "a": readline's cursor moves and insert-char
    BP_ON + DEBIAN,
    *"ct notes.md",
    "\b" * 11,
    "\x1b[C",
    "\x1b[1@a",
    "\r\n" + BP_OFF,
    "cat: ",
    "notes.md: No such file or directory\r\n",
    BP_ON + DEBIAN,
]

TAB_COMPLETED = [  # "head -n 3 con" + Tab completes "fig.json ", then "x"
    BP_ON,
    DEBIAN,
    *"head -n 3 con",
    "fig.json ",
    "x",
    "\r\n" + BP_OFF,
    '==> config.json <==\r\n{"name": "demo",}\r\n',
    "head: cannot open 'x' for reading",
    ": No such file or directory\r\n",
    BP_ON,
    DEBIAN,
]

HISTORY_UP = [  # the same command again with the Up arrow: readline draws it in one write
    BP_ON + DEBIAN,
    *"cat missing.txt",
    "\r\n" + BP_OFF,
    "cat: missing.txt: No such file or directory\r\n",
    BP_ON + DEBIAN,
    "cat missing.txt",
    "\r\n" + BP_OFF,
    "cat: ",
    "missing.txt: No such file or directory\r\n",
    BP_ON,
    DEBIAN,
]

TYPE_AHEAD = [  # "cat missing.txt⏎" typed while `sleep 2` ran: the tty echoes it, readline redraws it
    BP_ON + DEBIAN,
    *"sleep 2",
    "\r\n" + BP_OFF,
    "cat missing.txt\r\n",
    BP_ON + DEBIAN + "cat missing.txt\r\n" + BP_OFF,
    "cat: missing.txt: No such file or directory\r\n",
    BP_ON + DEBIAN,
]

LEFT_ARROW_FIX = [  # typed "python3 sats.py", Left x6, "t": readline rewrites the tail and steps back
    BP_ON,
    DEBIAN,
    *"python3 sats.py",
    *["\b"] * 6,
    "tats.py\b\b\b\b\b\b",
    "\r\n",
    BP_OFF,
    "Traceback (most recent call last):\r\n",
    '  File "/home/ann/course/stats.py", line 15, in <module>\r\n',
    "    ",
    "main()",
    "\r\n",
    '  File "/home/ann/course/stats.py", line 12, in main\r\n',
    "    ",
    "print(mean([3, 4, 5]))",
    "\r\n",
    *[" "] * 10,
    "^",
    "^",
    "^",
    "^^^^^^^^^^^^\r\n"
    '  File "/home/ann/course/stats.py", line 8, in mean\r\n'
    "    return totl / len(values)\r\n"
    "           ^^^^\r\n"
    "NameError: name 'totl' is not defined. Did you mean: 'total'?\r\n",
    BP_ON,
    DEBIAN,
]

LONG_COMMAND = "python3 /home/ann/course/week1/exercises/analyse_measurements.py --input data.csv"
WRAPPED_LINE = [  # 80 columns: readline writes " \r" after the character that fills the line
    BP_ON + DEBIAN,
    *LONG_COMMAND[:61],
    LONG_COMMAND[61] + " \r",
    *LONG_COMMAND[62:],
    "\r\n" + BP_OFF,
    "python3: can't open file '/home/ann/course/week1/exercises/analyse_measurements.py': "
    "[Errno 2] No such file or directory\r\n",
    BP_ON + DEBIAN,
]

CTRL_C_THEN_TYPO = [  # "rm -rf build" abandoned with Ctrl-C, an empty `ls data`, then a typo
    BP_ON + DEBIAN,
    "rm -rf build",
    "^C",
    BP_OFF,
    BP_ON,
    BP_OFF,
    "\r\n",
    BP_ON,
    DEBIAN,
    "ls data\r\n" + BP_OFF,
    BP_ON + DEBIAN,
    *"sl",
    "\r\n" + BP_OFF,
    "bash: sl: command not found\r\n",
    BP_ON + DEBIAN,
]

LESS_THEN_TYPO = [  # less on the alternate screen, q, then a misspelt file name
    BP_ON + DEBIAN,
    "less notes.txt\r\n" + BP_OFF,
    "\x1b[?1049h\x1b[22;0;0t\x1b[?1h\x1b=\rbuy milk\r\n\x1b[7mnotes.txt (END)\x1b[27m\x1b[K",
    "\r\x1b[K\x1b[?1l\x1b>\x1b[?1049l\x1b[23;0;0t",
    BP_ON + DEBIAN,
    "cat mising.txt\r\n" + BP_OFF,
    "cat: ",
    "mising.txt",
    ": No such file or directory",
    "\r\n",
    BP_ON + DEBIAN,
]

PYTHON_REPL = [
    BP_ON + DEBIAN,
    "python3\r\n" + BP_OFF,
    "Python 3.11.2 (main, Apr 28 2025, 14:11:48) [GCC 12.2.0] on linux\r\n"
    'Type "help", "copyright", "credits" or "license" for more information.\r\n>>> ',
    "nums = [1, 2, 3]\r\n>>> ",
    "n",
    "ums[3]\r\nTraceback (most recent call last):\r\n"
    '  File "<stdin>", line 1, in <module>\r\nIndexError: list index out of range\r\n>>> ',
    "e",
    "xit()\r\n",
    BP_ON + DEBIAN,
]

CAT_MISSING = bash(("cat missing.txt", "cat: missing.txt: No such file or directory\n"))


def every_split_point():
    """One case, many feeds: the session cut into two reads at every position."""
    text = "".join(bash(("sl", "bash: sl: command not found\n")))
    return [[text[:i], text[i:]] for i in range(1, len(text))]


# ---------------------------------------------------------------------------------------------------
# The cases
# ---------------------------------------------------------------------------------------------------


def F(kind, **fields):
    """An expected failure. Special keys: culprit (tokens level 1 must name; re: for a regex),
    line_has (a substring of Failure.line), fixed (the fixed command line, judgement only)."""
    fields["kind"] = kind
    return fields


@dataclasses.dataclass
class Case:
    chunks: list  # one session, or a list of sessions when feeds is True
    expect: list  # expected failures, in order ([] for none)
    secret: str = ""  # a typed secret that must never be kept
    ignore_commands: tuple = ()  # commands inside a password block: judged separately
    judge: list | None = None  # judgement expectations (see test_judgement_detection)
    feeds: bool = False


CASES = {
    # --- typos of common commands ---------------------------------------------------------------
    "typo-sl": Case(
        bash(("sl", "bash: sl: command not found\n")), [F("not-found", command="sl", target="sl")]
    ),
    "typo-pyhton": Case(
        bash(("pyhton x.py", "bash: pyhton: command not found\n")),
        [F("not-found", command="pyhton x.py", target="pyhton", fixed=["python x.py", "python3 x.py"])],
    ),
    "typo-gti": Case(
        bash(("gti status", "bash: gti: command not found\n")),
        [F("not-found", command="gti status", target="gti", fixed=["git status"])],
    ),
    "typo-cd-dotdot": Case(
        bash(("cd..", "bash: cd..: command not found\n")),
        [F("not-found", command="cd..", target="cd..", fixed=["cd .."])],
    ),
    "typo-claer-plain-prompt": Case(
        bash(("claer", "bash: claer: command not found\n"), prompt=PLAIN, bracketed=False),
        [F("not-found", command="claer", target="claer")],
    ),
    "typo-ls-l": Case(
        bash(("ls-l", "bash: ls-l: command not found\n")),
        [F("not-found", command="ls-l", target="ls-l", fixed=["ls -l"])],
    ),
    # --- cd -----------------------------------------------------------------------------------------
    "cd-missing-absolute": Case(
        bash(("cd /var/www/htlm", "bash: cd: /var/www/htlm: No such file or directory\n")),
        [F("no-such-file", command="cd /var/www/htlm", program="cd", target="/var/www/htlm")],
    ),
    "cd-missing-relative": Case(
        bash(("cd Documents/projcts", "bash: cd: Documents/projcts: No such file or directory\n")),
        [F("no-such-file", program="cd", target="Documents/projcts")],
    ),
    "cd-into-a-file": Case(
        bash(("cd notes.txt", "bash: cd: notes.txt: Not a directory\n")),
        [F("no-such-file", program="cd", target="notes.txt")],
    ),
    # --- reading missing files ------------------------------------------------------------------
    "cat-missing": Case(CAT_MISSING, [F("no-such-file", program="cat", target="missing.txt")]),
    "head-missing": Case(
        bash(("head -n 5 data.csv", "head: cannot open 'data.csv' for reading: No such file or directory\n")),
        [F("no-such-file", program="head", target="data.csv")],
    ),
    "less-missing": Case(
        bash(("less notes.md", "notes.md: No such file or directory\n")),
        [F("no-such-file", command="less notes.md", target="notes.md", fixed=["less notes.txt"])],
    ),
    # --- permissions ----------------------------------------------------------------------------------
    "script-without-x-bit": Case(
        bash(("./script.sh", "bash: ./script.sh: Permission denied\n")),
        [
            F(
                "permission",
                target="./script.sh",
                action="run",
                culprit=["script.sh"],
                fixed=[
                    "chmod +x script.sh",
                    "chmod u+x script.sh",
                    "chmod +x ./script.sh",
                    "chmod u+x ./script.sh",
                ],
            )
        ],
    ),
    "ls-root-plain-prompt": Case(
        bash(("ls -l /root", "ls: cannot open directory '/root': Permission denied\n"), prompt=PLAIN),
        [F("permission", program="ls", target="/root")],
    ),
    "touch-in-etc": Case(
        bash(("touch /etc/hosts.bak", "touch: cannot touch '/etc/hosts.bak': Permission denied\n")),
        [F("permission", program="touch", target="/etc/hosts.bak")],
    ),
    "cp-into-usr-local": Case(
        bash(
            (
                "cp notes.txt /usr/local/share/",
                "cp: cannot create regular file '/usr/local/share/notes.txt': Permission denied\n",
            )
        ),
        [F("permission", program="cp", target="/usr/local/share/notes.txt")],
    ),
    # --- python ---------------------------------------------------------------------------------------
    "python-name-error": Case(
        bash(("python3 stats.py", NAME_ERROR)),
        [
            F(
                "python",
                command="python3 stats.py",
                ename="NameError",
                evalue="name 'totl' is not defined. Did you mean: 'total'?",
                file="/home/ann/course/stats.py",
                lineno=8,
                culprit=["stats.py", r"re:\b8\b", "NameError"],
            )
        ],
    ),
    "python-zero-division": Case(
        bash(("python3 divide.py", ZERO_DIVISION)),
        [
            F(
                "python",
                ename="ZeroDivisionError",
                evalue="division by zero",
                file="/home/ann/course/divide.py",
                lineno=3,
                culprit=["divide.py", r"re:\b3\b"],
            )
        ],
    ),
    "python-syntax-error-no-traceback-header": Case(
        bash(("python3 bad.py", SYNTAX_ERROR)),
        [
            F(
                "python",
                ename="SyntaxError",
                evalue="'(' was never closed",
                file="/home/ann/course/bad.py",
                lineno=2,
                culprit=["bad.py", r"re:\b2\b"],
            )
        ],
    ),
    "python-indentation-error": Case(
        bash(("python3 indent.py", INDENTATION_ERROR)),
        [
            F(
                "python",
                ename="IndentationError",
                file="/home/ann/course/indent.py",
                lineno=2,
                culprit=["indent.py", r"re:\b2\b"],
            )
        ],
    ),
    "python-c-zero-division": Case(
        bash(('python3 -c "print(10 / 0)"', C_ZERO_DIVISION)),
        [F("python", ename="ZeroDivisionError", file="<string>", lineno=1, culprit=["ZeroDivisionError"])],
    ),
    "python-c-syntax-error": Case(
        bash(("python3 -c \"print('hi'\"", C_SYNTAX_ERROR)),
        [
            F(
                "python",
                ename="SyntaxError",
                evalue="'(' was never closed",
                file="<string>",
                lineno=1,
                culprit=["SyntaxError"],
            )
        ],
    ),
    "python-c-module-not-found": Case(
        bash(('python3 -c "import reqeusts"', C_MODULE_NOT_FOUND)),
        [
            F(
                "python",
                ename="ModuleNotFoundError",
                evalue="No module named 'reqeusts'",
                lineno=1,
                culprit=["reqeusts"],
            )
        ],
    ),
    "python-c-permission-error": Case(
        bash(("python3 -c 'open(\"/etc/shadow\")'", C_PERMISSION_ERROR), prompt=PLAIN),
        [F("python", ename="PermissionError", file="<string>", lineno=1, culprit=["PermissionError"])],
    ),
    "python-file-not-found-in-script": Case(
        bash(("python3 readcsv.py", FILE_NOT_FOUND)),
        [
            F(
                "python",
                ename="FileNotFoundError",
                file="/home/ann/course/readcsv.py",
                lineno=3,
                culprit=["readcsv.py", r"re:\b3\b"],
            )
        ],
    ),
    "python-traceback-ends-in-the-stdlib": Case(
        bash(("python3 load.py", JSON_ERROR)),
        [
            F(
                "python",
                ename=("json.decoder.JSONDecodeError", "JSONDecodeError"),
                file="/home/ann/course/load.py",  # the learner's line, not json/decoder.py's
                lineno=4,
                culprit=["JSONDecodeError"],
            )
        ],
    ),
    "python-script-missing": Case(
        bash(
            (
                "python3 mian.py",
                "python3: can't open file '/home/ann/course/mian.py': [Errno 2] No such file or directory\n",
            )
        ),
        [F("no-such-file", program="python3", target="/home/ann/course/mian.py", culprit=["mian.py"])],
    ),
    "python-repl-index-error": Case(
        PYTHON_REPL,
        [
            F(
                "python",
                ename="IndexError",
                evalue="list index out of range",
                file="<stdin>",
                lineno=1,
                culprit=["IndexError"],
            )
        ],
    ),
    # --- pip, git, coreutils with the exit status in the prompt ---------------------------------
    "pip-misspelt-status-prompt": Case(
        bash(("pip install reqeusts", PIP_MISSPELT, 1), prompt=VENV_STATUS),
        [F("exit", program="pip", exit_status=1, culprit=["pip"])],
    ),
    "git-status-outside-repo-status-prompt": Case(
        bash(("git status", NOT_A_REPO, 128), prompt=STATUS),
        [F("exit", program="git", exit_status=128, line_has="not a git repository", culprit=["git"])],
    ),
    "mkdir-existing-status-prompt": Case(
        bash(("mkdir data", "mkdir: cannot create directory ‘data’: File exists\n", 1), prompt=STATUS),
        [F("exit", program="mkdir", exit_status=1, line_has="File exists", culprit=["mkdir"])],
    ),
    "not-found-with-status-127-is-still-not-found": Case(
        bash(("ls", "notes.txt\n", 0), ("gti status", "bash: gti: command not found\n", 127), prompt=STATUS),
        [F("not-found", target="gti")],
    ),
    "checker-script-fails-status-prompt": Case(
        bash(
            (
                "bash check.sh",
                "checking exercise 1... ok\nchecking exercise 2... FAIL: expected 42, got 41\n",
                1,
            ),
            prompt=STATUS,
            bracketed=False,
        ),
        [F("exit", exit_status=1, culprit=["check.sh"])],
    ),
    # --- coreutils without a status ---------------------------------------------------------------
    "rm-missing": Case(
        bash(("rm missing.txt", "rm: cannot remove 'missing.txt': No such file or directory\n")),
        [F("no-such-file", program="rm", target="missing.txt")],
    ),
    "chmod-missing": Case(
        bash(("chmod +x run.sh", "chmod: cannot access 'run.sh': No such file or directory\n")),
        [F("no-such-file", program="chmod", target="run.sh")],
    ),
    "redirect-into-missing-folder": Case(
        bash(("echo hi > out/log.txt", "bash: out/log.txt: No such file or directory\n")),
        [F("no-such-file", target="out/log.txt")],
    ),
    "bash-missing-script": Case(
        bash(("bash run.sh", "bash: run.sh: No such file or directory\n")),
        [F("no-such-file", target="run.sh")],
    ),
    "source-missing-venv": Case(
        bash(("source venv/bin/activate", "bash: venv/bin/activate: No such file or directory\n")),
        [F("no-such-file", target="venv/bin/activate")],
    ),
    "script-with-crlf-line-ends-bash52": Case(
        bash(("./crlf.sh", "bash: ./crlf.sh: cannot execute: required file not found\n")),
        [F("no-such-file", target="./crlf.sh", culprit=["crlf.sh"])],
    ),
    "error-inside-a-script-cd": Case(
        bash(
            ("./setup.sh", "Setting up...\n./setup.sh: line 3: cd: build: No such file or directory\ndone\n")
        ),
        [F("no-such-file", target="build", culprit=["build", "setup.sh"])],
    ),
    "error-inside-a-script-not-found": Case(
        bash(("./deploy.sh", "Deploying site\n./deploy.sh: line 3: rsycn: command not found\nfinished\n")),
        [F("not-found", target="rsycn", culprit=["rsycn", "deploy.sh"])],
    ),
    # --- long outputs -----------------------------------------------------------------------------
    "long-output-then-cat-error": Case(
        bash(("cat big.log missing.log", BIG_LOG + "cat: missing.log: No such file or directory\n")),
        [F("no-such-file", program="cat", target="missing.log")],
    ),
    "long-output-then-traceback": Case(
        bash(("python3 train.py", TRAIN_OUTPUT)),
        [
            F(
                "python",
                ename="ZeroDivisionError",
                evalue="float division by zero",
                file="/home/ann/course/train.py",
                lineno=6,
                culprit=["train.py", r"re:\b6\b"],
            )
        ],
    ),
    "cat-error-then-long-output": Case(
        bash(("cat missing.log big.log", "cat: missing.log: No such file or directory\n" + BIG_LOG)),
        [F("no-such-file", program="cat", target="missing.log")],
    ),
    # --- odd reads ---------------------------------------------------------------------------------
    "odd-chunk-sizes": Case(
        rechunk(CAT_MISSING, [1, 7, 3, 13, 2, 29, 5]),
        [F("no-such-file", program="cat", target="missing.txt")],
    ),
    "split-inside-escapes-and-error-line": Case(
        split_at(
            CAT_MISSING,
            ("\x1b]0;", 2),  # inside the OSC introducer
            ("\x1b[01;32m", 5),  # inside a colour
            ("\x1b[?2004l", 4),  # inside bracketed paste off
            ("cat: missing.txt: No", 14),  # inside the error line, "missing.t|xt"
            (": No such file or directory\r", 27),  # between \r and \n
        ),
        [F("no-such-file", program="cat", target="missing.txt")],
    ),
    "every-two-read-split": Case(every_split_point(), [F("not-found", target="sl")], feeds=True),
    "python-traceback-in-4-char-reads": Case(
        rechunk(bash(("python3 stats.py", NAME_ERROR)), [4]),
        [F("python", ename="NameError", file="/home/ann/course/stats.py", lineno=8, culprit=["stats.py"])],
    ),
    "pip-colour-in-3-char-reads": Case(
        rechunk(bash(("pip install reqeusts", PIP_MISSPELT, 1), prompt=VENV_STATUS), [3]),
        [F("exit", program="pip", exit_status=1, culprit=["pip"])],
    ),
    # --- sessions as captured (readline editing, tab, history, type-ahead, wrap, alt screen) ----
    "readline-edited-line": Case(EDITED_LINE, [F("no-such-file", command="cat notes.md", target="notes.md")]),
    "left-arrow-fixed-line": Case(
        LEFT_ARROW_FIX,
        [
            F(
                "python",
                command="python3 stats.py",
                ename="NameError",
                file="/home/ann/course/stats.py",
                lineno=8,
                culprit=["stats.py"],
            )
        ],
    ),
    "tab-completed-line": Case(
        TAB_COMPLETED, [F("no-such-file", command="head -n 3 config.json x", program="head", target="x")]
    ),
    "history-up-arrow": Case(
        HISTORY_UP,
        [
            F("no-such-file", command="cat missing.txt", target="missing.txt"),
            F("no-such-file", command="cat missing.txt", target="missing.txt"),
        ],
    ),
    "type-ahead-during-sleep": Case(
        TYPE_AHEAD, [F("no-such-file", command="cat missing.txt", target="missing.txt")]
    ),
    "long-command-wrapped-by-readline": Case(
        WRAPPED_LINE,
        [
            F(
                "no-such-file",
                command=LONG_COMMAND,
                target="/home/ann/course/week1/exercises/analyse_measurements.py",
                culprit=["analyse_measurements.py"],
            )
        ],
    ),
    "ctrl-c-then-typo": Case(CTRL_C_THEN_TYPO, [F("not-found", command="sl", target="sl")]),
    "less-alt-screen-then-typo": Case(
        LESS_THEN_TYPO, [F("no-such-file", command="cat mising.txt", target="mising.txt")]
    ),
    # --- zsh (captured) ------------------------------------------------------------------------------
    "zsh-command-not-found": Case(
        zsh(("gti status", "zsh: command not found: gti\n")),
        [F("not-found", command="gti status", target="gti")],
    ),
    "zsh-cd-missing": Case(
        zsh(("cd /nope", "cd: no such file or directory: /nope\n")),
        [F("no-such-file", command="cd /nope", target="/nope")],
    ),
    "zsh-permission-denied": Case(
        zsh(("./script.sh", "zsh: permission denied: ./script.sh\n")),
        [F("permission", command="./script.sh", target="./script.sh", culprit=["script.sh"])],
    ),
    "zsh-missing-script": Case(
        zsh(("./nothere.sh", "zsh: no such file or directory: ./nothere.sh\n")),
        [F("no-such-file", target="./nothere.sh", culprit=["nothere.sh"])],
    ),
    "zsh-cd-into-a-file": Case(
        zsh(("cd notes.txt", "cd: not a directory: notes.txt\n")), [F("no-such-file", target="notes.txt")]
    ),
    # zsh's messages behind a simple "% " prompt and plain echo (no ZLE redraws): the wording alone
    "zsh-words-simple-prompt": Case(
        bash(
            ("cd /nope", "cd: no such file or directory: /nope\n"),
            ("./script.sh", "zsh: permission denied: ./script.sh\n"),
            ("./nothere.sh", "zsh: no such file or directory: ./nothere.sh\n"),
            ("gti status", "zsh: command not found: gti\n"),
            prompt="% ",
            bracketed=False,
        ),
        [
            F("no-such-file", command="cd /nope", target="/nope"),
            F("permission", command="./script.sh", target="./script.sh", culprit=["script.sh"]),
            F("no-such-file", command="./nothere.sh", target="./nothere.sh", culprit=["nothere.sh"]),
            F("not-found", command="gti status", target="gti"),
        ],
    ),
    # --- root prompt ---------------------------------------------------------------------------------
    "root-prompt-two-failures": Case(
        bash(
            ("ls", "index.html\n"),
            (
                "cat /etc/nginx/sites-enabled/defualt",
                "cat: /etc/nginx/sites-enabled/defualt: No such file or directory\n",
            ),
            ("ngnix -t", "bash: ngnix: command not found\n"),
            prompt=ROOT,
        ),
        [
            F("no-such-file", program="cat", target="/etc/nginx/sites-enabled/defualt", culprit=["defualt"]),
            F("not-found", command="ngnix -t", target="ngnix"),
        ],
    ),
    # --- password prompts ------------------------------------------------------------------------
    "sudo-then-typo": Case(secret_sudo_session(), [F("not-found", command="sl", target="sl")], secret=SECRET),
    "sudo-command-fails-after-password": Case(
        secret_sudo_same_block(),
        [],
        secret=SECRET,
        ignore_commands=("sudo cat /etc/shdow",),
        judge=[F("no-such-file", target="/etc/shdow")],
    ),
    "sudo-three-wrong-passwords": Case(
        secret_sudo_three_wrong(),
        [],
        secret=SECRET,
        ignore_commands=("sudo systemctl restart nginx",),
        judge=[F("permission")],
    ),
    "echoed-password-in-a-traceback": Case(
        secret_echoed_input_traceback(),
        [F("not-found", command="claer", target="claer")],
        secret=SECRET,
        ignore_commands=("python3 login.py",),
        judge=[F("python", ename="ValueError", file="/home/ann/course/login.py", lineno=2)],
    ),
    "echoed-password-in-an-error-line": Case(
        secret_read_p_then_error(),
        [F("no-such-file", target="/nope")],
        secret=SECRET,
        ignore_commands=('read -p "Password: " pw; ls "$pw"',),
        judge=[F("no-such-file")],
    ),
    "ssh-password-refused": Case(
        ssh_password_prompts(),
        [F("not-found", command="gti log", target="gti")],
        secret=SECRET,
        ignore_commands=("ssh ann@10.0.0.5",),
        judge=[F("permission")],
    ),
    # --- no failure -----------------------------------------------------------------------------------
    "ok-grep-count-error": Case(bash(("grep -c error log.txt", "3\n")), []),
    "ok-echo-error-words": Case(
        bash(('echo "No such file or directory"', "No such file or directory\n")), []
    ),
    "ok-pytest-passes": Case(bash(("pytest -q test_maths.py", PYTEST_PASS)), []),
    "ok-ls-shows-not-found-txt": Case(bash(("ls", LS_COLOUR)), []),
    "ok-git-status-clean": Case(
        bash(("git status", "On branch main\nnothing to commit, working tree clean\n"), prompt=PLAIN), []
    ),
    "ok-grep-notes-quoting-errors": Case(
        bash(
            (
                'grep -rn "command not found" notes/',
                "notes/week1.md:12:If you see `bash: sl: command not found`, check the spelling.\n"
                "notes/week1.md:30:zsh says `zsh: command not found: sl` instead.\n",
            )
        ),
        [],
    ),
    "ok-status-prompt-zero": Case(
        bash(
            ("cat notes.txt", "buy milk\n", 0),
            ("grep -c error log.txt", "3\n", 0),
            ("python3 -c \"print('error count: 0')\"", "error count: 0\n", 0),
            prompt=STATUS,
        ),
        [],
    ),
    "ok-git-log-mentions-fix": Case(
        bash(
            (
                "git log --oneline -3",
                "3f2a9c1 Fix 'No such file or directory' when data.csv is missing\n"
                "9b1e004 Handle Permission denied on /var/log\n"
                "a1c22d7 Initial commit\n",
            ),
            prompt=ROOT,
        ),
        [],
    ),
    # --- judgement: an error without a status in the prompt -----------------------------------
    "pip-misspelt-no-status": Case(
        bash(("pip install reqeusts", PIP_MISSPELT), prompt=VENV),
        [],
        ignore_commands=("pip install reqeusts",),
        judge=[F("any", line_or_target_has="reqeusts")],
    ),
    "pip-externally-managed-debian": Case(
        bash(("pip install requests", PIP_EXTERNALLY_MANAGED)),
        [],
        ignore_commands=("pip install requests",),
        judge=[F("any", line_or_target_has="externally-managed-environment")],
    ),
    "git-status-outside-repo-no-status": Case(
        bash(("git status", NOT_A_REPO)),
        [],
        ignore_commands=("git status",),
        judge=[F("any", line_or_target_has="not a git repository")],
    ),
    "git-subcommand-typo": Case(
        bash(("git comit -m 'first'", GIT_COMIT)),
        [],
        ignore_commands=("git comit -m 'first'",),
        judge=[F("not-found", target="comit")],
    ),
    "status-zero-but-script-printed-an-error": Case(
        bash(
            (
                "./setup.sh",
                "Setting up...\n./setup.sh: line 3: cd: build: No such file or directory\ndone\n",
                0,
            ),
            prompt=STATUS,
        ),
        [],
        ignore_commands=("./setup.sh",),
        judge=[F("no-such-file", target="build")],
    ),
}

HINT_FIELDS = ("command", "line", "program", "target", "action", "ename", "evalue", "file")


def feed(case):
    """The monitors and the failures each one reported."""
    sessions = case.chunks if case.feeds else [case.chunks]
    runs = []
    for chunks in sessions:
        m = TerminalMonitor("1")
        runs.append((m, feed_all(m, chunks)))
    return runs


def show(f):
    return repr(f) if f is None else repr(dataclasses.asdict(f))


def mismatches(failure, expected):
    bad = []
    for key, want in expected.items():
        if key in ("culprit", "fixed"):
            continue
        if key == "kind" and want == "any":
            continue
        if key == "line_has":
            if want not in (failure.line or ""):
                bad.append(f"line {failure.line!r} lacks {want!r}")
            continue
        if key == "line_or_target_has":
            if want not in (failure.line or "") and want not in (failure.target or ""):
                bad.append(f"neither line {failure.line!r} nor target {failure.target!r} has {want!r}")
            continue
        got = getattr(failure, key)
        ok = got in want if isinstance(want, tuple) else got == want
        if not ok:
            bad.append(f"{key}: got {got!r}, expected {want!r}")
    return bad


def kept_by(monitor):
    """Everything the monitor holds, as text."""
    return "\n".join([*monitor.tail, monitor.tail_text(10_000), monitor.partial or "", repr(vars(monitor))])


def relevant(failures, case):
    return [f for f in failures if f.command not in case.ignore_commands]


@pytest.fixture
def course(tmp_path):
    """The learner's folder as it was when the transcripts were captured (for hints.look_around)."""
    for name, text in {
        "notes.txt": "buy milk\n",
        "log.txt": "ok\nerror: disk\nok\nerror: net\nerror: cpu\n",
        "not found.txt": "",
        "script.sh": '#!/bin/bash\necho "hello from script"\n',
        "crlf.sh": '#!/bin/bash\r\necho "deploying"\r\n',
        "setup.sh": "#!/bin/bash\necho Setting up...\ncd build\necho done\n",
        "deploy.sh": "#!/bin/bash\necho Deploying site\nrsycn -av site/ /var/www/\necho finished\n",
        "stats.py": "",
        "divide.py": "",
        "bad.py": "",
        "indent.py": "",
        "readcsv.py": "",
        "load.py": "",
        "train.py": "",
        "login.py": "",
        "config.json": '{"name": "demo",}\n',
        "big.log": BIG_LOG,
        "check.sh": "",
        "x.py": "print('x')\n",
    }.items():
        (tmp_path / name).write_text(text)
    for name in ("crlf.sh", "setup.sh", "deploy.sh"):
        (tmp_path / name).chmod(0o755)
    (tmp_path / "script.sh").chmod(0o644)
    (tmp_path / "data").mkdir()
    return str(tmp_path)


def ladder(failure, cwd):
    around = hints.look_around(failure, cwd)
    return [hints.hint(failure, level, around) for level in (1, 2, 3)]


def names(text, token):
    if token.startswith("re:"):
        return re.search(token[3:], text) is not None
    return token in text


# What the monitor does not do yet, each a strict xfail: it fails the day the gap is closed.
GAPS = {
    "script-with-crlf-line-ends-bash52": "bash 5.2's 'cannot execute: required file not found' is not recognised",
    "readline-edited-line": "readline's cursor movements (\\b, CSI C, CSI @) are not replayed: the command is misread",
    "left-arrow-fixed-line": "readline's cursor movements are not replayed: the command is misread",
}
# Judgement calls decided the other way, for now (strict xfails too).
DECIDED = {
    "sudo-command-fails-after-password": "secrecy first: after a password prompt nothing is read until the next shell prompt",
    "sudo-three-wrong-passwords": "secrecy first: after a password prompt nothing is read until the next shell prompt",
    "echoed-password-in-a-traceback": "secrecy first: after a password prompt nothing is read until the next shell prompt",
    "echoed-password-in-an-error-line": "secrecy first: after a password prompt nothing is read until the next shell prompt",
    "ssh-password-refused": "secrecy first: after a password prompt nothing is read until the next shell prompt",
    "pip-misspelt-no-status": "an error line without an exit status in the prompt is not taken as a failure",
    "pip-externally-managed-debian": "an error line without an exit status in the prompt is not taken as a failure",
    "git-status-outside-repo-no-status": "an error line without an exit status in the prompt is not taken as a failure",
    "git-subcommand-typo": "an error line without an exit status in the prompt is not taken as a failure",
}


def _cases(names, known):
    return [
        pytest.param(n, marks=pytest.mark.xfail(strict=True, reason=known[n])) if n in known else n
        for n in names
    ]


@pytest.mark.parametrize("name", _cases(list(CASES), GAPS))
def test_detection(name):
    case = CASES[name]
    for monitor, failures in feed(case):
        got = relevant(failures, case)
        report = "\n".join(show(f) for f in got) or "no failure"
        assert len(got) == len(case.expect), f"expected {len(case.expect)} failure(s), got:\n{report}"
        for f, e in zip(got, case.expect, strict=True):
            bad = mismatches(f, e)
            assert not bad, f"{'; '.join(bad)}\nmonitor returned:\n{report}"
        if case.secret:
            assert case.secret not in kept_by(monitor), "the secret is kept by the monitor"
            for f in failures:
                assert case.secret not in show(f), f"the secret is in a failure: {show(f)}"


@pytest.mark.parametrize("name", [n for n, c in CASES.items() if c.expect])
def test_hints(name, course):
    case = CASES[name]
    monitor, failures = feed(case)[-1]
    got = relevant(failures, case)
    detected = [(f, e) for f, e in zip(got, case.expect, strict=False) if f.kind == e["kind"]]
    if not detected:
        pytest.skip(f"not detected, see test_detection[{name}]")
    for f, e in detected:
        levels = ladder(f, course)
        shown = "\n---\n".join(levels)
        assert all(isinstance(t, str) and t.strip() for t in levels), shown
        for token in e.get("culprit") or [e.get("target") or e.get("program") or ""]:
            assert names(levels[0], token), f"level 1 does not name {token!r}:\n{levels[0]}"
        if case.secret:
            assert case.secret not in shown, f"a hint holds the secret:\n{shown}"
        if f.target.startswith("/"):  # an absolute path is not looked up from the current folder
            said = re.search(rf"`{re.escape(f.target)}`[^.\n]*\brelative\b", shown)
            assert not said, f"an absolute path is called relative:\n{shown}"
    for f in failures:  # hints for failures in a password block too
        if case.secret:
            shown = "\n---\n".join(ladder(f, course))
            assert case.secret not in shown, f"a hint holds the secret:\n{shown}"


@pytest.mark.parametrize("name", _cases([n for n, c in CASES.items() if c.judge], DECIDED))
def test_judgement_detection(name):
    """Judgement calls: a failure inside a password block, or an error without an exit status."""
    case = CASES[name]
    _, failures = feed(case)[-1]
    inside = [f for f in failures if f.command in case.ignore_commands]
    report = "\n".join(show(f) for f in failures) or "no failure"
    assert len(inside) == len(case.judge), f"expected {case.judge}, monitor returned:\n{report}"
    for f, e in zip(inside, case.judge, strict=True):
        bad = mismatches(f, e)
        assert not bad, f"{'; '.join(bad)}\nmonitor returned:\n{report}"
    if case.secret:
        for f in inside:
            assert case.secret not in show(f)


@pytest.mark.parametrize("name", [n for n, c in CASES.items() if any(e.get("fixed") for e in c.expect)])
def test_judgement_hints_do_not_hand_out_the_fixed_line(name, course):
    case = CASES[name]
    _, failures = feed(case)[-1]
    got = relevant(failures, case)
    if not got:
        pytest.skip(f"not detected, see test_detection[{name}]")
    for f, e in zip(got, case.expect, strict=False):
        for level, text in enumerate(ladder(f, course), 1):
            for fixed in e.get("fixed") or []:  # as a whole command line, not inside another example
                said = re.search(rf"(?<![\w./-]){re.escape(fixed)}[ \t]*(?:$|`|#)", text, re.M)
                assert not said, f"level {level} gives the fixed line {fixed!r}:\n{text}"


@pytest.mark.parametrize(
    "name", [n for n, c in CASES.items() if c.expect and c.expect[0].get("file") in ("<string>", "<stdin>")]
)
def test_judgement_inline_code_is_not_called_a_file(name, course):
    """python3 -c and the REPL: there is no file to open at that line."""
    _, failures = feed(CASES[name])[-1]
    if not failures:
        pytest.skip(f"not detected, see test_detection[{name}]")
    level1 = ladder(failures[-1], course)[0]
    assert not re.search(r"(?i)\b(open|that) (that )?file\b", level1), level1
