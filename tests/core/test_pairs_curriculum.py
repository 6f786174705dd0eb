"""The curriculum thresholds (Align-SLM): a pair is kept only when its chosen score clears chosen_min
and its rejected score stays under rejected_max, on a per-round schedule whose last value holds."""

from __future__ import annotations

import pytest
from tiny_configs import tiny_config

from polyrlaif.core.feedback import scheduled
from polyrlaif.core.pairs import build_pairs
from polyrlaif.core.records import Candidate, PromptRecord


def _round(scores_by_prompt: dict[str, list[float]]):
    prompts = {p: PromptRecord(prompt_id=p, text=p) for p in scores_by_prompt}
    cands, scores = [], {}
    for p, values in scores_by_prompt.items():
        for j, s in enumerate(values):
            c = Candidate(candidate_id=f"{p}/{j}", prompt_id=p, text=f"{p} answer {j}")
            cands.append(c)
            scores[c.candidate_id] = s
    return prompts, cands, scores


def test_thresholds_keep_only_confident_pairs() -> None:
    prompts, cands, scores = _round({"a": [0.9, 0.1], "b": [0.55, 0.2], "c": [0.95, 0.6]})
    kept, stats = build_pairs(
        prompts, cands, scores, max_pairs_per_prompt=1, chosen_min=0.6, rejected_max=0.3
    )
    assert [p.prompt_id for p in kept] == ["a"]  # b: chosen 0.55 < 0.6; c: rejected 0.6 > 0.3
    assert stats.curriculum == 2 and stats.pairs == 1
    everything, stats = build_pairs(prompts, cands, scores, max_pairs_per_prompt=1)
    assert len(everything) == 3 and stats.curriculum == 0


@pytest.mark.parametrize(("values", "round_idx", "expected"), [
    ([0.5, 0.6, 0.7], 1, 0.5), ([0.5, 0.6, 0.7], 3, 0.7), ([0.5, 0.6, 0.7], 5, 0.7), ([], 2, None),
])  # fmt: skip
def test_the_schedule_tightens_then_holds(values, round_idx, expected) -> None:
    assert scheduled(values, round_idx) == expected


def test_a_curriculum_run_takes_the_prompts_in_order_slice_by_slice() -> None:
    from polyrlaif.core.config import load_config
    from polyrlaif.core.run import round_subset

    items = list(range(10))  # a domain's prompts, easy to hard
    cfg = load_config(tiny_config("code"), ["run.num_prompts=4", "run.curriculum=true"])
    assert [round_subset(cfg, items, r) for r in (1, 2, 3)] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 0, 1]]
    shuffled = load_config(tiny_config("code"), ["run.num_prompts=4"])
    assert round_subset(shuffled, items, 1) != round_subset(shuffled, items, 2)  # seeded subsets
