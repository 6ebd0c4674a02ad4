"""Instructor notes: CommonMark sections (markdown-it-py) and the streaming copy guard."""

import random
import re

import pytest

from ltt_ext.tutor import instructor
from ltt_ext.tutor.copyguard import (
    MIN_CHARS,
    REDACTED,
    CopyGuard,
    guarded,
    normalise,
    normalise_line,
    patterns,
)
from ltt_ext.tutor.instructor import InstructorNotes, parse, redact_verbatim

# -- the parser -----------------------------------------------------------------------------------


def test_guidance_is_the_original_markdown_of_the_non_secret_parts():
    src = (
        "# Week 2\n"
        "## Objectives\n"
        "- Use a **for** loop to accumulate a `running total`.\n"
        "1. then print it\n"
        "\n"
        "## Solution\n"
        "total = sum(prices)\n"
        "\n"
        "## Pitfalls\n"
        "> Learners often reset the accumulator *inside* the loop.\n"
    )
    n = parse("course/TUTOR.md", src)
    assert n.source_path == "course/TUTOR.md"
    assert n.guidance == (
        "# Week 2\n"
        "## Objectives\n"
        "- Use a **for** loop to accumulate a `running total`.\n"
        "1. then print it\n"
        "\n"
        "## Pitfalls\n"
        "> Learners often reset the accumulator *inside* the loop."
    )
    assert n.secret == "## Solution\ntotal = sum(prices)"


def test_a_hash_line_in_a_fenced_block_is_code_not_a_heading():
    src = (
        "## Hints\n"
        "Show them this:\n"
        "```python\n"
        "# Solution below (a comment, not a heading)\n"
        "print('hi')\n"
        "```\n"
        "Keep the loop variable readable.\n"
        "## Solution\n"
        "```python\n"
        "## Hints again: still code, the secret section goes on\n"
        "total = sum(prices)\n"
        "```\n"
        "~~~\n"
        "# Pitfalls\n"
        "~~~\n"
        "still part of the solution\n"
        "## Pitfalls\n"
        "Off by one.\n"
    )
    n = parse("TUTOR.md", src)
    # the fenced '# Solution' did not open a secret section: the hints are all guidance
    assert "# Solution below" in n.guidance and "Keep the loop variable readable." in n.guidance
    # the fenced '## Hints again' and '# Pitfalls' did not close the real one
    for secret in ("## Hints again", "total = sum(prices)", "# Pitfalls\n~~~", "still part of the solution"):
        assert secret in n.secret and secret not in n.guidance
    assert n.guidance.endswith("## Pitfalls\nOff by one.")


def test_a_fence_never_closed_does_not_publish_the_solution():
    # CommonMark runs an unclosed fence to the end of the file; a solution heading in it stays secret
    src = "## Hints\n```python\nprint('hi')\n# a comment\n\n## Solution\ntotal = sum(prices)\n"
    n = parse("TUTOR.md", src)
    assert "total = sum(prices)" in n.secret and "total = sum(prices)" not in n.guidance
    assert "print('hi')" in n.guidance and "# a comment" in n.guidance
    closed = parse("TUTOR.md", "## Hints\n```\n## Solution\nstill_code\n```\nafter\n")
    assert closed.secret == "" and "still_code" in closed.guidance  # a closed fence is plain code


def test_a_solution_underlined_right_after_a_list_is_secret():
    # for CommonMark 'Solution' is a lazy continuation of the list item and '---' a thematic break
    n = parse(
        "TUTOR.md", "## Hints\n- look at the loop\nSolution\n--------\ntotal = sum(prices)\n## Pitfalls\nok\n"
    )
    assert "total = sum(prices)" in n.secret and "total = sum(prices)" not in n.guidance
    assert "look at the loop" in n.guidance and n.guidance.endswith("## Pitfalls\nok")
    plain = parse("TUTOR.md", "## Hints\n- look at the loop\nthen rest\n---\nvisible\n")
    assert plain.secret == "" and "visible" in plain.guidance


def test_an_indented_code_block_is_code_too():
    n = parse("TUTOR.md", "## Hints\nLook:\n\n    # Solution\n    x = compute()\n\nMore hints here.\n")
    assert n.secret == "" and "x = compute()" in n.guidance and "More hints here." in n.guidance


@pytest.mark.parametrize("underline", ["========", "--------", "="])
def test_setext_headed_solution_is_secret(underline):
    level = 1 if underline.startswith("=") else 2
    closing = "Next part\n=========\n" if level == 1 else "Pitfalls\n--------\n"
    nested = "Why\n---\nstill secret\n\n" if level == 1 else ""
    src = (
        "Objectives\n==========\nLoop over the list.\n\n"
        f"Solution\n{underline}\ntotal = sum(prices)\n\n{nested}{closing}Watch the indentation.\n"
    )
    n = parse("TUTOR.md", src)
    assert "total = sum(prices)" in n.secret and "total = sum(prices)" not in n.guidance
    assert "Solution" in n.secret and "Solution" not in n.guidance
    assert "Loop over the list." in n.guidance and "Watch the indentation." in n.guidance
    if level == 1:
        assert "still secret" in n.secret and "still secret" not in n.guidance


