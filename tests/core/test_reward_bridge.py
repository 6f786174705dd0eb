"""``row_reward``: a per-sample reward behind TRL's reward signature, as GRPO calls it."""

from __future__ import annotations

import pytest

from polyrlaif.core.judges import JudgeStats, as_judge
from polyrlaif.core.judges.reward import row_reward
from polyrlaif.core.records import Candidate, PromptRecord


def _exact(row: dict) -> float | None:
    """1.0 when the completion is one of the row's answers; None for a row without answers."""
    if not row["answers"]:
        return None
    return float(row["completion"].strip() in row["answers"])


def test_row_reward_calls_fn_once_per_completion_with_its_row():
    seen: list[dict] = []

    def fn(row: dict) -> float | None:
        seen.append(row)
        return _exact(row)

    reward = row_reward(fn, "exact")
    prompts = ["2+2?", "2+2?", "Capital of France?"]
    completions = ["4", " five", "Paris "]
    out = reward(
        prompts,
        completions,
        answers=[["4", "four"], ["4", "four"], []],
        qid=["a", "a", "b"],
        # TRL's keywords that are not dataset columns never reach fn
        trainer_state=object(),
        completion_ids=[[1], [2], [3]],
        log_metric=print,
        log_extra=print,
        environments=[object(), object(), object()],
    )
    assert out == [1.0, 0.0, None]
    assert seen == [
        {"answers": ["4", "four"], "qid": "a", "prompt": "2+2?", "completion": "4"},
        {"answers": ["4", "four"], "qid": "a", "prompt": "2+2?", "completion": " five"},
        {"answers": [], "qid": "b", "prompt": "Capital of France?", "completion": "Paris "},
    ]


def test_row_reward_is_named_and_exposes_stats():
    stats = JudgeStats()
    reward = row_reward(_exact, "answer_exact", stats=stats)
    assert reward.__name__ == "answer_exact" and reward.stats is stats
    assert not hasattr(row_reward(_exact, "plain"), "stats")


def test_row_reward_propagates_fn_errors():
    def needs_column(row: dict) -> float:
        raise ValueError(f"no 'trajectory' column in {sorted(row)}")

    with pytest.raises(ValueError, match=r"no 'trajectory' column in \['completion', 'prompt'\]"):
        row_reward(needs_column, "traj")(["p"], ["c"], trainer_state=None)


def test_row_reward_works_as_a_judge():
    judge = as_judge(row_reward(_exact, "exact"))
    prompts = {"p": PromptRecord(prompt_id="p", text="2+2?", meta={"answers": ["4"]})}
    cands = [Candidate(candidate_id=f"p/{i}", prompt_id="p", text=t) for i, t in enumerate(["4", "5"])]
    judgments = judge.judge(prompts, cands)
    assert judge.judge_id == "reward:exact"
    assert [j.score for j in judgments] == [1.0, 0.0]
