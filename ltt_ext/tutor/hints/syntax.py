"""Code Python cannot read: SyntaxError (f-strings, `return` outside a function...),
IndentationError, TabError."""

from __future__ import annotations

import io
import itertools
import keyword
import re
import tokenize

from .base import Ctx, Hint, an, short

SYNTAX_CONCEPT = (
    "Before running anything, Python reads the whole cell; if its grammar is broken, nothing in the cell "
    "runs. The caret `^` under the shown line marks where Python got confused — the mistake is there or "
    "just before it, sometimes at the end of the previous line."
)
SYNTAX_EXAMPLES = [
    "while temperature > 30     # a line that opens a block ends with ':'\n"
    'label = "Total            # a text must be closed with the same quote\n'
    "area = (side * side       # a bracket must be closed\n"
    "if score = 100:           # comparing uses ==",
]


def token_at(line: str, col: int | None) -> str | None:
    if line is None or col is None:
        return None
    if col >= len(line.rstrip()):
        return None
    ch = line[col]
    if ch.isalnum() or ch == "_":
        start = col
        while start > 0 and (line[start - 1].isalnum() or line[start - 1] == "_"):
            start -= 1
        end = col
        while end < len(line) and (line[end].isalnum() or line[end] == "_"):
            end += 1
        return line[start:end]
    return ch


def _first_word(line: str) -> str:
    m = re.match(r"\s*(\w+)", line or "")
    return m.group(1) if m else ""