def test_setext_text_that_is_not_a_heading():
    # a paragraph line followed by '===' after a blank line is not a setext heading
    n = parse("TUTOR.md", "Solution\n\n===\nvisible text\n")
    assert n.secret == "" and "visible text" in n.guidance


def test_nested_headings_and_closing_hashes():
    src = (
        "# Lesson ##\n"
        "intro\n"
        "## Answers ##\n"
        "a1 = 1\n"
        "### Part b ###\n"
        "b_secret = 2\n"
        "#### deeper\n"
        "deeper_secret\n"
        "## Pitfalls ##\n"
        "after\n"
        "### The answer to part c\n"
        "c_secret\n"
        "### Other\n"
        "visible_again\n"
        "# Next lesson\n"
        "## Lösung\n"
        "loesung_secret\n"
        "## Corrigé\n"
        "corrige_secret\n"
        "## Solución\n"
        "solucion_secret\n"
        "## Tips\n"
        "final tip\n"
    )
    n = parse("TUTOR.md", src)
    for s in (
        "a1 = 1",
        "b_secret",
        "deeper_secret",
        "c_secret",
        "loesung_secret",
        "corrige_secret",
        "solucion_secret",
    ):
        assert s in n.secret and s not in n.guidance, s
    for s in ("intro", "## Pitfalls ##", "after", "visible_again", "# Next lesson", "final tip"):
        assert s in n.guidance and s not in n.secret, s


@pytest.mark.parametrize(
    "title",
    [
        "Solution",
        "Solutions to exercise 2",
        "Answer key",
        "Musterlösung",
        "Loesung",
        "Antworten",
        "Corrigé",
        "Réponses",
        "Solución",
        "Respuesta",
        "Spoilers",
        "**Solution**",
        "[Answers](#answers)",
    ],
)
def test_secret_heading_words(title):
    n = parse("TUTOR.md", f"## Goals\nvisible\n## {title}\nhidden_body\n")
    assert n.secret.endswith("hidden_body") and "hidden_body" not in n.guidance and "visible" in n.guidance


@pytest.mark.parametrize("title", ["Questions", "Answering questions in class", "Hints", "Objectives"])
def test_other_headings_are_guidance(title):
    n = parse("TUTOR.md", f"## {title}\nbody_text\n")
    assert n.secret == "" and "body_text" in n.guidance


def test_a_secret_heading_in_a_block_quote_hides_the_quote():
    n = parse("TUTOR.md", "Intro line.\n\n> ## Solution\n> quoted_secret()\n\nOutro line.\n")
    assert "quoted_secret" in n.secret and "quoted_secret" not in n.guidance
    assert "Intro line." in n.guidance and "Outro line." in n.guidance


def test_private_spans():
    src = (
        "## Hints\n"
        "Tip: <!-- private -->inline_secret<!-- /private --> keep going.\n"
        "<!-- private -->\n"
        "block_secret_1\n"
        "\n"
        "## Not a real section, still private\n"
        "block_secret_2\n"
        "<!-- /private -->\n"
        "```html\n"
        "<!-- private --> this marker is code, shown to the LLM\n"
        "```\n"
        "<!-- PRIVATE -->unclosed_secret until the end\n"
        "more unclosed\n"
    )
    n = parse("TUTOR.md", src)
    for s in (
        "inline_secret",
        "block_secret_1",
        "block_secret_2",
        "Not a real section",
        "unclosed_secret",
        "more",
    ):
        assert s in n.secret and s not in n.guidance, s
    assert "Tip:  keep going." in n.guidance and "this marker is code" in n.guidance


def test_details_with_a_solution_summary():
    src = (
        "Try it yourself first.\n\n"
        "<details>\n<summary>Show the solution</summary>\n\n"
        "```python\ntotal = sum(prices)\n```\n\n"
        "<details><summary>hint</summary>nested_secret</details>\n"
        "</details>\n\n"
        "<details><summary>A hint</summary>visible hint</details>\n"
    )
    n = parse("TUTOR.md", src)
    assert "total = sum(prices)" in n.secret and "nested_secret" in n.secret
    assert "total = sum(prices)" not in n.guidance and "visible hint" in n.guidance


