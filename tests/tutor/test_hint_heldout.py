"""The held-out hint cases (benchmarks/hint_heldout.py) replayed in-process, exactly like the corpus in
test_hint_corpus_offline.py: the cells run with ``exec``, the runtime facts are read with the kernel
probe, and the evaluation's scoring is asserted with and without facts. The cases were written apart
from the engine (its first run failed 11 of 83; the rules were fixed, not the cases)."""

import pytest
from test_hint_corpus_offline import assert_case_hints

from benchmarks.hint_corpus import CASES
from benchmarks.hint_heldout import HELDOUT, TYPED


def test_heldout_is_apart_from_the_corpus():
    ids = [c.id for c in HELDOUT]
    assert len(ids) >= 45
    assert len(set(ids)) == len(ids)
    assert all(i.startswith("ho-") for i in ids)
    assert not {c.code for c in HELDOUT} & {c.code for c in CASES}
    assert set(TYPED) <= set(ids)


@pytest.mark.filterwarnings("ignore::SyntaxWarning")
@pytest.mark.parametrize("case", HELDOUT, ids=[c.id for c in HELDOUT])
def test_heldout_case_offline(case, tmp_path, monkeypatch):
    typed = iter(TYPED.get(case.id, ()))
    monkeypatch.setattr("builtins.input", lambda prompt="": next(typed))  # what the learner types
    assert_case_hints(case, tmp_path, monkeypatch)
