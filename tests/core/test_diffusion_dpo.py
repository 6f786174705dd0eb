"""Diffusion-DPO: the loss against a hand computation, and the trainer on a tiny pixel-space pipeline
(red squares chosen over blue ones for the prompt "red")."""

from __future__ import annotations

import importlib.util
import json
import math
from pathlib import Path

import pytest
import torch
from PIL import Image

from polyrlaif.core.config import LoraConfig, ModelConfig, OptimConfig, RunConfig, TrainConfig
from polyrlaif.core.diffusion import build_tiny_t2i, load_t2i_pipeline
from polyrlaif.core.diffusion_policy import DiffusionPolicy
from polyrlaif.core.io import InputError
from polyrlaif.core.losses import diffusion_dpo_loss
from polyrlaif.core.records import MediaRef, PreferencePair
from polyrlaif.core.trainers.base import PreferenceTrainer, build_trainer
from polyrlaif.core.trainers.diffusion_dpo import DiffusionDPOTrainer, DPOPlan, pair_prompt_text

pytestmark = pytest.mark.usefixtures("one_thread")

BENCH = Path(__file__).resolve().parents[2] / "bench"


def test_loss_matches_a_hand_computation():
    e_pol_w = torch.tensor([0.50, 0.20, 0.90])
    e_pol_l = torch.tensor([0.40, 0.60, 0.30])
    e_ref_w = torch.tensor([0.45, 0.25, 0.80])
    e_ref_l = torch.tensor([0.45, 0.50, 0.35])
    # (e_pol_w - e_pol_l) - (e_ref_w - e_ref_l) = 0.10 - 0.00, -0.40 + 0.25, 0.60 - 0.45 = 0.10, -0.15, 0.15;
    # times -beta/2 = -5: -0.5, 0.75, -0.75; and -log sigmoid(z) = log(1 + exp(-z))
    expected = (
        math.log(1 + math.exp(0.5)) + math.log(1 + math.exp(-0.75)) + math.log(1 + math.exp(0.75))
    ) / 3
    assert expected == pytest.approx(0.8326063, abs=1e-7)
    loss = diffusion_dpo_loss(e_pol_w, e_pol_l, e_ref_w, e_ref_l, beta=10.0)
    assert loss.ndim == 0
    assert loss.item() == pytest.approx(expected, abs=1e-6)
    # no difference from the reference: log 2, whatever beta
    assert diffusion_dpo_loss(e_ref_w, e_ref_l, e_ref_w, e_ref_l, beta=5000.0).item() == pytest.approx(
        math.log(2)
    )


def test_loss_falls_as_the_policy_denoises_the_chosen_image_better():
    ref_w, ref_l = torch.tensor([0.5]), torch.tensor([0.5])
    pol_w = torch.tensor([0.5], requires_grad=True)
    diffusion_dpo_loss(pol_w, torch.tensor([0.5]), ref_w, ref_l, beta=100.0).backward()
    assert pol_w.grad.item() > 0  # gradient descent lowers the chosen image's error
    better = diffusion_dpo_loss(torch.tensor([0.4]), torch.tensor([0.5]), ref_w, ref_l, beta=100.0)
    assert better.item() == pytest.approx(math.log(1 + math.exp(-5.0)), abs=1e-6)


def test_prompt_text_of_a_string_or_a_conversation():
    assert pair_prompt_text("red") == "red"
    parts = [
        {"type": "image", "path": "x.png"},
        {"type": "text", "text": "a red"},
        {"type": "text", "text": "sq"},
    ]
    assert (
        pair_prompt_text([{"role": "system", "content": "s"}, {"role": "user", "content": parts}])
        == "a red sq"
    )
    assert (
        pair_prompt_text([{"role": "user", "content": "red"}, {"role": "user", "content": "blue"}]) == "red"
    )


