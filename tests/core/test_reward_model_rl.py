"""Online RL against a trained reward model: one GRPO round through the core's trainer seam."""

from __future__ import annotations

import pytest

from polyrlaif.core.config import LoraConfig, ModelConfig, OptimConfig, RLConfig, RunConfig, TrainConfig
from polyrlaif.core.judges.reward_model import RewardModelScorer
from polyrlaif.core.protocols import OnlineTask
from polyrlaif.core.records import PreferencePair
from polyrlaif.core.trainers.base import DONE_MARKER, build_trainer
from polyrlaif.core.trainers.trl_grpo import read_steps

pytestmark = pytest.mark.usefixtures("one_thread")

PROMPTS = [
    {"prompt": [{"role": "user", "content": "Say the word fox."}]},
    {"prompt": [{"role": "user", "content": "Write some Python code."}]},
]


def _pairs(n: int) -> list[PreferencePair]:
    return [
        PreferencePair(
            f"p{i}", f"q{i}", f"Say something ({i}).", chosen="the quick fox", rejected="the lazy dog"
        )
        for i in range(n)
    ]


def test_grpo_step_against_the_trained_reward_model_logs_reward_and_kl(tiny_lm_path, tmp_path):
    optim = OptimConfig(lr=1e-2, epochs=1, max_steps=3, batch_size=4, lora=LoraConfig(enabled=False))
    rl = RLConfig(
        algorithm="grpo",
        beta=0.1,
        lr=1e-2,
        num_generations=2,
        batch_size=4,
        max_steps=2,
        max_completion_length=12,
    )
    cfg = TrainConfig(optim=optim, rl=rl, model=ModelConfig(device="cpu"), run=RunConfig(seed=0))
    rm = build_trainer(cfg, "reward_model").train(tiny_lm_path, _pairs(8), tmp_path / "rm")

    scorer = RewardModelScorer(rm.model_path, device="cpu")
    reward = scorer.as_reward_fn()
    seen: list[list[float | None]] = []

    def recorded(prompts, completions, **columns):
        out = reward(prompts, completions, **columns)
        seen.append(out)
        return out

    task = OnlineTask(PROMPTS, {"reward_model": recorded})
    result = build_trainer(cfg, "grpo").train(tiny_lm_path, task, tmp_path / "rl")

    assert (tmp_path / "rl" / "model" / DONE_MARKER).is_file()
    steps = read_steps(tmp_path / "rl")
    assert len(steps) == 2 and len(seen) == 2  # one reward call per step, each on the step's 4 completions
    assert all(len(batch) == 4 and all(isinstance(x, float) for x in batch) for batch in seen)
    assert not scorer.stats.failures
    # TRL logs the reward model's mean under its name: exactly the mean of what it returned that step
    for step, batch in zip(steps, seen, strict=True):
        assert step["rewards/reward_model/mean"] == pytest.approx(sum(batch) / len(batch), rel=1e-5)
    assert result.metrics["rewards/reward_model/mean"] == steps[-1]["rewards/reward_model/mean"]
    # with rl.beta > 0 TRL logs the KL to the starting policy as "kl": 0 before the first update,
    # above 0 once the policy has moved
    assert steps[0]["kl"] == pytest.approx(0.0, abs=1e-6)
    assert steps[1]["kl"] > 0
    assert result.metrics["kl"] == steps[1]["kl"]
