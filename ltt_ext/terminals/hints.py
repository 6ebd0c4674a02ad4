"""The hint ladder for failed terminal commands: 1 a nudge (where to look), 2 a hint (what is
wrong, specifically: the command, the file, the permission), 3 an explanation with a general
example. Plain Python; what the server knows around the failure (the shell's folder, a close
command or file name) comes in :class:`Around`, found by :func:`look_around`.
"""

from __future__ import annotations

import difflib
import os
import re
from dataclasses import dataclass

from .failures import Failure

SHELL_BUILTINS = (
    "cd", "echo", "exit", "export", "pwd", "source", "alias", "history", "type", "read", "set",
    "unset", "jobs", "kill", "test", "printf", "ulimit", "umask", "wait", "exec", "help",
)  # fmt: skip


@dataclass
class Around:
    cwd: str | None = None  # the shell's current folder, when known
    similar_command: str | None = None
    similar_file: str | None = None  # a name close to the missing one, in the folder it was looked for
    here: bool = False  # a file of that (command) name is in the current folder
    exists: bool | None = None  # the target exists (permission failures)
    mode: str | None = None  # its permissions, e.g. "-rw-r--r--"


_COMMANDS: list[str] | None = None


def _path_commands() -> list[str]:
    global _COMMANDS
    if _COMMANDS is None:
        names: set[str] = set(SHELL_BUILTINS)
        for folder in (os.environ.get("PATH") or "").split(os.pathsep)[:50]:
            try:
                with os.scandir(folder) as it:
                    for i, entry in enumerate(it):
                        if i > 5000:
                            break
                        names.add(entry.name)
            except OSError:
                continue
        _COMMANDS = sorted(names)
    return _COMMANDS


def _names_in(folder: str, limit: int = 2000) -> list[str]:
    try:
        with os.scandir(folder) as it:
            return [e.name for _, e in zip(range(limit), it, strict=False)]
    except OSError:
        return []


def look_around(f: Failure, cwd: str | None) -> Around:
    """What the server can see around a failure (cheap: a folder listing or two, never file contents)."""
    around = Around(cwd=cwd)
    if f.kind == "not-found" and f.target:
        close = difflib.get_close_matches(f.target, _path_commands(), n=1, cutoff=0.75)
        around.similar_command = close[0] if close and close[0] != f.target else None
        if cwd:
            around.here = os.path.exists(os.path.join(cwd, f.target))
    elif f.kind == "no-such-file" and f.target and f.action not in ("interpreter", "not-a-directory"):
        base = cwd or ""
        target = os.path.join(base, os.path.expanduser(f.target)) if base else os.path.expanduser(f.target)
        folder, name = os.path.split(target)
        if folder and name:
            # a folder for `cd`, a file for the rest: "there is `data`" is no answer to `head data.csv`
            want_folder = f.program == "cd"
            names = [n for n in _names_in(folder) if os.path.isdir(os.path.join(folder, n)) == want_folder]
            close = difflib.get_close_matches(name, names, n=1, cutoff=0.7)
            if close:
                shown_folder = os.path.dirname(f.target)
                around.similar_file = os.path.join(shown_folder, close[0]) if shown_folder else close[0]
    elif f.kind == "permission" and f.target and f.action in ("run", "read", "write", "enter"):
        path = os.path.join(cwd, os.path.expanduser(f.target)) if cwd else os.path.expanduser(f.target)
        try:
            import stat

            st = os.stat(path)
            around.exists, around.mode = True, stat.filemode(st.st_mode)
        except OSError:
            around.exists = False
    return around


def _code(text: str) -> str:
    text = text.replace("`", "'")
    return f"`{text}`"


def _more() -> str:
    return "\n\n_Ask for **more help** if you're still stuck._"


def hint(f: Failure, level: int, around: Around | None = None) -> str:
    around = around or Around()
    level = max(1, min(3, level))
    text = {
        "not-found": _not_found,
        "permission": _permission,
        "no-such-file": _no_such_file,
        "python": _python,
        "exit": _exit,
    }.get(f.kind, _exit)(f, level, around)
    return text + (_more() if level < 3 else "")


_IN_SCRIPT = re.compile(r"^(?P<script>[^\s:]+): line (?P<line>\d+): ")
INTERPRETERS = ("bash", "sh", "zsh", "dash", "python", "python3", "node", "Rscript", "perl", "ruby")