def test_plan_is_a_function_of_the_seed():
    a = DPOPlan.draw(10, epochs=3, batch_size=4, grad_accum=1, max_steps=-1, seed=5, timesteps=1000)
    b = DPOPlan.draw(10, epochs=3, batch_size=4, grad_accum=1, max_steps=-1, seed=5, timesteps=1000)
    assert a.steps == b.steps and torch.equal(a.timesteps, b.timesteps)
    assert len(a.steps) == 9 and a.timesteps.shape == (1, 3, 10)
    assert sorted(i for _, batches in a.steps[:3] for idx in batches for i in idx) == list(range(10))
    assert torch.equal(a.noise(1, [3, 4], (3, 2, 2)), b.noise(1, [3, 4], (3, 2, 2)))
    assert not torch.equal(a.noise(1, [3], (3, 2, 2)), a.noise(2, [3], (3, 2, 2)))  # fresh noise per epoch
    capped = DPOPlan.draw(10, epochs=1, batch_size=4, grad_accum=2, max_steps=5, seed=5, timesteps=1000)
    assert [epoch for epoch, _ in capped.steps] == [0, 0, 1, 1, 2]
    # optim.noise_draws: the first draw is the one-draw plan's, the others new, laid out draw by draw
    two = DPOPlan.draw(
        10, epochs=3, batch_size=4, grad_accum=1, max_steps=-1, seed=5, timesteps=1000, draws=2
    )
    assert two.steps == a.steps and torch.equal(two.timesteps[0], a.timesteps[0])
    assert not torch.equal(two.timesteps[1], two.timesteps[0])
    noise = two.noise(1, [3, 4], (3, 2, 2))
    assert noise.shape == (4, 3, 2, 2) and torch.equal(noise[:2], a.noise(1, [3, 4], (3, 2, 2)))
    assert not torch.equal(noise[2:], noise[:2])


@pytest.fixture(scope="module")
def tiny_t2i(tmp_path_factory) -> str:
    return str(build_tiny_t2i(tmp_path_factory.mktemp("t2i") / "pipe", ["red", "blue", "square"], seed=0))


@pytest.fixture(scope="module")
def red_blue_pairs(tmp_path_factory) -> list[PreferencePair]:
    root = tmp_path_factory.mktemp("images")
    Image.new("RGB", (32, 32), (230, 20, 20)).save(root / "red.png")
    Image.new("RGB", (32, 32), (20, 20, 230)).save(root / "blue.png")
    return [
        PreferencePair(
            pair_id=f"p{i}",
            prompt_id=f"q{i}",
            prompt="red" if i % 2 else [{"role": "user", "content": "red"}],
            chosen="",
            rejected="",
            chosen_media=[MediaRef(kind="image", uri=str(root / "red.png"))],
            rejected_media=[MediaRef(kind="image", uri=str(root / "blue.png"))],
        )
        for i in range(8)
    ]


def _cfg(lora: bool, epochs: int = 4) -> TrainConfig:
    return TrainConfig(
        run=RunConfig(seed=0),
        model=ModelConfig(device="cpu"),
        optim=OptimConfig(
            backend="diffusion_dpo",
            beta=1000.0,
            lr=1e-3 if lora else 1e-4,
            epochs=epochs,
            batch_size=4,
            lora=LoraConfig(enabled=lora, r=8, alpha=8, dropout=0.0),
        ),
    )


