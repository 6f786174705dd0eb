"""The code rubric judge in both modes, against the rule-based HTTP judge endpoint."""

from __future__ import annotations

import pytest

from polyrlaif.core.config import JudgeConfig
from polyrlaif.core.records import Candidate, Judgment
from polyrlaif.domains.code.build import score_candidate
from polyrlaif.domains.code.data import load_prompts
from polyrlaif.domains.code.judge import build_rubric_judge, code_context


def _candidates(prompt):
    return [
        Candidate(candidate_id=f"c{i}", prompt_id=prompt.prompt_id, text=f"```python\n{body}\n```")
        for i, body in enumerate(["def f():\n    return 1", "def f():\n    return 2"])
    ]


@pytest.mark.parametrize("mode", ["pointwise", "yesno", "pairwise"])
def test_rubric_judge_modes_see_test_results(mode, rule_judge, tmp_path):
    url, server = rule_judge
    prompt = load_prompts("train")[0]
    cands = _candidates(prompt)
    verdict = Judgment(
        candidate_id="c0",
        judge_id="unit_tests",
        kind="verifier",
        score=0.0,
        scores={"status": "failed"},
        context={"stderr_tail": "AssertionError: boom"},
    )
    contexts = [code_context(prompt, cands[0], [verdict]), {"unit_tests": "all tests passed"}]
    cfg = JudgeConfig(backend="openai", base_url=url, model="rule-judge")
    judge = build_rubric_judge(cfg, mode=mode, cache_path=str(tmp_path / "cache.sqlite"))
    got = judge.judge({prompt.prompt_id: prompt}, cands, contexts)
    assert [j.kind for j in got] == [mode, mode]
    assert all(j.ok and 0.0 <= j.score <= 1.0 for j in got)
    assert (
        got[0].context["unit_tests"] == "not passed (failed)" and "boom" in got[0].context["failure_output"]
    )
    if mode == "pairwise":  # one comparison, asked in both orders: one winner, no disagreement
        assert sorted(j.score for j in got) == [0.0, 1.0]
        assert judge.stats.as_dict()["disagreement_rate"] == 0.0 and server.requests == 2
    else:
        assert got[0].judge_prompt_hash != got[1].judge_prompt_hash
    asked = server.requests
    again = build_rubric_judge(cfg, mode=mode, cache_path=str(tmp_path / "cache.sqlite"))
    replay = again.judge({prompt.prompt_id: prompt}, cands, contexts)
    assert server.requests == asked and all(j.cached for j in replay)
    assert [j.score for j in replay] == [j.score for j in got]


def test_unknown_mode_is_named(rule_judge):
    with pytest.raises(ValueError, match="rubric_mode"):
        build_rubric_judge(JudgeConfig(backend="openai", base_url=rule_judge[0]), mode="vibes")


def test_score_tests_dominate_and_failures_are_none():
    prompt = load_prompts("train")[0]
    cand = _candidates(prompt)[0]
    passed = Judgment(candidate_id="c0", judge_id="unit_tests", kind="verifier", score=1.0)
    failed = Judgment(candidate_id="c0", judge_id="unit_tests", kind="verifier", score=0.0)
    great = Judgment(candidate_id="c0", judge_id="yesno:x", kind="yesno", score=1.0)
    bad_api = Judgment(candidate_id="c0", judge_id="api_usage", kind="verifier", score=0.0)
    assert score_candidate(prompt, cand, [passed]) > score_candidate(prompt, cand, [failed, great])
    assert score_candidate(prompt, cand, [passed, bad_api]) == pytest.approx(0.75)
    broken = Judgment(candidate_id="c0", judge_id="unit_tests", kind="verifier", failure="sandbox_error: x")
    assert score_candidate(prompt, cand, [broken, great]) is None
