"""InstructEngine's cross-validation alignment on hand-made judgments, the score that folds rules and
judge together, and the prompt file's errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from tiny_configs import tiny_config

from polyrlaif.core.config import load_config
from polyrlaif.core.io import InputError
from polyrlaif.core.records import Candidate, Judgment, MediaRef
from polyrlaif.domains.text_to_image.build import score_under
from polyrlaif.domains.text_to_image.data import load_prompts
from polyrlaif.domains.text_to_image.judge import cross_validation_pairs

A, B = "a red square to the left of a blue circle", "a blue square to the left of a red circle"


def _prompts(tmp_path: Path) -> dict:
    path = tmp_path / "p.jsonl"
    path.write_text(
        f'{{"text": "{A}", "prompt_id": "A", "group": "g1", "axis": "colour"}}\n'
        f'{{"text": "{B}", "prompt_id": "B", "group": "g1", "axis": "colour"}}\n'
        '{"text": "two green triangles", "prompt_id": "C"}\n'
    )
    return {p.prompt_id: p for p in load_prompts(path)}


def _cand(cid: str, pid: str) -> Candidate:
    return Candidate(
        candidate_id=cid, prompt_id=pid, text="", media=[MediaRef("image", f"{cid}.png", cid * 8)]
    )


def _judged(cid: str, pid: str, own: float, under: dict[str, float]) -> Judgment:
    return Judgment(cid, "clip:x", "reward", prompt_id=pid, score=own, scores={"cosine": own, "under": under})


def test_analogous_prompts_know_each_other(tmp_path: Path) -> None:
    prompts = _prompts(tmp_path)
    assert prompts["A"].meta["analogs"] == {"B": B} and prompts["B"].meta["analogs"] == {"A": A}
    assert "analogs" not in prompts["C"].meta


def _run(tmp_path: Path, a_under_b: float, b_under_a: float):
    cfg = load_config(tiny_config("text_to_image"), ["domain.rule_weight=0", "domain.judge_weight=1"])
    prompts = _prompts(tmp_path)
    cands = [_cand("a0", "A"), _cand("a1", "A"), _cand("b0", "B"), _cand("b1", "B")]
    verdicts = {
        "a0": [_judged("a0", "A", 0.9, {"B": a_under_b})],
        "a1": [_judged("a1", "A", 0.1, {"B": 0.0})],
        "b0": [_judged("b0", "B", 0.8, {"A": b_under_a})],
        "b1": [_judged("b1", "B", 0.2, {"A": 0.0})],
    }
    scores = {c.candidate_id: score_under(cfg, c, verdicts[c.candidate_id], c.prompt_id) for c in cands}

    def under(c, js, pid):
        return score_under(cfg, c, js, pid)

    return cross_validation_pairs(prompts, cands, verdicts, scores, under_score=under)


def test_agreement_both_ways_makes_two_pairs(tmp_path: Path) -> None:
    pairs, counts = _run(
        tmp_path, a_under_b=0.3, b_under_a=0.2
    )  # a fits A better than b does, and vice versa
    assert counts == {"comparisons": 1.0, "agreed": 1.0, "dropped": 0.0, "added": 2.0}
    got = {(p.prompt_id, p.chosen_id, p.rejected_id) for p in pairs}
    assert got == {("A", "a0", "b0"), ("B", "b0", "a0")}
    by_prompt = {p.prompt_id: p for p in pairs}
    assert by_prompt["A"].margin == pytest.approx(0.9 - 0.2) and by_prompt["B"].margin == pytest.approx(
        0.8 - 0.3
    )
    assert by_prompt["A"].chosen_media[0].uri == "a0.png" and by_prompt["A"].rejected_media[0].uri == "b0.png"
    assert by_prompt["A"].provenance["cross_validation"] == {"analog": "B"}


def test_disagreement_drops_the_comparison(tmp_path: Path) -> None:
    pairs, counts = _run(tmp_path, a_under_b=0.95, b_under_a=0.2)  # a scores higher under B than b does
    assert pairs == [] and counts["dropped"] == 1.0 and counts["agreed"] == 0.0


def test_score_folds_rules_and_judge(tmp_path: Path) -> None:
    cfg = load_config(tiny_config("text_to_image"), ["domain.rule_weight=2", "domain.judge_weight=1"])
    cand = _cand("a0", "A")
    rules = Judgment("a0", "rules", "verifier", prompt_id="A", score=0.5, scores={"under": {"B": 0.25}})
    judge = _judged("a0", "A", 0.9, {"B": 0.4})
    assert score_under(cfg, cand, [rules, judge], "A") == pytest.approx(2 * 0.5 + 0.9)
    assert score_under(cfg, cand, [rules, judge], "B") == pytest.approx(2 * 0.25 + 0.4)
    no_rule = Judgment(
        "a0", "rules", "verifier", prompt_id="A", failure="no_rule_applies: outside the grammar"
    )
    assert score_under(cfg, cand, [no_rule, judge], "A") == pytest.approx(0.9)  # the judge alone decides
    assert score_under(cfg, cand, [no_rule], "A") is None


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ('{"prompt_id": "x"}\n', r"p.jsonl:1: missing field\(s\) 'text'"),
        ('{"text": "a"}\n{"text": 3}\n', r"p.jsonl:2: field 'text' must be a string"),
        (
            '{"text": "a", "prompt_id": "x"}\n{"text": "b", "prompt_id": "x"}\n',
            r"p.jsonl:2: field 'prompt_id' repeats",
        ),
        ('{"text": "  "}\n', r"p.jsonl:1: field 'text' is empty"),
    ],
)
def test_bad_prompt_files_name_file_line_and_field(tmp_path: Path, rows: str, message: str) -> None:
    (tmp_path / "p.jsonl").write_text(rows)
    with pytest.raises(InputError, match=message):
        load_prompts(tmp_path / "p.jsonl")