@pytest.mark.parametrize("lora", [False, True], ids=["full", "lora"])
def test_trainer_learns_the_preference_publishes_and_resumes(
    tiny_t2i, red_blue_pairs, tmp_path, monkeypatch, lora
):
    from diffusers import UNet2DConditionModel

    rows_per_forward: list[int] = []
    forward = UNet2DConditionModel.forward

    def counting(self, sample, *args, **kwargs):
        rows_per_forward.append(sample.shape[0])
        return forward(self, sample, *args, **kwargs)

    monkeypatch.setattr(UNet2DConditionModel, "forward", counting)
    trainer = build_trainer(_cfg(lora))
    assert isinstance(trainer, DiffusionDPOTrainer) and isinstance(trainer, PreferenceTrainer)
    out = tmp_path / "dpo"
    result = trainer.train(tiny_t2i, red_blue_pairs, out)
    m = result.metrics
    assert (m["steps"], m["pairs"]) == (8, 8)  # 4 epochs of 2 steps of 4 pairs
    # chosen and rejected in one forward of 8 rows; the reference once per micro-batch, then the policy
    assert rows_per_forward == [8] * 16
    assert m["rewards/accuracies"] >= 0.75 and m["rewards/accuracies"] > m["rewards/accuracies_first"], m
    assert m["rewards/margins"] > m["rewards/margins_first"] > 0, m
    assert m["train_loss"] < m["train_loss_first"] < math.log(2), m
    steps = [json.loads(line) for line in (out / "steps.jsonl").read_text().splitlines()]
    assert [s["step"] for s in steps] == list(range(1, 9))
    # the cached reference errors are the starting policy's, to the bit
    assert steps[0]["loss"] == pytest.approx(math.log(2), abs=1e-7) and steps[0]["rewards/margins"] == 0.0
    for key in ("loss", "rewards/accuracies", "rewards/margins", "grad_norm", "epoch"):
        assert key in steps[-1]

    # a full pipeline, LoRA merged, that the policy loads and samples from
    trained = load_t2i_pipeline(result.model_path, device="cpu")
    start = load_t2i_pipeline(tiny_t2i, device="cpu")
    assert trained.unet.state_dict().keys() == start.unet.state_dict().keys()
    pairs = zip(trained.unet.parameters(), start.unet.parameters(), strict=True)
    assert any(not torch.equal(a, b) for a, b in pairs)
    policy = DiffusionPolicy(result.model_path, steps=2, device="cpu", batch_size=1)
    assert policy.generate_media(["red"], seeds=[0])[0].startswith(b"\x89PNG")

    from polyrlaif.core import diffusion_train

    def fail(*args, **kwargs):
        raise AssertionError("a finished checkpoint must not be trained again")

    monkeypatch.setattr(diffusion_train, "load_train_parts", fail)
    again = trainer.train(tiny_t2i, red_blue_pairs, out)
    assert again.resumed and again.metrics == m


def test_noise_draws_average_each_pairs_errors_inside_the_loss(tiny_t2i, red_blue_pairs, tmp_path):
    """``optim.noise_draws=3``: each micro-batch's pairs once per draw in one forward; the step's errors
    are each image's errors over the three draws (the plan's own noise and timesteps), averaged before
    the sigmoid, as computed here by hand."""
    import dataclasses

    from polyrlaif.core.diffusion_train import load_train_parts
    from polyrlaif.core.trainers.diffusion_dpo import dpo_errors

    cfg = _cfg(False, epochs=1)
    cfg = dataclasses.replace(cfg, optim=dataclasses.replace(cfg.optim, noise_draws=3, lr=0.0))
    result = build_trainer(cfg).train(tiny_t2i, red_blue_pairs[:4], tmp_path / "draws")
    steps = [json.loads(line) for line in (tmp_path / "draws" / "steps.jsonl").read_text().splitlines()]
    assert result.metrics["steps"] == 1 and steps[0]["loss"] == pytest.approx(math.log(2), abs=1e-7)
    # by hand: each draw's errors from the plan's own noise and timesteps, then the mean over draws
    parts = load_train_parts(tiny_t2i, device="cpu")
    plan = DPOPlan.draw(4, epochs=1, batch_size=4, grad_accum=1, max_steps=-1, seed=0,
                        timesteps=parts.noise_scheduler.config.num_train_timesteps, draws=3)  # fmt: skip
    assert plan.timesteps.shape == (3, 1, 4)
    trainer = build_trainer(cfg)
    ((epoch, (idx,)),) = plan.steps
    x_w, x_l, states, noise, t = trainer._batch(parts, plan, _encoded(parts, red_blue_pairs[:4]), epoch, idx)
    assert x_w.shape[0] == noise.shape[0] == t.shape[0] == 12
    with torch.no_grad():
        e_w, e_l = dpo_errors(parts.pipe.unet, parts.noise_scheduler, x_w, x_l, states, noise, t)
    mean_w, mean_l = e_w.view(3, 4).mean(0), e_l.view(3, 4).mean(0)
    assert steps[0]["denoise_loss"] == pytest.approx(float((0.5 * (mean_w + mean_l)).mean()), rel=1e-5)
    assert float(diffusion_dpo_loss(mean_w, mean_l, mean_w, mean_l, 1000.0)) == pytest.approx(
        steps[0]["loss"]
    )
    one = float((0.5 * (e_w[:4] + e_l[:4])).mean())  # the first draw alone: what one draw would have used
    assert one != pytest.approx(steps[0]["denoise_loss"], rel=1e-3)


