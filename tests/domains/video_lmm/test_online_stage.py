"""The `video_lmm` domain's ``reward_model`` stage: when it runs, what it reads, what its hash covers, and
the errors raised before any work. (The stage's run itself: tests/cli/test_video_lmm_online.py.)"""

from __future__ import annotations

import pytest
from tiny_configs import tiny_config

from polyrlaif.core.config import load_config
from polyrlaif.core.stages import settings_hash
from polyrlaif.domains.video_lmm.build import stages


def _stages(tmp_path, *overrides):
    config = tiny_config("video_lmm", "tiny-online")
    return stages(load_config(config, [f"run.output_dir={tmp_path}", *overrides]))


def test_online_mode_adds_the_reward_model_stage_after_the_world(tmp_path):
    plan = _stages(tmp_path)
    assert [s.name for s in plan] == ["world", "policy_sft", "judge", "reward_model"]
    rm = plan[-1]
    assert rm.after == ("world", "policy_sft", "judge") and rm.output_dir == tmp_path / "reward_model"
    assert rm.settings["num_frames"] == 4 and rm.settings["sampling"]["n"] == 4
    offline = stages(load_config(tiny_config("video_lmm"), [f"run.output_dir={tmp_path}"]))
    assert [s.name for s in offline] == ["world", "policy_sft", "judge"]


def test_the_hash_covers_what_the_reward_model_is_trained_with_and_nothing_else(tmp_path):
    def key(*overrides):
        return settings_hash(_stages(tmp_path, *overrides)[-1].settings, {})

    base = key()
    changes = ["optim.lr=0.002", "optim.reward_eval_fraction=0.5", "sampling.n=3", "sampling.temperature=0.7"]
    changes += ["pairs.min_margin=0.1", "model.num_frames=2", "domain.judge_context=false", "run.seed=1"]
    changes += ["domain.reward_init=judge", "domain.reward_context=true"]
    changes += ["optim.reward_pooling=answer_logprob"]
    for changed in changes:
        assert key(changed) != base, changed
    # the policy-update settings (rl, and optim's DPO-only fields) do not touch the reward model
    for same in ("rl.lr=0.001", "rl.max_steps=5", "optim.beta=0.5", "optim.backend=trl", "run.rounds=3"):
        assert key(same) == base, same


def test_a_run_without_prompts_is_refused_before_any_stage_runs(tmp_path):
    with pytest.raises(ValueError, match="domain.prompts is required .* for the reward_model stage"):
        _stages(tmp_path, "domain.synthetic=false")
    # a run on the user's prompts hashes the starting policy, the prompts and the judge endpoint instead
    plan = _stages(tmp_path, "domain.synthetic=false", "domain.prompts=p.jsonl", "judge.backend=openai")
    assert [s.name for s in plan] == ["reward_model"] and plan[0].after == ()
    assert plan[0].settings["judge"]["backend"] == "openai" and plan[0].settings["prompts"] == "p.jsonl"


def test_a_reward_model_from_the_judge_needs_a_local_judge_model(tmp_path):
    users = ["domain.synthetic=false", "domain.prompts=p.jsonl", "domain.reward_init=judge"]
    with pytest.raises(ValueError, match="reward_init=judge needs a local judge .*=openai"):
        _stages(tmp_path, *users, "judge.backend=openai")
    (rm,) = _stages(tmp_path, *users, "judge.backend=transformers_vlm", "judge.model=my/judge")
    assert rm.settings["reward_init"] == "judge"