def test_crlf_and_empty_notes():
    n = parse("TUTOR.md", "## Goals\r\nloops\r\n## Solution\r\nsecret_crlf\r\n")
    assert n.guidance == "## Goals\nloops" and "secret_crlf" in n.secret
    assert parse("TUTOR.md", "") == InstructorNotes("TUTOR.md", "", "")


def test_lines_cover_guidance_and_secret_but_not_short_lines():
    n = parse(
        "TUTOR.md",
        "## Pitfalls\n- Reset the total inside the loop.\nx = 1\n## Solution\ntotal = sum(prices)\n",
    )
    assert "- Reset the total inside the loop." in n.lines and "total = sum(prices)" in n.lines
    assert "x = 1" not in n.lines and "## Pitfalls" not in n.lines  # one word / too short
    assert instructor.candidate_paths("nb.ipynb", "TUTOR.md") == ["nb.tutor.md", "TUTOR.md"]


# -- the copy guard -------------------------------------------------------------------------------

NOTES = parse(
    "TUTOR.md",
    """# Week 2
## Pitfalls
- Learners often reset the accumulator inside the loop body by mistake.
1. Remind them that `range(n)` stops before n
2. Don't print inside the loop — return the value
x = 1
## Solution
```python
total = sum(prices)  # the whole exercise
```
""",
)
GUIDANCE_LINE = "Learners often reset the accumulator inside the loop body by mistake."
SECRET_CODE = "total = sum(prices)"


def run(guard: CopyGuard, deltas) -> list[str]:
    outs = [guard.feed(d) for d in deltas]
    outs.append(guard.finish())
    assert "".join(outs) == guard.text
    return outs


def leaks(text: str, notes: InstructorNotes = NOTES) -> list[str]:
    norm = normalise(text)
    return [p for p in patterns(notes.lines) if p in norm]


def test_no_notes_passes_through():
    g = CopyGuard(None)
    assert g.feed("Learners often reset ") == "Learners often reset " and g.finish() == ""
    assert g.text == "Learners often reset "
    empty = CopyGuard(InstructorNotes("TUTOR.md", "", ""))
    assert run(empty, ["a", "b"]) == ["a", "b", ""]


def test_minimum_length():
    assert not guarded("x = 1") and not guarded("## Hints") and not guarded("print(x)")
    assert not guarded("==========") and not guarded("```python")
    assert (
        not guarded("for x in xs:")
        and guarded("for p in prices:")
        and guarded("total = sum(prices)")
        and guarded("use a dict here")
    )
    assert len(normalise_line("- `for p in xs:`")) == MIN_CHARS - 1 and not guarded("- `for p in xs:`")
    assert normalise_line("1. Remind them that `range(n)` stops") == "remind them that range(n) stops"
    assert normalise_line("### Part **b** ###") == "part b"
    # a short notes line appears unchanged
    assert "".join(run(CopyGuard(NOTES), ["set x = 1 ", "first"])) == "set x = 1 first"


@pytest.mark.parametrize("line", [GUIDANCE_LINE, SECRET_CODE])
def test_every_split_into_two_and_three_deltas(line):
    before, after = "Hint: ", " Check that."
    text = before + line + after
    expected = before + REDACTED + line[len(line.rstrip(".")) :] + after  # the final '.' is kept
    n = len(text)
    for i in range(n + 1):
        assert "".join(run(CopyGuard(NOTES), [text[:i], text[i:]])) == expected, i
    for i in range(n + 1):
        for j in range(i, n + 1):
            outs = run(CopyGuard(NOTES), [text[:i], text[i:j], text[j:]])
            assert "".join(outs) == expected, (i, j)
            assert not any(leaks(o) for o in outs)


def test_nothing_of_a_copied_line_is_emitted_before_it_is_decided():
    g = CopyGuard(NOTES)
    out = g.feed("Hint: learners often reset the accumulator")
    assert out == "Hint: "  # the rest could still become the copied line: held back
    assert g.feed(" inside the loop body by mistake") == ""
    assert g.feed(". Then") == REDACTED + ". Then"  # decided: replaced; ' Then' starts no notes line
    assert g.feed(" check.") == " check." and g.finish() == ""
    assert g.text == "Hint: […]. Then check."


def test_partial_copies_that_diverge_are_released_unchanged():
    g = CopyGuard(NOTES)
    assert g.feed("Learners often reset the accumulator inside the") == ""
    out = g.feed(" function, which is fine.")
    assert out == "Learners often reset the accumulator inside the function, which is fine."
    assert g.held == 0 and g.finish() == ""
    text = "Learners often reset the counter. total = sum(values) works. Remind them that range"
    assert "".join(run(CopyGuard(NOTES), list(text))) == text