def _encoded(parts, pairs):
    from polyrlaif.core.diffusion_train import encode_image_files, encode_prompts
    from polyrlaif.core.trainers.diffusion_dpo import image_pair_files

    prompts, chosen, rejected = image_pair_files(pairs)
    return (encode_image_files(parts, chosen, chosen), encode_image_files(parts, rejected, rejected),
            encode_prompts(parts, prompts))  # fmt: skip


def test_a_second_update_held_to_the_initial_unet(tiny_t2i, red_blue_pairs, tmp_path):
    """``reference=`` the round-1 start (``optim.reference=initial``): a second update from the trained
    UNet starts from the margin the first one won, where its own reference would start it at 0."""
    first = build_trainer(_cfg(False, epochs=2)).train(tiny_t2i, red_blue_pairs, tmp_path / "r1")
    build_trainer(_cfg(False, epochs=1)).train(first.model_path, red_blue_pairs, tmp_path / "own")
    build_trainer(_cfg(False, epochs=1)).train(
        first.model_path, red_blue_pairs, tmp_path / "held", reference=tiny_t2i
    )
    own_first, held_first = (
        json.loads((tmp_path / name / "steps.jsonl").read_text().splitlines()[0]) for name in ("own", "held")
    )
    assert own_first["rewards/margins"] == 0.0
    assert own_first["loss"] == pytest.approx(math.log(2), abs=1e-7)
    assert held_first["rewards/margins"] > 0.0, held_first
    assert held_first["loss"] < math.log(2) - 1e-3, held_first


