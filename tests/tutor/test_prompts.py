"""Prompts: the secret parts of the notes never reach a prompt; the learner's question is sent once."""

import json

from ltt_ext.tutor import prompts
from ltt_ext.tutor.instructor import parse

NOTES = parse(
    "TUTOR.md",
    """# Week 3: loops
## Objectives
Accumulate a running total with a for loop.
```python
# Solution: this fenced line is code, and the objectives go on
example = [1, 2, 3]
```
## Hints
- Ask what value the total has before the loop starts.
- total = sum(prices)  (pasted again here by mistake)
- total = sum(prices)

Solution
--------
total = sum(prices)
secret_marker_solution_body
### Variant
secret_marker_variant
## Pitfalls
Resetting the total inside the loop.
<!-- private -->secret_marker_private<!-- /private -->
""",
)
SECRETS = (
    "secret_marker_solution_body",
    "secret_marker_variant",
    "secret_marker_private",
    "total = sum(prices)\n",
)


def everything(messages) -> str:
    return json.dumps(messages, ensure_ascii=False) + "\n".join(m["content"] for m in messages)


def assert_no_secret(messages) -> None:
    text = "\n".join(m["content"] for m in messages)
    for s in SECRETS:  # the solution line, repeated under the hints, is cut out there too
        assert s not in everything(messages)
    assert "Variant" not in text and "Solution\n--------" not in text


def test_the_secret_section_never_reaches_a_prompt():
    assert "secret_marker_solution_body" in NOTES.secret and "secret_marker_private" in NOTES.secret
    for allow in (False, True):
        for level in (1, 2, 3):
            msgs = prompts.hint_messages(
                "## The failing cell\n```\nprint(totl)\n```", level, allow, NOTES, "help"
            )
            assert_no_secret(msgs)
            assert "Accumulate a running total" in msgs[0]["content"]
            assert "Resetting the total inside the loop." in msgs[0]["content"]
            assert "# Solution: this fenced line is code" in msgs[0]["content"]  # fenced: guidance
        msgs = prompts.question_messages(
            "how do I add them up?", "ctx", allow, NOTES, [("learner", "hi"), ("tutor", "Hello!")]
        )
        assert_no_secret(msgs)
        assert "Ask what value the total has" in msgs[0]["content"]
    assert "instructor-notes" not in prompts.system_prompt(False, None)
    assert "- […]  (pasted again here by mistake)\n- […]\n" in prompts.prompt_guidance(NOTES)


def test_the_question_is_sent_once():
    q = "Why does my loop print 0?"
    msgs = prompts.question_messages(
        q, "ctx", False, None, [("learner", "hi"), ("tutor", "Hello!"), ("learner", q)]
    )
    assert [m["content"] for m in msgs].count(q) == 1
    assert [m["role"] for m in msgs] == ["system", "system", "user", "assistant", "user"]
    assert msgs[-1] == {"role": "user", "content": q}
    # the caller passing history without it: the same messages
    assert msgs == prompts.question_messages(q, "ctx", False, None, [("learner", "hi"), ("tutor", "Hello!")])
    # whitespace differences do not make it a second question
    msgs = prompts.question_messages(q, "", False, None, [("learner", f"  {q}\n")])
    assert [m["role"] for m in msgs] == ["system", "user"] and msgs[-1]["content"] == q
    # an earlier identical question (asked again after an answer) is a real turn and stays
    msgs = prompts.question_messages(q, "", False, None, [("learner", q), ("tutor", "Look at line 2.")])
    assert [m["content"] for m in msgs[1:]] == [q, "Look at line 2.", q]
    # the tutor saying the same words is not the learner's question
    msgs = prompts.question_messages(q, "", False, None, [("tutor", q)])
    assert [m["role"] for m in msgs] == ["system", "assistant", "user"]


def test_hint_request_appears_once():
    msgs = prompts.hint_messages("ctx", 2, False, None, "I don't get it")
    assert sum(m["content"].count("I don't get it") for m in msgs) == 1
