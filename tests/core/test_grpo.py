"""Online RL through TRL: one GRPO (and one RLOO) step on the tiny model, published like every checkpoint."""

from __future__ import annotations

import json

import pytest

from polyrlaif.core.config import ModelConfig, RLConfig, RunConfig, TrainConfig
from polyrlaif.core.protocols import OnlineTask
from polyrlaif.core.trainers.base import DONE_MARKER, build_trainer
from polyrlaif.core.trainers.trl_grpo import check_rl, grpo_train

pytestmark = pytest.mark.usefixtures("one_thread")

PROMPTS = [
    {"prompt": [{"role": "user", "content": "Say the word fox."}], "target": "fox"},
    {"prompt": [{"role": "user", "content": "Write some Python code."}], "target": "def"},
]


def _text(completion) -> str:
    return completion[-1]["content"] if isinstance(completion, list) else completion


def target_rate(prompts, completions, target, **kwargs) -> list[float]:
    """Fraction of whitespace-separated words containing the row's target (a dataset column)."""
    out = []
    for c, t in zip(completions, target, strict=True):
        words = _text(c).split()
        out.append(sum(t in w for w in words) / len(words) if words else 0.0)
    return out


def short(prompts, completions, **kwargs) -> list[float]:
    """Shorter completions score higher."""
    return [1.0 / (1.0 + len(_text(c))) for c in completions]


CODE_SCORES: list[float] = []


def code_only(prompts, completions, target, **kwargs) -> list[float | None]:
    """Applies only to the code prompt; None elsewhere, which TRL must leave out of the mean."""
    out = [
        len(_text(c)) / 100.0 + 0.5 if t == "def" else None for c, t in zip(completions, target, strict=True)
    ]
    CODE_SCORES.extend(x for x in out if x is not None)
    return out


def _weights(path: str) -> dict:
    from safetensors.torch import load_file

    return load_file(f"{path}/model.safetensors")


SETTINGS = dict(lr=1e-2, num_generations=2, batch_size=4, max_steps=1, max_completion_length=12)


def test_grpo_step_publishes_logs_each_reward_and_tolerates_none(tiny_lm_path, tmp_path) -> None:
    rewards = {"target_rate": target_rate, "brevity": short, "code_length": code_only}
    result = grpo_train(tiny_lm_path, PROMPTS, rewards, tmp_path, RLConfig(**SETTINGS), seed=0)

    assert not result.resumed
    assert result.model_path == str(tmp_path / "model")
    assert (tmp_path / "model" / DONE_MARKER).is_file()
    assert json.loads((tmp_path / "train_metrics.json").read_text()) == result.metrics
    m = result.metrics
    assert m["steps"] == 1.0
    for name in rewards:
        assert f"rewards/{name}/mean" in m
    # the None rows are left out, not counted as 0: the mean is over the code prompt's completions only
    assert len(CODE_SCORES) == 2  # one step: the code prompt's group of two
    assert m["rewards/code_length/mean"] == pytest.approx(sum(CODE_SCORES) / len(CODE_SCORES), rel=1e-5)
    assert 0.0 < m["rewards/brevity/mean"] <= 1.0
    assert m["loss"] == m["loss"]  # not NaN

    before, after = _weights(tiny_lm_path), _weights(result.model_path)
    assert before.keys() == after.keys()
    assert any(not (before[k] == after[k]).all() for k in before)

    again = grpo_train(tiny_lm_path, PROMPTS, rewards, tmp_path, RLConfig(**SETTINGS), seed=0)
    assert again.resumed
    assert again.metrics == result.metrics


def test_rloo_step_publishes(tiny_lm_path, tmp_path) -> None:
    # through the registry, as the online recipe builds it: one constructor, the typed config sections
    cfg = TrainConfig(
        rl=RLConfig(algorithm="rloo", **SETTINGS), model=ModelConfig(device="cpu"), run=RunConfig()
    )
    result = build_trainer(cfg, "rloo").train(tiny_lm_path, OnlineTask(PROMPTS, {"brevity": short}), tmp_path)
    assert (tmp_path / "model" / DONE_MARKER).is_file()
    assert "rewards/brevity/mean" in result.metrics
    before, after = _weights(tiny_lm_path), _weights(result.model_path)
    assert any(not (before[k] == after[k]).all() for k in before)


def test_settings_and_inputs_are_checked(tiny_lm_path, tmp_path) -> None:
    with pytest.raises(ValueError, match=r"rl.batch_size \(4\) must be a multiple of rl.num_generations"):
        check_rl(RLConfig(num_generations=3, batch_size=4))
    with pytest.raises(ValueError, match="rl.algorithm"):
        check_rl(RLConfig(algorithm="ppo"))
    with pytest.raises(ValueError, match="unknown reward"):
        build_trainer(TrainConfig(), "grpo").train(
            tiny_lm_path, OnlineTask(PROMPTS, {"brevity": short}, weights={"brevty": 1.0}), tmp_path
        )
    with pytest.raises(ValueError, match="rollout_func needs algorithm='grpo'"):
        grpo_train(
            tiny_lm_path,
            PROMPTS,
            {"brevity": short},
            tmp_path,
            RLConfig(algorithm="rloo", max_steps=1),
            rollout_func=lambda prompts, trainer: {},
        )
    with pytest.raises(ValueError, match="over max_prompt_length=3"):
        grpo_train(
            tiny_lm_path,
            PROMPTS,
            {"brevity": short},
            tmp_path,
            RLConfig(max_prompt_length=3, max_steps=1),
        )
    assert not (tmp_path / "model").exists()


def test_auto_backend_picks_the_fast_step_for_text_and_trl_for_trl_only_options(
    tiny_lm_path, tmp_path
) -> None:
    """``rl.backend=auto`` (the default): a text policy in one process trains with the fast step, and the
    same run with a ``rl.trl`` option the fast step does not implement goes to TRL's trainer; both train.
    (A vision-language policy goes to TRL's: tests/core/test_grpo_vision.py runs on the default.)"""
    task = OnlineTask(PROMPTS, {"brevity": short})
    fast = build_trainer(TrainConfig(rl=RLConfig(**SETTINGS), run=RunConfig()), "grpo")
    fast.train(tiny_lm_path, task, tmp_path / "fast")
    trl = build_trainer(
        TrainConfig(rl=RLConfig(**SETTINGS, trl={"loss_type": "dr_grpo"}), run=RunConfig()), "grpo"
    )
    trl.train(tiny_lm_path, task, tmp_path / "trl")
    assert trl._backend(tiny_lm_path, task) == "trl" and fast._backend(tiny_lm_path, task) == "fast"
