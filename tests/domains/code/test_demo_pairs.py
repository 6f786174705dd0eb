"""The demo's pairs, built from recorded candidates: unit tests separate chosen from rejected.

``fixtures/round_1_candidates.jsonl`` holds 28 candidates of seven tasks, with their verdicts, from a
round of SmolLM2-135M-Instruct at temperature 0.8 (unit tests, the API-usage check and the 135M yes/no
judge, whose p(yes) ranked passing code *below* failing code in that round).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from polyrlaif.core.config import load_config
from polyrlaif.core.pairs import build_pairs
from polyrlaif.core.records import Candidate, Judgment, PromptRecord
from polyrlaif.datasets.code_tasks import load_code_tasks
from polyrlaif.domains.code.build import score_candidate
from polyrlaif.domains.code.data import task_to_prompt
from polyrlaif.domains.code.prompts import extract_code

FIXTURE = Path(__file__).with_name("fixtures") / "round_1_candidates.jsonl"


def tier(status: str) -> int:
    """2 passing, 1 runnable (ran to a failed assertion), 0 crashing."""
    return {"passed": 2, "failed": 1}.get(status, 0)


def recorded(with_judge: bool):
    rows = [json.loads(line) for line in FIXTURE.read_text().splitlines()]
    prompts = {t["task_id"]: task_to_prompt(t) for t in load_code_tasks()}
    cands = [
        Candidate(r["candidate_id"], r["prompt_id"], r["text"], meta={"code": extract_code(r["text"])})
        for r in rows
    ]
    verdicts = {
        r["candidate_id"]: [
            Judgment(candidate_id=r["candidate_id"], prompt_id=r["prompt_id"], **j)
            for j in r["judgments"]
            if with_judge or j["kind"] != "yesno"
        ]
        for r in rows
    }
    status = {r["candidate_id"]: r["judgments"][0]["scores"]["status"] for r in rows}
    return prompts, cands, verdicts, status


def pairs_for(cfg, with_judge: bool):
    prompts, cands, verdicts, status = recorded(with_judge)
    d = cfg.domain
    scores = {
        c.candidate_id: score_candidate(
            prompts[c.prompt_id],
            c,
            verdicts[c.candidate_id],
            test_weight=d.test_weight,
            judge_weight=d.judge_weight,
            api_penalty=d.api_penalty,
            runnable_credit=d.runnable_credit,
        )
        for c in cands
    }
    pairs, _ = build_pairs(
        prompts,
        cands,
        scores,
        min_margin=cfg.pairs.min_margin,
        max_pairs_per_prompt=cfg.pairs.max_pairs_per_prompt,
        strategy=cfg.pairs.strategy,
        max_uses_per_candidate=cfg.pairs.max_uses_per_candidate,
    )
    return [(status[p.chosen_id], status[p.rejected_id], p.prompt_id) for p in pairs]


@pytest.mark.parametrize("with_judge", [False, True])
def test_demo_pairs_separate_passing_runnable_and_crashing(with_judge):
    got = pairs_for(load_config("code/demo"), with_judge)
    # every pair crosses a tier, the right way round; a judge's p(yes) alone never makes one
    assert got and all(tier(c) > tier(r) for c, r, _ in got)
    assert ("passed", "failed") in {(c, r) for c, r, _ in got}
    assert any(tier(c) >= 1 and tier(r) == 0 for c, r, _ in got)
    paired = {p for _, _, p in got}
    # tasks whose four samples all failed, or all crashed, teach nothing about correctness
    assert "polyrlaif/strings/0" not in paired and "polyrlaif/windows/5" not in paired
    mixed = {"polyrlaif/list_arithmetic/9", "polyrlaif/counting/11", "polyrlaif/dynamic_programming/6",
             "polyrlaif/list_ops/8"}  # fmt: skip
    assert mixed <= paired


def test_old_settings_paired_on_judge_noise():
    """What the demo trained on before: pass/fail only, so the judge's p(yes) ranked the rest."""
    old = load_config(
        "code/demo",
        ["domain.runnable_credit=0.0", "domain.judge_weight=0.5", "pairs.min_margin=0.02",
         "pairs.max_pairs_per_prompt=1", "pairs.strategy=best_worst"],
    )  # fmt: skip
    got = pairs_for(old, with_judge=True)
    assert any(tier(c) < tier(r) for c, r, _ in got)  # crashing code chosen over runnable code


def test_score_tiers_and_unparsable_code():
    prompts, cands, _, _ = recorded(False)
    cand = cands[0]
    prompt = prompts[cand.prompt_id]

    def tests(status: str) -> Judgment:
        return Judgment(
            candidate_id="c", judge_id="unit_tests", kind="verifier",
            score=1.0 if status == "passed" else 0.0, scores={"status": status},
        )  # fmt: skip

    score = lambda *js: score_candidate(prompt, cand, list(js), runnable_credit=0.5)  # noqa: E731
    assert score(tests("passed")) == 1.0 and score(tests("failed")) == 0.5
    assert score(tests("error")) == score(tests("timeout")) == 0.0
    # code that does not parse: the API check gives no score and no failure, so costs nothing extra
    unparsable = Judgment(candidate_id="c", judge_id="api_usage", kind="verifier", score=None)
    assert score(tests("error"), unparsable) == 0.0
    unresolved = Judgment(candidate_id="c", judge_id="api_usage", kind="verifier", score=0.0)
    assert score(tests("failed"), unresolved) == pytest.approx(0.25)


def test_a_body_less_stub_earns_no_runnable_credit() -> None:
    from polyrlaif.domains.code.verifier import is_stub

    stub = 'def f(x: int) -> int:\n    """Return x doubled."""\n'
    assert is_stub(stub) and is_stub("def f():\n    pass\n") and is_stub("def f():\n    ...\n")
    assert (
        not is_stub("def f(x):\n    return 2 * x\n") and not is_stub("def f(:\n") and not is_stub("x = 1\n")
    )
    prompt = PromptRecord(prompt_id="p", text="double x")
    failed = Judgment(candidate_id="c", judge_id="unit_tests", kind="verifier", score=0.0,
                      scores={"status": "failed"})  # fmt: skip
    wrong = Candidate(candidate_id="c", prompt_id="p", text="", meta={"code": "def f(x):\n    return x\n"})
    empty = Candidate(candidate_id="c", prompt_id="p", text="", meta={"code": stub})
    assert score_candidate(prompt, wrong, [failed], runnable_credit=0.5) == 0.5
    assert score_candidate(prompt, empty, [failed], runnable_credit=0.5) == 0.0  # as low as a crash
