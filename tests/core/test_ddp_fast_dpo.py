"""The fast DPO backend on two processes under ``accelerate launch`` against one process on the same
pairs: the same losses, gradient norms and final weights, and only rank 0 writes. On a machine without
GPUs, ``--multi_gpu`` starts the processes through torchrun and they talk over gloo (``--cpu`` would start
one process)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).with_name("ddp_fast_dpo_script.py")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _launch() -> list[str]:
    """``accelerate launch`` with two processes (torchrun and gloo on this CPU machine)."""
    return [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2",
            "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
            "--main_process_port", str(_free_port())]  # fmt: skip


def _run(cmd: list[str]) -> None:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=env)
    assert res.returncode == 0, res.stderr[-3000:]


@pytest.mark.parametrize("sft_weight", [0.0, 0.5], ids=["dpo", "dpo+sft"])
def test_two_processes_train_as_one(sft_weight, tiny_lm_path, tmp_path):
    from safetensors.torch import load_file

    one, two = tmp_path / "one", tmp_path / "two"
    _run([sys.executable, str(SCRIPT), tiny_lm_path, str(one), str(sft_weight)])
    launch = _launch()
    _run([*launch, str(SCRIPT), tiny_lm_path, str(two), str(sft_weight)])

    a = [json.loads(x) for x in (one / "steps.jsonl").read_text().splitlines()]
    b = [json.loads(x) for x in (two / "steps.jsonl").read_text().splitlines()]
    assert len(a) == len(b) == 4  # 2 epochs of 7 pairs in micro-batches of 4
    for x, y in zip(a, b, strict=True):
        for key in ("loss", "grad_norm", "rewards/margins", "rewards/accuracies", "learning_rate"):
            assert y[key] == pytest.approx(x[key], rel=1e-4, abs=1e-6), (key, x, y)
    assert abs(a[-1]["loss"] - a[0]["loss"]) > 0.01  # the policy moved: not a vacuous match
    wa = load_file(one / "model" / "model.safetensors")
    wb = load_file(two / "model" / "model.safetensors")
    assert max((wa[k] - wb[k]).abs().max().item() for k in wa) <= 1e-5
    assert sorted((tmp_path / "two.ranks").read_text().split()) == ["0/2", "1/2"]  # two ranks trained
    assert (tmp_path / "two.writers").read_text() == "0\n"  # one checkpoint, written by rank 0
    assert not list(two.glob("*.partial"))


@pytest.mark.parametrize("lora", [False, True], ids=["full", "lora"])
def test_fully_sharded_on_two_processes_trains_as_one(lora, tiny_lm_path, tmp_path):
    """The same training under configs/accelerate/fsdp.yaml: each rank holds half of every parameter
    (FSDP2 over gloo here), the steps' numbers and the final weights are one process's, and rank 0 alone
    writes the gathered checkpoint. With LoRA the merged checkpoint is."""
    from safetensors.torch import load_file

    one, two = tmp_path / "one", tmp_path / "two"
    args = [tiny_lm_path, "0.5", "fast", "lora" if lora else "full"]
    _run([sys.executable, str(SCRIPT), args[0], str(one), *args[1:]])
    fsdp = Path(__file__).parents[2] / "configs" / "accelerate" / "fsdp.yaml"
    launch = [sys.executable, "-m", "accelerate.commands.launch", "--config_file", str(fsdp),
              "--num_processes", "2", "--main_process_port", str(_free_port())]  # fmt: skip
    _run([*launch, str(SCRIPT), args[0], str(two), *args[1:]])
    a = [json.loads(x) for x in (one / "steps.jsonl").read_text().splitlines()]
    b = [json.loads(x) for x in (two / "steps.jsonl").read_text().splitlines()]
    assert len(a) == len(b) == 4
    for x, y in zip(a, b, strict=True):
        for key in ("loss", "grad_norm", "rewards/margins", "rewards/accuracies", "learning_rate"):
            assert y[key] == pytest.approx(x[key], rel=1e-4, abs=1e-6), (key, x, y)
    assert abs(a[-1]["loss"] - a[0]["loss"]) > 0.01
    wa = load_file(one / "model" / "model.safetensors")
    wb = load_file(two / "model" / "model.safetensors")
    assert wa.keys() == wb.keys() and max((wa[k] - wb[k]).abs().max().item() for k in wa) <= 1e-5
    assert sorted((tmp_path / "two.ranks").read_text().split()) == ["0/2", "1/2"]
    assert (tmp_path / "two.writers").read_text() == "0\n"
    held = sorted((tmp_path / "two.sharded").read_text().splitlines())
    assert held == ["0 0.50", "1 0.50"]  # each rank held half of the weights


def test_trl_on_two_processes_trains_as_one(tiny_lm_path, tmp_path):
    """TRL's DPOTrainer under the same launcher: each rank's batch is half of ``optim.batch_size``, so a
    step sees the same pairs as one process's (here all 8 at once, whose order then cannot matter)."""
    import torch
    from safetensors.torch import load_file

    one, two = tmp_path / "one", tmp_path / "two"
    _run([sys.executable, str(SCRIPT), tiny_lm_path, str(one), "0.0", "trl"])
    launch = _launch()
    _run([*launch, str(SCRIPT), tiny_lm_path, str(two), "0.0", "trl"])
    assert sorted((tmp_path / "two.ranks").read_text().split()) == ["0/2", "1/2"]
    assert (tmp_path / "two.writers").read_text() == "0\n"
    ma = json.loads((one / "model" / "DONE").read_text())["metrics"]
    mb = json.loads((two / "model" / "DONE").read_text())["metrics"]
    assert ma["steps"] == mb["steps"] == 3
    assert mb["fit/margin"] == pytest.approx(ma["fit/margin"], rel=1e-3, abs=1e-5)
    wa = load_file(one / "model" / "model.safetensors")
    wb = load_file(two / "model" / "model.safetensors")
    start = load_file(Path(tiny_lm_path) / "model.safetensors")
    assert max((wa[k] - wb[k]).abs().max().item() for k in wa) <= 1e-5
    assert any(not torch.equal(wa[k], start[k]) for k in wa if k in start)  # it trained