def test_markup_case_and_spacing_do_not_hide_a_copy():
    for copied in (
        "**Learners** often reset the `accumulator`\ninside the loop body by mistake.",
        "> LEARNERS OFTEN RESET THE ACCUMULATOR INSIDE THE LOOP BODY BY MISTAKE.",
        "- Remind them that range(n) stops before n",
        "```python\ntotal = sum(prices)\n```",
        "`total  =  sum(prices)`",
        "Don’t print inside the loop – return the value",
        "don't print inside the loop - return the value",
    ):
        out = "".join(run(CopyGuard(NOTES), re.findall(r"\s*\S+", copied)))
        assert REDACTED in out and not leaks(out), copied


def test_overlapping_copies_become_one_mark():
    notes = InstructorNotes("TUTOR.md", "alpha beta gamma delta\ngamma delta epsilon zeta", "")
    assert "".join(run(CopyGuard(notes), list("x alpha beta gamma delta epsilon zeta y"))) == "x […] y"


def test_redact_verbatim_still_works():
    text = f"Hint: {GUIDANCE_LINE} Check that."
    assert redact_verbatim(text, NOTES) == "Hint: […]. Check that."
    assert redact_verbatim(text, None) == text and redact_verbatim("", NOTES) == ""


def test_random_streams_never_emit_a_notes_line():
    rng = random.Random(10)
    lines = [
        " ".join(
            rng.choice(["loop", "total", "the", "list", "sum", "value", "index", "print", "n"])
            for _ in range(k)
        )
        for k in rng.choices(range(2, 12), k=300)
    ]
    notes = parse(
        "TUTOR.md",
        "## Hints\n"
        + "\n".join(f"- {ln}" for ln in lines[:250])
        + "\n## Solution\n"
        + "\n".join(lines[250:]),
    )
    pats = patterns(notes.lines)
    longest = max(len(p) for p in pats)
    vocab = [
        "loop",
        "total",
        "the",
        "list",
        "sum",
        "value",
        "index",
        "print",
        "n",
        "ok",
        "**",
        "`",
        "\n",
        ".",
    ]
    for _ in range(30):
        parts = []
        while sum(map(len, parts)) < 8000:
            parts.append(rng.choice(lines) if rng.random() < 0.05 else rng.choice(vocab))
        answer = " ".join(parts)
        guard = CopyGuard(notes)
        deltas, at = [], 0
        while at < len(answer):
            step = rng.randint(1, 40)
            deltas.append(answer[at : at + step])
            at += step
        outs = []
        for d in deltas:
            outs.append(guard.feed(d))
            assert guard.held <= 3 * longest + 40  # the held tail stays bounded
        outs.append(guard.finish())
        text = "".join(outs)
        norm = normalise(text)
        assert not [p for p in pats if p in norm]
        assert len(text) <= len(answer)


def test_underscores_between_word_characters_count_emphasis_does_not():
    notes = InstructorNotes("TUTOR.md", "- Store it in total_price before the loop", "")
    for copied, caught in (
        ("Store it in total_price before the loop", True),
        ("_Store it in total_price before the loop_", True),
        ("Store it in _total_price_ before the loop", True),
        ("store it in __total_price__ before the loop", True),
        ("Store it in total price before the loop", False),  # not the same words
        ("Store it in totalprice before the loop", False),
    ):
        for size in (1, 3, 100):
            g = CopyGuard(notes)
            out = "".join(run(g, [copied[i : i + size] for i in range(0, len(copied), size)]))
            assert (REDACTED in out) is caught and (out == copied) is not caught, (copied, size)
    assert normalise("a __init__ b_ _c d_e x__y") == "a init b c d_e x__y"


def test_an_undecided_underscore_is_held():
    notes = InstructorNotes("TUTOR.md", "remember the x_y helper", "")
    g = CopyGuard(notes)
    assert g.feed("use x") == "use x"  # 'x' starts no notes line
    assert g.feed("_") == ""  # kept or dropped depending on what follows
    assert g.feed("z.") == "_z." and g.finish() == ""


def test_feeding_after_finish_starts_afresh():
    g = CopyGuard(NOTES)
    assert g.feed("Learners often") == "" and g.finish() == "Learners often"
    # a new segment: what finish() released is not held, so this alone is no copy of a notes line
    assert g.feed(" reset the accumulator inside the loop body by mistake.") != ""
    assert g.finish() == "" and g.feed(f" {GUIDANCE_LINE}") == f" {REDACTED}." and g.finish() == ""
    assert g.text == f"Learners often reset the accumulator inside the loop body by mistake. {REDACTED}."


def test_final_punctuation_does_not_hide_a_copy():
    for end in ("!", "", ",", " :", "?"):
        copied = GUIDANCE_LINE.rstrip(".") + end + " Then"
        out = "".join(run(CopyGuard(NOTES), re.findall(r"\S+\s*", copied)))
        assert out.startswith(REDACTED) and not leaks(out), copied
