"""``rl.backend=fast`` end to end: the search agent's GRPO rounds (multi-turn episodes through its
rollout function, tool observations masked) on the tiny model train, log every reward per step and
publish each round's checkpoint, as the TRL backend does."""

from __future__ import annotations

import json

from tiny_configs import tiny_config


def test_search_agent_rounds_train_with_the_fast_backend(
    tmp_path, tiny_lm_path, rule_judge, cli, monkeypatch
):
    monkeypatch.setenv("POLYRLAIF_WORLDS", str(tmp_path / "worlds"))
    url, _ = rule_judge
    out = tmp_path / "fast"
    res = cli("train", "--config", tiny_config("search_agent"), f"run.output_dir={out}",
              f"model.name_or_path={tiny_lm_path}", f"judge.base_url={url}", "rl.backend=fast")  # fmt: skip
    rounds = json.loads((out / "metrics.json").read_text())["rounds"]
    assert [r["round"] for r in rounds] == [0, 1, 2]
    for r in (1, 2):
        steps = [
            json.loads(x) for x in (out / f"round_{r}" / "train" / "steps.jsonl").read_text().splitlines()
        ]
        assert len(steps) == 1 and all(
            k in steps[0] for k in ("loss", "reward", "rewards/f1/mean", "grad_norm")
        )
        assert (out / f"round_{r}" / "train" / "model" / "config.json").is_file()
    assert "fast grpo step 1/1" in res.stderr
    assert rounds[2]["policy"] == str(out / "round_1" / "train" / "model")


def _one_round(cli, out, tiny_lm_path, rule_judge, *extra):
    """One round of the tiny search-agent config with ``extra`` overrides; its per-step log."""
    url, _ = rule_judge
    cli("train", "--config", tiny_config("search_agent"), f"run.output_dir={out}", "run.rounds=1",
        f"model.name_or_path={tiny_lm_path}", f"judge.base_url={url}", *extra)  # fmt: skip
    return [json.loads(x) for x in (out / "round_1" / "train" / "steps.jsonl").read_text().splitlines()]


def test_search_agent_trains_with_the_judge_action(tmp_path, tiny_lm_path, rule_judge, cli, monkeypatch):
    """``domain.judge_action`` in training: the agent is offered ReSeek's JUDGE, its episodes come back
    as the sequences their turns saw (tests/domains/search_agent/test_segments.py), ReSeek's
    judge_action reward is logged beside the others, and the round trains and publishes."""
    monkeypatch.setenv("POLYRLAIF_WORLDS", str(tmp_path / "worlds"))
    out = tmp_path / "judge"
    steps = _one_round(cli, out, tiny_lm_path, rule_judge, "domain.judge_action=true",
                       "domain.reward_weights.judge_action=0.5")  # fmt: skip
    assert steps and "rewards/judge_action/mean" in steps[0] and "loss" in steps[0]
    assert (out / "round_1" / "train" / "model" / "config.json").is_file()


def test_search_agent_trains_on_a_reward_ensemble(tmp_path, tiny_lm_path, rule_judge, cli, monkeypatch):
    """``rl.reward_ensemble``: two of the domain's rewards combined by their worst case into one, logged
    per step beside its members."""
    monkeypatch.setenv("POLYRLAIF_WORLDS", str(tmp_path / "worlds"))
    steps = _one_round(cli, tmp_path / "ens", tiny_lm_path, rule_judge, "rl.reward_ensemble=[f1,format]",
                       "rl.reward_ensemble_aggregate=wco")  # fmt: skip
    row = steps[0]
    # per completion the worst case is at most each member, so its mean is at most each member's mean
    assert row["rewards/ensemble/mean"] <= min(row["rewards/f1/mean"], row["rewards/format/mean"]) + 1e-9