def syntax_error(ctx: Ctx) -> Hint | None:
    ev = ctx.err.evalue
    w = ctx.where
    line = w.line or ""
    n = w.lineno
    where = f"line {n} (`{short(line)}`)" if n and line else (f"line {n}" if n else "this cell")
    tok = token_at(line, w.col)
    fixes: list[str] = []
    nudge = hint = None
    concept = SYNTAX_CONCEPT
    examples = list(SYNTAX_EXAMPLES)

    if "expected ':'" in ev:
        kw = _first_word(line)
        kw_md = (
            f"`{kw}`"
            if kw in ("if", "elif", "else", "for", "while", "def", "class", "try", "except", "with")
            else "block"
        )
        nudge = f"Python couldn't read {where}: that {kw_md} line opens a block, and the mark that opens a block is missing at its end."
        hint = f"A line that starts a block (`if`, `for`, `while`, `def`, `else`…) must end with a colon `:`; line {n} doesn't."
        fixes.append(line.rstrip() + ":")
    elif re.search(r"unterminated (triple-quoted )?string|EOL while scanning", ev):
        start = line[w.col :] if w.col is not None else line
        shown = short(start, 25)
        quote = start[:1] if start[:1] in "'\"" else None
        nudge = f"Python couldn't read {where}: the text starting at `{shown}` is never closed."
        other = '"' if quote == "'" else "'"
        hint = (
            f"A string opened with `{quote}` must be closed with the same quote `{quote}` on the same line "
            f"(a `{other}` does not close it)."
            if quote
            else "A string must be closed with the same kind of quote it was opened with, on the same line."
        )
        word = _apostrophe_word(line[: w.col] if w.col is not None else line) if quote == "'" else None
        if word is not None:
            # `'It's raining'`: the apostrophe ends the text early, the last quote opens a new one
            nudge = (
                f"Python couldn't read {where}: the text opened with `'` ends at the apostrophe in `{word}`, "
                "so the rest of the line is read as code, and its last `'` opens a text that is never closed."
            )
            hint = (
                "Inside a text written between `'` quotes, an apostrophe is the same character as the closing "
                "quote, so Python takes it as the end of the text. The text needs quotes (or a way of writing the "
                "apostrophe) that don't end it there."
            )
            examples = [
                'names = ["O\'Neil", "D\'Arcy"]   # inside "…" quotes, \' is just a letter\nprint(len(names))'
            ]
    elif m := re.search(r"'([(\[{])' was never closed", ev):
        br = m.group(1)
        close = {"(": ")", "[": "]", "{": "}"}[br]
        nudge = f"Python couldn't read {where}: the `{br}` opened on line {n} has no matching `{close}`."
        hint = f"Every `{br}` needs its `{close}`: count the opening and closing brackets on line {n} (and the lines after it) — one `{close}` is missing."
    elif m := re.search(
        r"closing parenthesis '(.)' does not match opening parenthesis '(.)'(?: on line (\d+))?", ev
    ):
        nudge = f"Python couldn't read {where}: the `{m.group(1)}` there closes a `{m.group(2)}`" + (
            f" opened on line {m.group(3)}." if m.group(3) else "."
        )
        hint = f"Brackets must be closed in the reverse order they were opened, each with its own kind: a `{m.group(2)}` is still open when the `{m.group(1)}` comes."
    elif "f-string" not in ev and (m := re.search(r"unmatched '(.)'", ev)):
        br = m.group(1)
        nudge = f"Python couldn't read {where}: it has a `{br}` with no opening bracket to match."
        hint = f"There is one `{br}` too many on line {n}, or its opening bracket is missing (or of another kind)."
    elif "cannot assign to" in ev:
        what = re.search(r"cannot assign to ([\w ]+?)(?: here|$|\.)", ev)
        target = what.group(1) if what else None
        target_md = f"{an(target)} {target}" if target else "not a name"
        nudge = (
            f"Python couldn't read {where}: the left side of `=` is {target_md}, which can't receive a value."
        )
        hint = (
            "Only a name (or an item `x[i]`, an attribute `x.a`) can be on the left of `=`: the name that receives "
            "the value comes first, the value after `=`. To *compare* two values, use `==`."
        )
    elif "Maybe you meant '==' or ':=' instead of '='" in ev or "Maybe you meant '==' instead of '='" in ev:
        nudge = f"Python couldn't read {where}: a single `=` stands where a condition is expected."
        hint = "`=` stores a value in a name; to *compare* two values, use `==`."
        fixes.append(line.replace("=", "==", 1))
    elif "forgot a comma" in ev:
        seg = _adjacent_values(line) or (
            short(line[max(0, (w.col or 0) - 10) : (w.col or 0) + 15], 30)
            if w.col is not None
            else short(line)
        )
        nudge = f"Python couldn't read {where}: around `{seg}`, two values stand next to each other."
        hint = "Items in a list, in a call's arguments or in `print(...)` are separated by commas — one is missing there."
    elif m := re.search(r"invalid character '(.)' \(U\+(\w+)\)", ev):
        ch = m.group(1)
        curly = ch in "“”‘’"
        nudge = f"Python couldn't read {where}: it contains the character `{ch}`" + (
            ", a curly quote as word processors type it."
            if curly
            else ", which isn't allowed in Python code."
        )
        hint = (
            "Python only accepts straight quotes `\"` and `'`; retype the quotes in the editor."
            if curly
            else f"Remove the character `{ch}` (U+{m.group(2)}), or put it inside quotes if it is meant as text."
        )
    elif "invalid decimal literal" in ev or "invalid digit" in ev:
        word = None
        if w.col is not None:
            for mm in re.finditer(r"\b\d+\w*", line):
                if mm.start() <= w.col <= mm.end() + 1:
                    word = mm.group(0)
        word = word or tok
        nudge = (
            f"Python couldn't read {where}: `{word}` starts with a digit but isn't a number."
            if word
            else (f"Python couldn't read {where}: a number is directly followed by letters.")
        )
        hint = "A name can't start with a digit (use `place_2` rather than `2_place`), and a number can't contain letters; if it's text, it needs quotes."
    elif "Missing parentheses in call to 'print'" in ev:
        nudge = f"Python couldn't read {where}: `print` is followed by its value without parentheses."
        hint = "In Python 3, `print` is a function: what it shows goes between parentheses, like any function call."
    elif "'return' outside function" in ev or "'yield' outside function" in ev:
        kw = "return" if "return" in ev else "yield"
        defs = [(i + 1, ln) for i, ln in enumerate(ctx.lines[: (n or 1) - 1]) if re.match(r"\s*def\s", ln)]
        indent = len(line) - len(line.lstrip())
        if defs:
            dline, dtext = defs[-1]
            dindent = len(dtext) - len(dtext.lstrip())
            nudge = f"Python couldn't read {where}: this `{kw}` is not inside the function `{_def_name(dtext)}` of line {dline}, because of its indentation."
            hint = (
                f"The body of `{_def_name(dtext)}` is the lines indented under line {dline}; line {n} starts at column {indent}, "
                f"{'the same as' if indent <= dindent else 'not under'} the `def` (column {dindent}), so the function ended before it."
            )
        else:
            nudge = f"Python couldn't read {where}: `{kw}` is used outside of any function (`def`)."
            hint = (
                f"`{kw}` only works inside a function body. In a notebook cell, to *show* a value, put it as the cell's "
                "last line or `print` it; to reuse a computation, put it in a function with `def` and call it."
            )
        examples = [
            "def double(number):\n    result = number * 2\n    return result      # inside the def: indented under it\n\nprint(double(21))",
        ]
        concept = "`return` ends a function and hands back a value, so it must be inside a `def` — the lines of a function are those indented under its `def` line."
    elif "f-string" in ev:
        concept = (
            "In an f-string, each `{...}` holds a Python expression whose value is inserted. Braces come in pairs, "
            "can't be empty, and (before Python 3.12) the expression can't reuse the quote that delimits the string."
        )
        examples = [
            'size = 3\nlabel = f"{size} cm, {size * 10} mm"   # each { has its }\nbraces = f"{{literal}}"   # doubled braces show { and }'
        ]
        if "expecting '}'" in ev:
            nudge = (
                f"Python couldn't read {where}: in its f-string, a `{{` is opened and its `}}` never comes."
            )
            hint = "Each `{` in an f-string starts an expression that must end with `}` inside the string (to show a brace itself, double it)."
        elif "single '}'" in ev:
            nudge = f"Python couldn't read {where}: its f-string has a `}}` without a `{{` before it."
            hint = "In an f-string `{` and `}` come in pairs around an expression; a lone `}` must be doubled (`}}`) to be shown as is."
        elif "empty expression" in ev:
            nudge = f"Python couldn't read {where}: its f-string has `{{}}` with nothing inside."
            hint = "Inside an f-string's `{}` goes the expression whose value you want to show (a name, a calculation)."
        elif _reuses_quote(line):
            nudge = f"Python couldn't read {where}: inside the f-string's `{{...}}`, the same quote as the string's own is used, which ends the string too early."
            hint = "Before Python 3.12, the expression inside `{...}` can't use the quote that opens the f-string: use the other kind of quote inside (`'` in a `\"...\"` string)."
        else:
            nudge = f"Python couldn't read {where}: something inside one of its f-string's `{{...}}` isn't valid (*{ev}*)."
            hint = "Check each `{...}` of the f-string: a valid expression inside, braces paired, no backslash, and the other kind of quote inside."
    elif "expected 'except' or 'finally' block" in ev:
        nudge = (
            f"Python couldn't read {where}: a `try:` block is not followed by its `except` (or `finally`)."
        )
        hint = "`try:` must be followed, at the same indentation, by an `except ...:` block that says what to do on an error."
    elif "invalid syntax" in ev or "incomplete input" in ev or "unexpected EOF" in ev:
        prev = _unbalanced_previous(ctx, n)
        opened = _unclosed(ctx.code) if "incomplete input" in ev or "EOF" in ev else None
        kw_name = re.match(r"\s*([A-Za-z_]\w*)\s*=[^=]", line)
        if opened:
            br, bline = opened
            if br in (TRIPLE_SINGLE, TRIPLE_DOUBLE):
                nudge = f"Python reached the end of the cell inside a text: the `{br}` opened on line {bline} is never closed."
                hint = f"A text opened with `{br}` ends at the next `{br}`; add it where the text should end."
            else:
                nudge = f"Python reached the end of the cell with a bracket still open: the `{br}` on line {bline} is never closed."
                hint = f"Every `{br}` needs its closing partner; line {bline} (and the lines after it) is missing one."
        elif kw_name and _keyword(kw_name.group(1)):
            word = kw_name.group(1)
            nudge = f"Python couldn't read {where}: `{word}` is a word reserved by Python, used here as a variable name."
            hint = f"`{word}` is a Python keyword, so it can't name a variable: choose another name (e.g. `{word}_name` or a word of your own)."
        elif tok in ("else", "elif", "except", "finally") and _first_word(line) == tok:
            opener = {
                "else": "`if` (or `for`/`while`/`try`)",
                "elif": "`if`",
                "except": "`try`",
                "finally": "`try`",
            }[tok]
            nudge = f"Python couldn't read {where}: this `{tok}` has no {opener} block right before it, at the same indentation."
            hint = f"`{tok}:` continues the block of an {opener} that ends just above it, and must start at exactly the same column as that line."
        elif (dangling := _dangling_operator(line)) and (
            w.col is None or w.col >= len(line.rstrip()) - len(dangling)
        ):
            nudge = f"Python couldn't read {where}: the line ends with `{dangling}`, which needs a value after it."
            hint = f"`{dangling}` combines two things, but nothing follows it on line {n}: is a value or a condition missing at the end of the line?"
        elif prev:
            nudge = f"Python couldn't read {where}, but the cause is probably line {prev}: a bracket opened there is still open."
            hint = f"Count the brackets on line {prev}: one `(`, `[` or `{{` has no closing partner, so Python read on into line {n}."
        elif tok and tok in ("else", "elif") and "if" in line:
            nudge = f"Python couldn't read {where} at `{tok}`."
            hint = 'In Python, "else if" is written `elif`, and `else`/`elif` start their own line, with a colon.'
        elif (
            tok
            and re.fullmatch(r"[A-Za-z_]\w*", tok)
            and _keyword(tok)
            and tok not in ("else", "elif", "except", "finally")
        ):
            nudge = f"Python couldn't read {where} at `{tok}`: `{tok}` is a word reserved by Python."
            hint = (
                f"`{tok}` is a Python keyword, so it can't be used as a variable name: choose another name."
            )
        else:
            at = f" at `{tok}`" if tok else ""
            nudge = f"Python couldn't read {where}: it got confused{at} (caret `^`)."
            hint = "Check that spot and just before it: a missing operator or comma, a missing quote, a bracket, a keyword misspelled, or a colon at the end of the previous line."
    else:
        nudge = f"Python couldn't read {where}" + (f" at `{tok}`." if tok else ".")
        hint = f"Python says *{ev}*: look at that spot and just before it."
    return Hint(nudge, hint, concept, examples, fixes=fixes)