def _not_found(f: Failure, level: int, a: Around) -> str:
    cmd = _code(f.target)
    script = _IN_SCRIPT.match(f.line)
    if level == 1 and script is not None:
        return (
            f"**Nudge** — line {script.group('line')} of {_code(script.group('script'))} runs a command called "
            f"{cmd}, and the shell doesn't know it. Look at that line of the script."
        )
    if level == 1:
        return f"**Nudge** — the shell doesn't know a command called {cmd}. Look closely at the first word you typed."
    if level == 2:
        if a.similar_command:
            return f"**Hint** — {cmd} isn't installed or spelled differently. Did you mean {_code(a.similar_command)}?"
        if a.here:
            return (
                f"**Hint** — there is a file {cmd} in this folder, but the shell only looks for commands in "
                f"the folders of `$PATH`, not in the current one. Name the folder: {_code('./' + f.target)}."
            )
        return (
            f"**Hint** — no program called {cmd} is on this machine's `$PATH`. Check the spelling, or whether "
            "it needs to be installed first (ask your course which tools it provides)."
        )
    return (
        "**Explanation** — when you type a command, the shell searches the folders listed in `$PATH`, "
        "in order, for a program of that name; `command not found` means none had it. A few checks:\n\n"
        "```bash\n"
        "echo $PATH          # where the shell looks\n"
        "type ls             # where a command was found (or that it's a shell builtin)\n"
        "ls -l ./myscript.sh # a script in this folder: run it as ./myscript.sh\n"
        "```\n\n"
        f"So for {cmd}: fix a typo, run a local script with `./` in front, or install the tool."
    )


_ACTION_WORDS = {
    "run": "run",
    "read": "read",
    "write": "write to",
    "enter": "enter",
    "login": "log in to",
}


def _permission(f: Failure, level: int, a: Around) -> str:
    target = _code(f.target) if f.target else "it"
    verb = _ACTION_WORDS.get(f.action, "use")
    if f.action == "login":
        if level == 1:
            return "**Nudge** — the server refused to let you log in. Which key or password did it expect?"
        if level == 2:
            return (
                "**Hint** — `Permission denied (publickey)` means the server accepts keys only, and none of the "
                "keys you offered is registered there. Check which key `ssh` used (`ssh -v …`) and that its "
                "public half is on the server."
            )
        return (
            "**Explanation** — with key login, `ssh` proves who you are with a private key (e.g. `~/.ssh/id_ed25519`) "
            "whose public key is listed in the server's `~/.ssh/authorized_keys`. If the server doesn't know the "
            "key, or the private key's file is readable by others (ssh refuses it), you get this error:\n\n"
            "```bash\nls -l ~/.ssh              # private keys must be -rw------- (chmod 600)\n"
            "ssh -i ~/.ssh/mykey user@host\n```"
        )
    if level == 1:
        if f.action == "run" and f.program == f.target:
            return (
                f"**Nudge** — the system refused to run {target}: *permission denied*. Who owns it, and what "
                "are you allowed to do with it?"
            )
        return (
            f"**Nudge** — the system refused to let {_code(f.program or 'the command')} {verb} {target}: "
            "*permission denied*. Who owns it, and what are you allowed to do with it?"
        )
    mode = f" (now {_code(a.mode)})" if a.mode else ""
    if level == 2:
        if f.action == "run":
            return (
                f"**Hint** — to run {target} as a program, it needs the *execute* permission, and it doesn't "
                f"have it for you{mode}. Look at `ls -l {f.target}`: is there an `x`?"
            )
        if f.action == "write":
            return (
                f"**Hint** — you may not write to {target}{mode}: it (or its folder) belongs to another user "
                "or is read-only. Is it a file you are meant to change? If not, write to a file in your own "
                "folder instead."
            )
        if f.action == "enter":
            return (
                f"**Hint** — you may not enter the folder {target}{mode}: entering a folder needs its `x` "
                "permission, which you don't have."
            )
        return (
            f"**Hint** — you may not read {target}{mode}: reading needs the `r` permission, which the file gives "
            "only to its owner or group. Is this a file you are meant to read?"
        )
    other = "backup.sh" if os.path.basename(f.target or "") != "backup.sh" else "tool.sh"
    example = {
        "run": f"{'ls -l ' + other:<21}# -rw-r--r-- : no x, so it can't be run as ./{other}\n"
        f"{'chmod u+x FILE':<21}# u+x: give yourself (u) the execute (x) permission\n"
        f"{'bash ' + other:<21}# or hand it to the interpreter, which only needs to read it",
        "write": "ls -ld /some/folder  # who owns it, who may write (w)\n"
        "cp /etc/config ~/config   # change your own copy instead",
        "enter": "ls -ld /some/folder  # drwx------ : only the owner may enter",
        "read": "ls -l file.txt       # -rw------- : only the owner may read",
    }.get(f.action, "ls -l file.txt")
    return (
        "**Explanation** — every file has an owner, a group, and three sets of permissions (owner, group, "
        "others): `r` read, `w` write, `x` execute (for a folder: enter). `ls -l` shows them, e.g. "
        "`-rwxr-x---`. *Permission denied* means your user lacks the one the command needs.\n\n"
        f"```bash\n{example}\n```\n\n"
        "`sudo` runs a command as the administrator: only use it when your course says the task needs it — "
        "it is rarely the right fix for your own files."
    )