def test_the_reward_model_on_two_processes_trains_as_one(tiny_lm_path, tmp_path):
    """The reward model (TRL's RewardTrainer) under the same launcher: half of ``optim.batch_size`` on
    each rank, the same update as one process, one checkpoint written by rank 0."""
    from safetensors.torch import load_file

    one, two = tmp_path / "one", tmp_path / "two"
    _run([sys.executable, str(SCRIPT), tiny_lm_path, str(one), "0.0", "reward_model"])
    launch = _launch()
    _run([*launch, str(SCRIPT), tiny_lm_path, str(two), "0.0", "reward_model"])
    assert sorted((tmp_path / "two.ranks").read_text().split()) == ["0/2", "1/2"]
    assert (tmp_path / "two.writers").read_text() == "0\n"
    ma = json.loads((one / "model" / "DONE").read_text())["metrics"]
    mb = json.loads((two / "model" / "DONE").read_text())["metrics"]
    assert ma["steps"] == mb["steps"] == 3
    assert mb["loss"] == pytest.approx(ma["loss"], rel=1e-3, abs=1e-5) and ma["loss"] != ma["loss_first"]
    wa = load_file(one / "model" / "model.safetensors")
    wb = load_file(two / "model" / "model.safetensors")
    assert max((wa[k] - wb[k]).abs().max().item() for k in wa) <= 1e-5


def test_diffusion_dpo_on_two_processes_trains_as_one(tmp_path):
    """Diffusion-DPO under the same launcher: each rank denoises its share of every micro-batch with the
    same per-pair noise and timestep; the losses, gradient norms and UNet weights are one process's."""
    from PIL import Image
    from safetensors.torch import load_file

    from polyrlaif.core.diffusion import build_tiny_t2i

    pipe = str(build_tiny_t2i(tmp_path / "pipe", ["red", "blue", "square"], seed=0))
    Image.new("RGB", (32, 32), (230, 20, 20)).save(tmp_path / "red.png")
    Image.new("RGB", (32, 32), (20, 20, 230)).save(tmp_path / "blue.png")
    script = Path(__file__).with_name("ddp_diffusion_dpo_script.py")
    one, two = tmp_path / "one", tmp_path / "two"
    _run([sys.executable, str(script), pipe, str(tmp_path), str(one)])
    launch = _launch()
    _run([*launch, str(script), pipe, str(tmp_path), str(two)])
    assert sorted((tmp_path / "two.ranks").read_text().split()) == ["0/2", "1/2"]
    assert (tmp_path / "two.writers").read_text() == "0\n"
    a = [json.loads(x) for x in (one / "steps.jsonl").read_text().splitlines()]
    b = [json.loads(x) for x in (two / "steps.jsonl").read_text().splitlines()]
    assert len(a) == len(b) == 4  # 2 epochs of 7 pairs in micro-batches of 4
    for x, y in zip(a, b, strict=True):
        for key in ("loss", "grad_norm", "rewards/margins", "rewards/accuracies", "denoise_loss"):
            assert y[key] == pytest.approx(x[key], rel=1e-4, abs=1e-6), (key, x, y)
    assert abs(a[-1]["loss"] - a[0]["loss"]) > 1e-3  # the policy moved: not a vacuous match
    wa = load_file(one / "model" / "unet" / "diffusion_pytorch_model.safetensors")
    wb = load_file(two / "model" / "unet" / "diffusion_pytorch_model.safetensors")
    assert max((wa[k] - wb[k]).abs().max().item() for k in wa) <= 1e-5
