"""VLM-RLAIF's online path end to end through the CLI: ``polyrlaif train --config video_lmm/tiny-online``.

The tiny video world's stages, then the ``reward_model`` stage (the SFT'd policy's answers judged by the
context-aware judge, pairs, a vision reward model with its held-out pair accuracy), then two GRPO rounds of
the video policy against the reward model with the KL logged, each round's policy saved and evaluated; a
rerun resumes without retraining, and a changed reward-model setting is refused before any work.
"""

from __future__ import annotations

import json
import subprocess
import sys

from tiny_configs import tiny_config

from polyrlaif.core.io import read_jsonl
from polyrlaif.core.vision_reward import is_vision_reward_model


def _finished(out):
    names = ("DONE", "stage.json", "candidates.jsonl", "judgments.jsonl", "steps.jsonl")
    return {str(p): p.stat().st_mtime_ns for name in names for p in out.rglob(name)}


def test_tiny_online_trains_a_reward_model_then_grpo_against_it_and_resumes(
    tmp_path, rule_judge, cli, monkeypatch
):
    monkeypatch.setenv("POLYRLAIF_WORLDS", str(tmp_path / "worlds"))  # its own stages: all built here
    url, judge = rule_judge
    out = tmp_path / "run"
    config = tiny_config("video_lmm", "tiny-online")
    args = ["train", "--config", config, f"run.output_dir={out}", f"judge.base_url={url}"]
    res = cli(*args)
    metrics = json.loads((out / "metrics.json").read_text())

    # the reward_model stage ran in view after the world's, and reported its held-out pair accuracy
    stages = metrics["stages"]
    assert [s["name"] for s in stages] == ["world", "policy_sft", "judge", "reward_model"]
    assert all(s["status"] == "ran" for s in stages)
    rm = stages[-1]["outputs"]
    assert rm["eval_pairs"] > 0 and 0.0 <= rm["eval_accuracy"] <= 1.0 and "eval_accuracy_before" in rm
    assert rm["train_pairs"] + rm["eval_pairs"] == rm["pairs"] == rm["feedback/pairs_kept"] > 0
    assert "reward model: held-out pair accuracy" in res.stderr
    assert is_vision_reward_model(rm["model"]) and rm["model"] == str(out / "reward_model/train/model")
    # its pairs: the SFT'd policy's answers to the training videos, ranked by the context-aware judge
    feedback = out / "reward_model" / "feedback"
    pairs = read_jsonl(feedback / "pairs.jsonl")
    assert len(pairs) == rm["pairs"] and all(p["media"][0]["kind"] == "video" for p in pairs)
    assert {p["provenance"]["policy"] for p in pairs} == {stages[1]["outputs"]["model"]}  # the SFT'd policy
    judgments = read_jsonl(feedback / "judgments.jsonl")
    assert judgments and all(j["judge_id"].startswith("context_yesno:transformers_vlm:") for j in judgments)
    assert all({"p_yes", "p_yes_no_context"} <= set(j["scores"]) for j in judgments)
    assert judge.requests == 0  # the synthetic world judges with its own tiny VLM, not an endpoint

    # GRPO rounds against the reward model: rewards and KL logged every step
    rounds = metrics["rounds"]
    assert [r["round"] for r in rounds] == [0, 1, 2]
    kls = []
    for r in (1, 2):
        steps = read_jsonl(out / f"round_{r}" / "train" / "steps.jsonl")
        assert len(steps) == 2
        assert all({"reward", "rewards/reward_model/mean", "kl"} <= set(s) for s in steps)
        kls += [s["kl"] for s in steps]
        assert rounds[r]["train/rewards/reward_model/mean"] == steps[-1]["rewards/reward_model/mean"]
        assert rounds[r]["judge/reward_model/judgments"] == 8  # 2 steps x 4 completions, each scored
    assert min(kls) >= 0 and max(kls) > 0 and "train/kl" in rounds[1]
    # each round's policy is saved as a whole VLM and evaluated; round 2 trained from round 1's
    for r in (1, 2):
        model = out / f"round_{r}" / "train" / "model"
        assert (model / "DONE").is_file() and (model / "processor_config.json").is_file()
        assert "vision_config" in json.loads((model / "config.json").read_text())
        assert f"evaluating {model} on videoqa" in res.stderr
        assert rounds[r]["videoqa/n_questions"] > 0 and (out / f"round_{r}" / "eval_videoqa").is_dir()
    assert rounds[2]["policy"] == str(out / "round_1" / "train" / "model")
    assert metrics["final_model"] == str(out / "round_2" / "train" / "model")
    assert list((out / "frame_cache").glob("*_4.npy"))  # model.num_frames=4, decoded once
    assert (out / "rewards.png").stat().st_size > 1000

    # a rerun resumes: every stage skipped, no checkpoint retrained, no answer redrawn or rejudged
    finished = _finished(out)
    again = cli(*args)
    assert _finished(out) == finished
    rerun = json.loads((out / "metrics.json").read_text())
    assert all(s["status"] == "skipped" for s in rerun["stages"])
    assert rerun["stages"][-1]["outputs"]["eval_accuracy"] == rm["eval_accuracy"]
    assert "reward_model: finished earlier, skipped" in again.stderr
    assert again.stderr.count("finished checkpoint found, not training again") == 2

    # a reward-model setting changed: refused before any work, naming the stage and the setting
    changed = subprocess.run(
        [sys.executable, "-m", "polyrlaif.core.cli", *args, "optim.lr=0.002"], capture_output=True, text=True
    )
    assert changed.returncode != 0
    assert "preparation stage 'reward_model'" in changed.stderr and "optim.lr" in changed.stderr
    assert _finished(out) == finished


def test_a_tiny_online_run_with_reward_context_trains_and_rewards_through_it(tmp_path, cli, monkeypatch):
    """``domain.reward_context``: the reward model trains on pairs whose prompts hold the description, and
    GRPO's rewards read each row's ``reward_prompt`` (tests/domains/video_lmm/test_reward_context.py)."""
    monkeypatch.setenv("POLYRLAIF_WORLDS", str(tmp_path / "worlds"))
    out = tmp_path / "run"
    config = tiny_config("video_lmm", "tiny-online")
    cli("train", "--config", config, f"run.output_dir={out}", "domain.reward_context=true", "run.rounds=1")
    metrics = json.loads((out / "metrics.json").read_text())
    rm = metrics["stages"][-1]
    assert rm["name"] == "reward_model" and rm["outputs"]["eval_pairs"] > 0
    (round_1,) = [r for r in metrics["rounds"] if r["round"] == 1]
    assert round_1["judge/reward_model/judgments"] > 0 and "train/rewards/reward_model/mean" in round_1