def _unclosed(code: str) -> tuple[str, int] | None:
    """The last bracket left open at the end of ``code`` (strings and comments skipped)."""
    import io
    import tokenize

    stack: list[tuple[str, int]] = []
    try:
        for tok in tokenize.generate_tokens(io.StringIO(code).readline):
            if tok.type == tokenize.OP and tok.string in "([{":
                stack.append((tok.string, tok.start[0]))
            elif tok.type == tokenize.OP and tok.string in ")]}" and stack:
                stack.pop()
    except tokenize.TokenError as e:
        if "string" in str(e.args[0]):
            line = e.args[1][0] if len(e.args) > 1 and e.args[1] else 1
            return (TRIPLE_DOUBLE if TRIPLE_DOUBLE in code else TRIPLE_SINGLE, line)
    except (IndentationError, SyntaxError):
        pass
    return stack[-1] if stack else None


TRIPLE_SINGLE = "'" * 3
TRIPLE_DOUBLE = '"' * 3


def _adjacent_values(line: str) -> str | None:
    """The first two values written side by side with nothing between them (``5 7`` in ``[3, 5 7]``)."""
    values = (tokenize.NAME, tokenize.NUMBER, tokenize.STRING)
    tokens: list[tokenize.TokenInfo] = []
    try:
        for tok in tokenize.generate_tokens(io.StringIO(line).readline):
            tokens.append(tok)
    except (tokenize.TokenError, SyntaxError):
        pass  # an unfinished line: the tokens read so far are enough
    for a, b in itertools.pairwise(tokens):
        if (
            a.type in values
            and b.type in values
            and not (a.type == b.type == tokenize.STRING)  # "a" "b" is one text, not a mistake
            and not keyword.iskeyword(a.string)
            and not keyword.iskeyword(b.string)
            and a.start[0] == b.start[0]
        ):
            return line[a.start[1] : b.end[1]]
    return None


