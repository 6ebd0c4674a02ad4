"""The held-out hint cases (benchmarks/hint_heldout.py) replayed in-process, exactly like the corpus in
test_hint_corpus_offline.py: the cells run with ``exec``, the runtime facts are read with the kernel
probe, and the evaluation's scoring is asserted with and without facts. The held-out cases are not
the ones the engine is tuned on: a failure here is a rule that does not generalise."""

import json
import sys

import pytest
from test_hint_corpus_offline import E, read_facts, run_case

from benchmarks.hint_corpus import CASES
from benchmarks.hint_eval import score
from benchmarks.hint_heldout import HELDOUT, TYPED
from ltt_ext.tutor.context import defined_names


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
    for name, data in case.files.items():
        (tmp_path / name).write_bytes(data)
    monkeypatch.chdir(tmp_path)
    typed = iter(TYPED.get(case.id, ()))
    monkeypatch.setattr("builtins.input", lambda prompt="": next(typed))  # what the learner types
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(300)  # RecursionError cases: a short traceback
    try:
        error, ns = run_case(case, tmp_path)
    finally:
        sys.setrecursionlimit(limit)
    assert error.ename == case.ename, (error.ename, error.evalue)
    names: set[str] = set()
    for src in (*case.setup, *case.unrun, case.code):
        names |= defined_names(src)
    from ltt_ext.tutor.hints.where import locate

    where = locate(error, case.code)
    fa = read_facts(case.code, where.lineno if where.in_cell else None, ns)
    for with_facts in (True, False):
        texts = [E.hint(error, case.code, lv, names, facts=fa if with_facts else None) for lv in (1, 2, 3)]
        s = score(case, texts)
        needs = case.needs_facts and not with_facts
        assert s.specific_l1, (with_facts, s.missing_l1, texts[0])
        assert s.specific_l12 or needs, (with_facts, s.missing_l12, texts[:2])
        assert s.correct, (with_facts, s.wrong, texts)
        assert not s.revealing, (with_facts, s.revealed, texts)
    json.dumps(texts)  # plain text, ready for the store