@pytest.mark.parametrize("damage", ["missing", "not_an_image", "no_media"])
def test_bad_image_names_the_pair_and_file_before_training(
    tiny_t2i, red_blue_pairs, tmp_path, monkeypatch, damage
):
    from polyrlaif.core import diffusion_train

    def fail(*args, **kwargs):
        raise AssertionError("the pairs must be checked before the model is loaded")

    monkeypatch.setattr(diffusion_train, "load_train_parts", fail)
    bad = red_blue_pairs[5]
    if damage == "missing":
        bad = PreferencePair(
            **{**bad.__dict__, "rejected_media": [MediaRef("image", str(tmp_path / "gone.png"))]}
        )
        match = r"pair p5 \(rejected\): image file not found: .*gone\.png"
    elif damage == "not_an_image":
        (tmp_path / "junk.png").write_bytes(b"not a png")
        bad = PreferencePair(
            **{**bad.__dict__, "chosen_media": [MediaRef("image", str(tmp_path / "junk.png"))]}
        )
        match = r"pair p5 \(chosen\): image file .*junk\.png is not a readable image"
    else:
        bad = PreferencePair(**{**bad.__dict__, "chosen_media": []})
        match = r"pair p5: no chosen image"
    pairs = [*red_blue_pairs[:5], bad, *red_blue_pairs[6:]]
    with pytest.raises(InputError, match=match):
        DiffusionDPOTrainer(_cfg(lora=False)).train(tiny_t2i, pairs, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def _tiny_latent_pipeline(path: Path, tokenizer_dir: str) -> str:
    """A Stable Diffusion pipeline (VAE, latent UNet, CLIP text encoder) at toy sizes: 32x32 images,
    16x16x4 latents."""
    from diffusers import AutoencoderKL, DDPMScheduler, StableDiffusionPipeline, UNet2DConditionModel
    from transformers import AutoTokenizer, CLIPTextConfig, CLIPTextModel

    tok = AutoTokenizer.from_pretrained(tokenizer_dir)
    torch.manual_seed(0)
    text = CLIPTextConfig(
        vocab_size=len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
        max_position_embeddings=16, pad_token_id=0, bos_token_id=2, eos_token_id=3,
    )  # fmt: skip
    vae = AutoencoderKL(
        block_out_channels=(8, 16), down_block_types=("DownEncoderBlock2D",) * 2,
        up_block_types=("UpDecoderBlock2D",) * 2, latent_channels=4, norm_num_groups=4, sample_size=32,
    )  # fmt: skip
    unet = UNet2DConditionModel(
        sample_size=16, in_channels=4, out_channels=4, layers_per_block=1, block_out_channels=(32, 64),
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=32, attention_head_dim=8, norm_num_groups=8,
    )  # fmt: skip
    StableDiffusionPipeline(
        vae=vae, text_encoder=CLIPTextModel(text), tokenizer=tok, unet=unet,
        scheduler=DDPMScheduler(steps_offset=1, clip_sample=False),
        safety_checker=None, feature_extractor=None, requires_safety_checker=False,
    ).save_pretrained(path)  # fmt: skip
    return str(path)


def test_latent_pipeline_trains_on_vae_latents_and_samples(tiny_t2i, red_blue_pairs, tmp_path):
    from polyrlaif.core.diffusion_train import denoise_train

    start = _tiny_latent_pipeline(tmp_path / "sd", f"{tiny_t2i}/tokenizer")
    result = DiffusionDPOTrainer(_cfg(lora=True, epochs=2)).train(start, red_blue_pairs, tmp_path / "dpo")
    assert result.metrics["steps"] == 4 and result.metrics["rewards/margins"] > 0
    trained, before = (
        load_t2i_pipeline(result.model_path, device="cpu"),
        load_t2i_pipeline(start, device="cpu"),
    )
    assert type(trained).__name__ == "StableDiffusionPipeline"
    assert all(
        torch.equal(a, b) for a, b in zip(trained.vae.parameters(), before.vae.parameters(), strict=True)
    )
    assert not all(
        torch.equal(a, b) for a, b in zip(trained.unet.parameters(), before.unet.parameters(), strict=True)
    )

    policy = DiffusionPolicy(result.model_path, steps=2, device="cpu", batch_size=2)
    assert policy.settings()["height"] == 32  # 16x16 latents, VAE scale factor 2
    together = policy.generate_media(["red", "blue", "red blue"], seeds=[1, 2, 3])
    assert policy.generate_media(["red blue"], seeds=[3]) == together[2:]
    assert _png_size(together[0]) == (32, 32)

    rows = [(p.chosen_media[0].uri, "red") for p in red_blue_pairs[:4]]
    pretrained = denoise_train(
        start, rows, tmp_path / "pre", epochs=1, lr=1e-3, batch_size=2, seed=0, device="cpu"
    )
    assert pretrained.metrics["steps"] == 2


def _png_size(png: bytes) -> tuple[int, int]:
    import io

    return Image.open(io.BytesIO(png)).size


def test_bench_sd15_preset_is_stable_diffusion_15_sized(monkeypatch):
    monkeypatch.syspath_prepend(str(BENCH))  # the script imports its _common helpers from bench/
    spec = importlib.util.spec_from_file_location("bench_diffusion_dpo", BENCH / "diffusion_dpo.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    config = bench.sd15_unet_config()
    assert config["block_out_channels"] == (320, 640, 1280, 1280)
    assert (config["in_channels"], config["sample_size"], config["cross_attention_dim"]) == (4, 64, 768)
    from diffusers import UNet2DConditionModel

    with torch.device("meta"):  # the config builds (860M parameters) without allocating them
        unet = UNet2DConditionModel(**config)
    assert 855e6 < sum(p.numel() for p in unet.parameters()) < 865e6


def test_bench_runs_both_steps_and_reports_a_ratio(monkeypatch, capsys):
    import logging
    import re

    monkeypatch.syspath_prepend(str(BENCH))
    monkeypatch.setenv("TQDM_DISABLE", "1")  # restored afterwards; the script sets it
    spec = importlib.util.spec_from_file_location("bench_diffusion_dpo", BENCH / "diffusion_dpo.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    try:
        assert (
            bench.main(["--pairs", "4", "--epochs", "2", "--batch", "2", "--repeats", "1", "--device", "cpu"])
            == 0
        )
    finally:
        logging.disable(logging.NOTSET)  # the script silences warnings process-wide, as a command may
    lines = capsys.readouterr().out.strip().splitlines()
    assert sorted(line.split()[2] for line in lines if line.startswith("  repeat 1 ")) == ["ours", "straight"]
    m = re.fullmatch(r"ratio=(\S+) loss_maxdiff=(\S+)", lines[-1])
    assert m, lines[-1]
    assert float(m.group(1)) > 0 and float(m.group(2)) < 1e-5