def _apostrophe_word(before: str) -> str | None:
    """The word whose apostrophe closed a `'…'` text early (``It's`` in ``print('It's raining')``)."""
    quote = None
    for i, ch in enumerate(before):
        if ch not in "'\"" or (i and before[i - 1] == "\\"):
            continue
        if quote is None:
            quote = ch
        elif ch == quote:
            if ch == "'" and before[i - 1 : i].isalpha() and before[i + 1 : i + 2].isalpha():
                left = re.search(r"[A-Za-z]+$", before[:i])
                right = re.match(r"[A-Za-z]+", before[i + 1 :])
                return f"{left.group(0) if left else ''}'{right.group(0) if right else ''}"
            quote = None
    return None


def _dangling_operator(line: str) -> str | None:
    m = re.search(r"(\band|\bor|\bnot|==|!=|<=|>=|[-+*/%<>=,])\s*(#.*)?$", line.rstrip())
    return m.group(1) if m and not line.rstrip().endswith(":") else None


def _reuses_quote(line: str) -> bool:
    m = re.search(r"""\bf(['"])(.*)""", line)
    if not m:
        return False
    q, rest = m.group(1), m.group(2)
    inner = re.search(r"\{[^}]*" + re.escape(q), rest)
    return inner is not None


def _keyword(word: str) -> bool:
    import keyword

    return keyword.iskeyword(word)