def _no_such_file(f: Failure, level: int, a: Around) -> str:
    target = _code(f.target) if f.target else "the path"
    where = f" (the shell is in {_code(a.cwd)})" if a.cwd else ""
    if f.action == "interpreter":
        if level == 1:
            return f"**Nudge** — the script's first line names an interpreter, {target}, that doesn't exist. Look at that first line."
        if level == 2:
            return (
                f"**Hint** — the `#!` line of your script asks for {target}, which is not on this machine "
                "(a typo, or Windows line endings: `\\r` at the end of that line)."
            )
        return (
            "**Explanation** — `./script` runs the program named on the script's first line (the *shebang*), "
            "e.g. `#!/usr/bin/env python3` or `#!/bin/bash`. If that path is wrong, or the line ends in an "
            "invisible `\\r` (a file saved on Windows), the system cannot find it.\n\n"
            "```bash\nhead -1 script.sh | cat -A   # ^M$ at the end = Windows line ending\n```"
        )
    if f.action == "not-a-directory":
        return _not_a_directory(f, level, target)
    absolute = f.target.startswith(("/", "~"))
    thing = "folder" if f.program == "cd" else "file"
    if level == 1:
        who = _code(f.program) if f.program else "The command"
        if absolute:
            return f"**Nudge** — {who} couldn't find {target}. Which part of that path doesn't exist?"
        return f"**Nudge** — {who} couldn't find {target}{where}. Where are you, and where is that {thing}?"
    if level == 2:
        if a.similar_file:
            return (
                f"**Hint** — there is no {target}, but there is {_code(a.similar_file)}: a typo in the name?"
            )
        if absolute:
            return (
                f"**Hint** — {target} is an *absolute* path: it starts at {'your home folder' if f.target.startswith('~') else 'the root of the file system'}, "
                "whatever folder the shell is in. Check it piece by piece: `ls` the folders it names, one level "
                "at a time, to find where it stops matching what is there."
            )
        return (
            f"**Hint** — {target} is a *relative* path: it is looked up from the folder the shell is in{where}. "
            f"Check with `pwd` and `ls` whether the {thing} is there, or give the path from where you are."
        )
    return (
        "**Explanation** — a path starting with `/` is *absolute* (from the root of the file system); any other "
        "path is relative to the current folder (`pwd` shows it): "
        "`..` is the folder above, `~` your home. Names are case-sensitive, and spaces must be quoted.\n\n"
        "```bash\npwd                  # where am I?\nls                   # what is here?\n"
        'ls data/             # what is in data/?\ncat "my notes.txt"   # quote names with spaces\n```'
    )


def _not_a_directory(f: Failure, level: int, target: str) -> str:
    who = _code(f.program) if f.program else "The command"
    if level == 1:
        return f"**Nudge** — {who} needed a folder at {target}, and found a file there. Which part of that path is a file?"
    if level == 2:
        return (
            f"**Hint** — only a folder can be entered or hold other files; {target} (or a name before one of its "
            "`/`) is a file. `ls -l` shows a `d` at the start of a folder's line."
        )
    return (
        "**Explanation** — files hold content, folders hold files. `cd` enters folders only, and a path like "
        "`a/b` means *b inside the folder a*, so every name before a `/` must be a folder.\n\n"
        "```bash\nls -F          # folders are shown with a trailing /\nfile report    # says what a name is\n```"
    )


