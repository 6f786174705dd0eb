"""The answer-scoring judge in the tiny video world: with ``domain.judge_scoring=answer`` the judge first
learns to read descriptions (the ``judge_reading`` stage, on clips never rendered, none a test clip), then
to answer its own clips' questions with the frames; a round's judgments are its probabilities of the
answers, and the setting is refused where the prompts carry no answer words."""

from __future__ import annotations

import json

import pytest
from tiny_configs import tiny_config

from polyrlaif.core.config import load_config
from polyrlaif.core.io import read_jsonl
from polyrlaif.domains.video_lmm.build import stages

ANSWER = ["domain.closed_answers=true", "domain.judge_scoring=answer"]


def test_the_plan_adds_a_reading_stage_and_hashes_the_scoring(tmp_path):
    overrides = [f"run.output_dir={tmp_path}", *ANSWER, "domain.world.reading_clips=7"]
    cfg = load_config(tiny_config("video_lmm"), overrides)
    plan = {s.name: s for s in stages(cfg)}
    assert list(plan) == ["world", "policy_sft", "judge_reading", "judge"]
    assert plan["judge"].after == ("world", "judge_reading") and plan["judge"].settings["scoring"] == "answer"
    assert plan["judge_reading"].settings["clips"] == 7
    no_reading = load_config(tiny_config("video_lmm"), [f"run.output_dir={tmp_path}", *ANSWER])
    assert [s.name for s in stages(no_reading)] == ["world", "policy_sft", "judge"]


def test_answer_scoring_without_answer_words_is_refused(tmp_path):
    with pytest.raises(ValueError, match="closed_answers"):
        load_config(tiny_config("video_lmm"), [f"run.output_dir={tmp_path}", "domain.judge_scoring=answer"])


def test_a_round_judged_by_answer_probabilities(tmp_path, monkeypatch):
    from polyrlaif.core.cli import main
    from polyrlaif.datasets.video.text import ANSWER_VOCAB

    monkeypatch.setenv("POLYRLAIF_WORLDS", str(tmp_path / "worlds"))
    out = tmp_path / "run"
    # policy_epochs: a policy that answers in its questions' words, so that the judge is asked
    world = ["domain.world.reading_clips=6", "domain.world.reading_steps=3", "domain.world.policy_epochs=30"]
    args = ["train", "--config", tiny_config("video_lmm"), f"run.output_dir={out}", "run.rounds=1"]
    args += [*ANSWER, *world]
    assert main(args) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    names = [s["name"] for s in metrics["stages"]]
    assert names == ["world", "policy_sft", "judge_reading", "judge"]
    reading = metrics["stages"][2]["outputs"]["model"]
    assert (tmp_path / "worlds").is_dir() and str(tmp_path / "worlds") in reading
    judgments = read_jsonl(out / "round_1" / "judgments.jsonl")
    texts = {c["candidate_id"]: c["text"] for c in read_jsonl(out / "round_1" / "candidates.jsonl")}
    assert judgments and all(j["failure"] is None for j in judgments)
    by_prompt: dict[str, dict[str, float]] = {}
    for j in judgments:
        said = texts[j["candidate_id"]].strip().lower().rstrip(".")
        if not j["scores"].get("empty_answer"):  # a failed answer scores 0 without asking the judge
            by_prompt.setdefault(j["prompt_id"], {})[said] = j["score"]
    assert by_prompt
    for scores in by_prompt.values():
        # the judge's probabilities of distinct answer words of one question: parts of one distribution
        assert all(0.0 < v < 1.0 for v in scores.values()) and sum(scores.values()) <= 1.0 + 1e-6
        assert all(any(w in vocab for vocab in ANSWER_VOCAB.values()) for w in scores)