def _def_name(line: str) -> str:
    m = re.match(r"\s*def\s+(\w+)", line)
    return m.group(1) if m else "?"


def _unbalanced_previous(ctx: Ctx, n: int | None) -> int | None:
    if not n or n < 2:
        return None
    prev_line = ctx.lines[n - 2] if n - 2 < len(ctx.lines) else ""
    opens = sum(prev_line.count(c) for c in "([{")
    closes = sum(prev_line.count(c) for c in ")]}")
    return n - 1 if opens > closes else None


INDENT_CONCEPT = (
    "In Python, indentation *is* the structure: the lines that belong to an `if`, `for`, `while` or `def` are "
    "indented by the same amount under it (usually 4 spaces), and the block ends where the indentation goes back."
)
INDENT_EXAMPLES = [
    'for word in ["a", "b"]:\n    upper = word.upper()   # inside the loop: 4 spaces\n    print(upper)           # still inside\nprint("done")              # after the loop: back to 0',
    'if temperature > 30:\n    advice = "stay in"     # inside the if: 4 spaces\nelse:\n    advice = "go out"      # inside the else\nsummary = advice.upper()   # after: back to column 0',
]


def indentation_error(ctx: Ctx) -> Hint | None:
    ev = ctx.err.evalue
    w = ctx.where
    n = w.lineno
    line = w.line
    fixes: list[str] = []
    if m := re.search(r"expected an indented block after (.+?) on line (\d+)", ev):
        what, k = m.group(1), int(m.group(2))
        stmt = re.sub(r"'(\w+)' statement", r"`\1`", what).replace("function definition", "`def`")
        stmt = stmt.replace("class definition", "`class`")
        header = short(ctx.lines[k - 1]) if 0 < k <= len(ctx.lines) else ""
        if line is None or (n and n > len(ctx.lines)):
            nudge = f"The {stmt} on line {k} (`{header}`) ends the cell: its block has no lines."
            hint = "After a line ending with `:`, at least one line must follow, indented under it (`pass` stands for an empty block)."
        else:
            nudge = (
                f"Line {n} (`{short(line)}`) is not indented under the {stmt} on line {k} (`{header}`), "
                f"so that {stmt} has no block."
            )
            hint = (
                f"The lines that belong to the {stmt} of line {k} must be indented under it (usually 4 spaces more "
                f"than line {k}). If its block is meant to be empty for now, `pass` can stand there."
            )
            fixes.append("    " + line.strip())
    elif "unexpected indent" in ev:
        prev = _prev_code_line(ctx.lines, n)
        nudge = f"Line {n} (`{short(line)}`) is indented more than the line before it" + (
            f" (line {prev[0]}), which doesn't open a block." if prev else ", but no block was opened."
        )
        hint = (
            "Only the lines under a line ending with `:` (an `if`, `for`, `def`…) are indented further. Line "
            + (
                f"{n} should start at the same column as line {prev[0]}."
                if prev
                else f"{n} should start at column 0."
            )
        )
        if line:
            fixes.append(line.strip())
    elif "unindent does not match" in ev:
        cols = sorted({len(x) - len(x.lstrip()) for x in ctx.lines[: (n or 1) - 1] if x.strip()})
        col = len(line) - len(line.lstrip()) if line else None
        nudge = f"Line {n} (`{short(line)}`) starts at column {col}, which lines up with no block above it."
        hint = f"Going back out of a block, a line must line up exactly with an earlier line: the lines above start at columns {', '.join(map(str, cols))}."
    elif ctx.err.ename == "TabError" or "tabs" in ev:
        nudge = f"Line {n} (`{short(line)}`) is indented with a tab where the lines around it use spaces (or the reverse)."
        hint = "Indent with spaces only: delete the indentation of that line and retype it with spaces (JupyterLab's Tab key inserts spaces)."
    else:
        return None
    return Hint(nudge, hint, INDENT_CONCEPT, INDENT_EXAMPLES, fixes=fixes)


def _prev_code_line(lines: list[str], n: int | None) -> tuple[int, str] | None:
    if not n:
        return None
    for i in range(n - 2, -1, -1):
        if lines[i].strip() and not lines[i].strip().startswith("#"):
            return i + 1, lines[i]
    return None