_PY_HINTS = {
    "ModuleNotFoundError": "the module isn't installed for the Python you ran (or its name is misspelled); "
    "`python -m pip install <name>` installs it for that same Python",
    "ImportError": "the module was found but doesn't have the name you import from it (or it failed while loading)",
    "NameError": "a name is used before it was defined (or it is misspelled)",
    "FileNotFoundError": "the path the script opens is looked up from the folder you ran it in, not the script's folder",
    "PermissionError": "the script tried to open a file your user may not read or write",
    "SyntaxError": "Python couldn't read the file: the line it shows (or the one before) breaks Python's grammar",
    "IndentationError": "the indentation of the line it shows doesn't match the lines around it",
    "TypeError": "a value of the wrong type reached an operation or a function",
    "KeyboardInterrupt": "you stopped the program (Ctrl+C)",
}


def _python(f: Failure, level: int, a: Around) -> str:
    err = _code(f.ename)
    if f.file in ("<string>", "<stdin>"):  # `python -c "…"` or the interactive prompt: no file to open
        given = (
            "the code given to `python -c`" if f.file == "<string>" else "what you typed at the Python prompt"
        )
        where = f"line {f.lineno} of {given}" if f.lineno else given
        if level == 1:
            said = f" ({_code(f.evalue[:100])})" if f.evalue else ""
            return f"**Nudge** — Python stopped with {err}{said} at {where}. What does that line do?"
    else:
        where = f"line {f.lineno} of {_code(f.file)}" if f.file and f.lineno else "the script"
    if level == 1:
        return (
            f"**Nudge** — {_code(f.command or 'the program')} stopped with {err} at {where}. "
            "Open that file at that line: what is it doing there?"
        )
    if level == 2:
        why = _PY_HINTS.get(f.ename)
        said = f" It says: {_code(f.evalue[:160])}." if f.evalue else ""
        if why is None:
            return (
                f"**Hint** — the last line of the traceback names the error, {err}, and says what went wrong; "
                f"the `File …, line …` lines above it say where (the last one in your own files is the place to look).{said}"
            )
        return f"**Hint** — {err} usually means {why}.{said}"
    return (
        "**Explanation** — a traceback lists the calls that led to the error, oldest first: the **last** "
        "`File …, line …` is where it happened, and the very last line names the error. Re-run the "
        "script in a way that lets you look around:\n\n"
        "```bash\npython -i script.py   # stays in Python after the error: inspect your variables\n"
        "python -m pdb script.py\n```"
    )


_EXIT_MEANINGS = {
    1: "a general failure",
    2: "the command was used the wrong way (bad option or argument)",
    126: "the file exists but can't be run (no execute permission)",
    127: "the command wasn't found",
    130: "it was stopped with Ctrl+C",
    137: "it was killed (often: out of memory)",
}


def _exit(f: Failure, level: int, a: Around) -> str:
    cmd = _code(f.program or f.command or "the command")
    words = f.command.split()
    script = None
    if (
        f.program in INTERPRETERS
        and len(words) > 1
        and words[0] == f.program
        and not words[1].startswith("-")
    ):
        script = words[1]
        cmd = f"{_code(script)} (run by {_code(f.program)})"  # the learner's script, not bash itself
    status = f.exit_status
    if level == 1:
        return (
            f"**Nudge** — {cmd} ended with exit status {status} (not 0: something went wrong). "
            "Its last lines of output usually say what."
        )
    if level == 2:
        meaning = _EXIT_MEANINGS.get(status or 0)
        said = f" Its last line was {_code(f.line[:160])}." if f.line else ""
        extra = f" Status {status} often means {meaning}." if meaning else ""
        if script is not None:
            return f"**Hint** —{said} That is {_code(script)}'s own report: what does it check at that point?"
        return (
            f"**Hint** —{extra}{said} Check the options you gave it with `{f.program or 'command'} --help`."
        )
    return (
        "**Explanation** — every command ends with an *exit status*: 0 means success, anything else a "
        "failure (the meaning depends on the program; `man <command>` lists them). The shell keeps the last "
        "one in `$?`:\n\n```bash\nls /nowhere\necho $?      # 2: ls could not access it\n```"
    )
