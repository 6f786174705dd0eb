"""``polyrlaif train`` under ``accelerate launch --num_processes 2`` (gloo, CPU): rank 0 samples, judges,
evaluates and writes; both ranks train. Against the same command in one process: the same candidates,
judgments and pairs, the judge asked as often, the same update."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

import pytest
from tiny_configs import tiny_config

from polyrlaif.core.config import builtin_config_path

#: The packaged accelerate config the README gives (2 processes: torchrun and gloo on this CPU machine).
ACCELERATE_DDP = builtin_config_path("code/demo").parent.parent / "accelerate" / "ddp.yaml"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _train(prefix: list[str], out, model: str, url: str, *extra: str) -> subprocess.CompletedProcess:
    args = ["train", "--config", tiny_config("code"), f"run.output_dir={out}", f"model.name_or_path={model}",
            f"judge.base_url={url}", "run.rounds=1", *extra]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    res = subprocess.run([*prefix, *args], capture_output=True, text=True, timeout=900, env=env)
    assert res.returncode == 0, res.stderr[-3000:]
    return res


def _rows(path, drop=("seconds", "cached", "latency_s")):
    return [{k: v for k, v in json.loads(x).items() if k not in drop} for x in path.read_text().splitlines()]


def test_two_ranks_train_what_one_process_trains(tmp_path, tiny_lm_path, rule_judge):
    from safetensors.torch import load_file

    url, judge = rule_judge
    one, two = tmp_path / "one", tmp_path / "two"
    _train([sys.executable, "-m", "polyrlaif.core.cli"], one, tiny_lm_path, url)
    asked_once = judge.requests
    launch = [sys.executable, "-m", "accelerate.commands.launch", "--config_file", str(ACCELERATE_DDP),
              "--main_process_port", str(_free_port()), "-m", "polyrlaif.core.cli"]  # fmt: skip
    res = _train(launch, two, tiny_lm_path, url)
    assert judge.requests == 2 * asked_once  # rank 0 alone judged, as one process did
    assert "data-parallel over 2 processes" in res.stderr

    for name in ("candidates.jsonl", "pairs.jsonl"):
        a = json.dumps(_rows(one / "round_1" / name)).replace(str(one), "OUT")
        b = json.dumps(_rows(two / "round_1" / name)).replace(str(two), "OUT")
        assert a == b, name
    steps_a = _rows(one / "round_1" / "train" / "steps.jsonl")
    steps_b = _rows(two / "round_1" / "train" / "steps.jsonl")
    assert len(steps_a) == len(steps_b) > 0
    for x, y in zip(steps_a, steps_b, strict=True):
        assert y["loss"] == pytest.approx(x["loss"], rel=1e-4, abs=1e-6)
        assert y["grad_norm"] == pytest.approx(x["grad_norm"], rel=1e-3, abs=1e-6)
    wa = load_file(one / "round_1" / "train" / "model" / "model.safetensors")
    wb = load_file(two / "round_1" / "train" / "model" / "model.safetensors")
    assert max((wa[k] - wb[k]).abs().max().item() for k in wa) <= 1e-5
    assert (two / "metrics.json").is_file() and "metrics per round" in res.stdout
    assert res.stdout.count("metrics per round") == 1  # one summary: rank 0's


def test_every_registered_trainer_trains_under_a_launcher():
    """No trainer is refused under ``accelerate launch`` any more (``build_trainer`` still refuses one a
    plugin registers without saying it can): the vision reward model trains on rank 0 alone."""
    from polyrlaif.core.registry import TRAINERS
    from polyrlaif.core.trainers.distributed import LAUNCHED_BACKENDS

    assert set(TRAINERS.names()) - set(LAUNCHED_BACKENDS) == {"vision_reward_model"}


@pytest.mark.parametrize("algorithm", ["grpo"])  # the search agent's episodes need GRPO's rollout hook
def test_online_rl_trains_on_both_ranks(algorithm, tmp_path, tiny_lm_path, rule_judge, monkeypatch):
    """``run.mode: online`` under two processes: rank 0 runs the rounds and sends each one's task (its
    reward callables, cloudpickled) to rank 1, both generate and score their half of every batch, and
    rank 0 alone writes the checkpoint and the step log. (The tiny random model never answers, so every
    reward is 0 and the update is zero; that both ranks trained shows in the run finishing at all: TRL's
    collectives wait for every rank.)"""
    monkeypatch.setenv("POLYRLAIF_WORLDS", str(tmp_path / "worlds"))
    url, _ = rule_judge
    out = tmp_path / "online"
    launch = [sys.executable, "-m", "accelerate.commands.launch", "--config_file", str(ACCELERATE_DDP),
              "--main_process_port", str(_free_port()), "-m", "polyrlaif.core.cli"]  # fmt: skip
    args = ["train", "--config", tiny_config("search_agent"), f"run.output_dir={out}",
            f"model.name_or_path={tiny_lm_path}", f"judge.base_url={url}", "run.rounds=1",
            f"rl.algorithm={algorithm}", "rl.backend=trl"]  # fmt: skip
    res = subprocess.run([*launch, *args], capture_output=True, text=True, timeout=900,
                         env={**os.environ, "OMP_NUM_THREADS": "1"})  # fmt: skip
    assert res.returncode == 0, res.stderr[-3000:]
    steps = [json.loads(x) for x in (out / "round_1" / "train" / "steps.jsonl").read_text().splitlines()]
    assert steps and all("reward" in s for s in steps)
    assert (out / "round_1" / "train" / "model" / "model.safetensors").is_file()
    assert f"{algorithm}: 2 completions a step on each of 2 processes" in res.stderr
    assert res.stdout.count("metrics per round") == 1  # one summary: rank 0's


@pytest.mark.parametrize(
    ("env", "backend", "message"),
    [
        ("ACCELERATE_USE_DEEPSPEED", "fast", r"DeepSpeed is not supported.*configs/accelerate/fsdp.yaml"),
        ("ACCELERATE_USE_FSDP", "trl", r"'trl' does not shard its model yet.*configs/accelerate/ddp.yaml"),
    ],
)
def test_a_sharded_launch_a_trainer_cannot_honour_is_refused_before_training(
    env, backend, message, monkeypatch
):
    """accelerate launch with a DeepSpeed config, or an FSDP config for a trainer that does not shard,
    is refused with what to launch instead (the fast DPO step shards: tests/core/test_ddp_fast_dpo.py)."""
    from polyrlaif.core.config import TrainConfig
    from polyrlaif.core.trainers.base import build_trainer

    monkeypatch.setenv(env, "true")
    cfg = TrainConfig()
    cfg.optim.backend = backend
    with pytest.raises(ValueError, match=message):
        build_trainer(cfg)
