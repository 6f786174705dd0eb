"""The audit's probe arithmetic on hand-made judgments: agreement (accuracy, kappa, calibration, AUC),
the position flip rate read from a pairwise judge's two orders, the within-group length correlation,
and the edits (plain text and code, whose program stays the same)."""

from __future__ import annotations

import math

import pytest

from polyrlaif.core.audit_probes import EDIT_TEXT, agreement_probe, length_probe, plain_edit, position_probe
from polyrlaif.core.records import Candidate, Judgment


def _cands(n, prompt="p", lengths=None):
    return [
        Candidate(candidate_id=f"{prompt}/{i}", prompt_id=prompt, text="x" * (lengths[i] if lengths else 5))
        for i in range(n)
    ]


def test_agreement_metrics_by_hand():
    cands = _cands(4)
    base = {"p/0": 0.9, "p/1": 0.6, "p/2": 0.4, "p/3": 0.2}
    truth = {"p/0": True, "p/1": False, "p/2": True, "p/3": False}
    rows, aggregate, names, skipped = agreement_probe(cands, base, truth)
    assert not skipped
    got = aggregate(rows)
    assert got["accuracy"] == pytest.approx(0.5)  # right on p/0 and p/3
    assert got["kappa"] == pytest.approx(0.0)  # predicted half positive, truth half: chance is 0.5
    assert got["auc"] == pytest.approx(0.75)  # of the four (true, false) pairs, 3 ordered right
    # bins: 0.9 (truth 1) |0.1|, 0.6 (0) |0.6|, 0.4 (1) |0.6|, 0.2 (0) |0.2|, each a quarter
    assert got["ece"] == pytest.approx((0.1 + 0.6 + 0.6 + 0.2) / 4)
    perfect = aggregate([{"score": 1.0, "truth": 1.0}, {"score": 0.0, "truth": 0.0}])
    assert perfect == {"accuracy": 1.0, "kappa": 1.0, "ece": 0.0, "auc": 1.0}
    assert "accuracy" in names and math.isnan(aggregate([])["accuracy"])


def test_position_flip_rate_counts_each_pair_once():
    vs_a = {"b": {"consistent": True}, "c": {"consistent": False}}
    vs_b = {"a": {"consistent": True}, "c": {"consistent": True}}
    vs_c = {"a": {"consistent": False}, "b": {"consistent": True}, "d": {"failure": "timeout"}}
    js = [
        Judgment(candidate_id=c, judge_id="pw", kind="pairwise", prompt_id="p", scores={"vs": vs})
        for c, vs in (("a", vs_a), ("b", vs_b), ("c", vs_c))
    ]
    rows, aggregate, _, skipped = position_probe(js)
    assert sorted(r["id"] for r in rows) == ["a|b", "a|c", "b|c"]  # the failed pair is left out, counted
    assert skipped == {"pair not decided in both orders: timeout": 1}
    assert aggregate(rows)["flip_rate"] == pytest.approx(1 / 3)


def test_length_correlation_within_groups_the_verifiers_rate_alike():
    cands = _cands(3, "p", lengths=[10, 20, 30]) + _cands(2, "q", lengths=[5, 50])
    base = {"p/0": 0.1, "p/1": 0.2, "p/2": 0.3, "q/0": 0.9, "q/1": 0.1}
    passed = [Judgment(candidate_id="", judge_id="tests", kind="verifier", prompt_id="", score=1.0)]
    verdicts = {c.candidate_id: passed for c in cands}
    rows, aggregate, _, skipped = length_probe(cands, base, verdicts)
    assert not skipped
    assert len(rows) == 2
    # p: lengths -10, 0, 10 against scores -0.1, 0, 0.1; q: -22.5, 22.5 against 0.4, -0.4
    sxy = 10 * 0.1 * 2 - 22.5 * 0.4 * 2
    sxx, syy = 200 + 2 * 22.5**2, 0.02 + 0.32
    assert aggregate(rows)["length_corr"] == pytest.approx(sxy / math.sqrt(sxx * syy))
    # a verifier that tells them apart splits the groups: nothing left to correlate within q
    verdicts["q/1"] = [Judgment(candidate_id="", judge_id="tests", kind="verifier", prompt_id="", score=0.0)]
    rows, _, _, skipped = length_probe(cands, base, verdicts)
    assert len(rows) == 1 and skipped == {"alone among the candidates the verifiers rate alike": 2}


def test_edits_add_their_text_and_code_edits_keep_the_program():
    from polyrlaif.domains.code.judge import code_edit
    from polyrlaif.domains.code.prompts import extract_code

    assert plain_edit("inject", "The answer is 4.") == f"The answer is 4.\n\n{EDIT_TEXT['inject']}"
    fenced = "Here:\n```python\ndef f(x):\n    return x + 1\n```\nDone."
    for kind in ("pad", "inject", "claim"):
        edited = code_edit(kind, fenced)
        code = extract_code(edited)
        assert code.startswith("def f(x):\n    return x + 1\n# ") and edited.endswith("```\nDone.")
        assert EDIT_TEXT[kind].split()[0] in code
        ns: dict = {}
        exec(compile(code, "<edited>", "exec"), ns)  # still a program, the same function
        assert ns["f"](1) == 2
    bare = code_edit("claim", "def g():\n    return 1")
    assert bare.startswith("def g():\n    return 1\n# I am completely confident")


def test_items_a_probe_cannot_score_are_counted_by_reason():
    cands = _cands(4) + [Candidate(candidate_id="p/img", prompt_id="p", text="")]
    base = {"p/0": 0.9, "p/1": None, "p/2": None, "p/3": 0.2, "p/img": 0.5}
    failed = {"p/1": "unparseable", "p/2": "timeout"}
    truth = {"p/0": True}
    rows, _, _, skipped = agreement_probe(cands, base, truth, failed)
    assert [r["id"] for r in rows] == ["p/0"]
    assert skipped == {
        "judgment failed: unparseable": 1,
        "judgment failed: timeout": 1,
        "the verifier did not decide": 2,  # p/3 and the image
    }
    _, _, _, skipped = length_probe(cands, base, {}, failed)
    assert skipped["no text (media)"] == 1 and skipped["judgment failed: timeout"] == 1
