"""The text-to-image policy on a tiny pixel-space pipeline built from configs: reproducible PNGs per seed
(whatever else shares the batch), the save/load round trip, and denoising pretraining."""

from __future__ import annotations

import io
import subprocess
import sys

import pytest
import torch
from PIL import Image

from polyrlaif.core.diffusion import build_tiny_t2i, load_t2i_pipeline
from polyrlaif.core.diffusion_policy import DiffusionPolicy
from polyrlaif.core.io import InputError
from polyrlaif.core.protocols import MediaPolicy

pytestmark = pytest.mark.usefixtures("one_thread")

WORDS = ["a", "red", "blue", "green", "square", "circle"]


@pytest.fixture(scope="module")
def tiny_t2i(tmp_path_factory) -> str:
    return str(build_tiny_t2i(tmp_path_factory.mktemp("t2i") / "pipe", WORDS, image_size=32, seed=0))


def _pixels(png: bytes) -> Image.Image:
    return Image.open(io.BytesIO(png)).convert("RGB")


def test_policy_is_a_media_policy_with_fixed_settings(tiny_t2i):
    policy = DiffusionPolicy(tiny_t2i, steps=3, guidance_scale=2.0, device="cpu", batch_size=2)
    assert isinstance(policy, MediaPolicy)
    assert (policy.media_kind, policy.suffix, policy.model_path) == ("image", ".png", tiny_t2i)
    assert policy.settings() == {
        "scheduler": "DDIMScheduler",
        "steps": 3,
        "guidance_scale": 2.0,
        "height": 32,
        "width": 32,
    }
    with pytest.raises(ValueError, match="2 prompts but 1 seeds"):
        policy.generate_media(["red", "blue"], seeds=[1])
    policy.close()


def test_policy_rejects_an_unknown_scheduler(tiny_t2i):
    with pytest.raises(ValueError, match="unknown scheduler 'nope'; valid: saved, ddim"):
        DiffusionPolicy(tiny_t2i, scheduler="nope", device="cpu")


def test_an_image_depends_on_its_prompt_and_seed_not_on_its_batch(tiny_t2i):
    policy = DiffusionPolicy(tiny_t2i, steps=12, device="cpu", batch_size=4)
    prompts = ["red square", "blue", "green circle", "a red", "blue circle"]
    seeds = [11, 12, 13, 14, 15]
    together = policy.generate_media(prompts, seeds=seeds)  # two pipeline calls: 4 images, then 1
    alone = [policy.generate_media([p], seeds=[s])[0] for p, s in zip(prompts, seeds, strict=True)]
    # byte-identical PNGs (without a fixed batch shape, 3 of the first 4 differed in some pixel)
    assert alone == together
    assert _pixels(alone[0]).size == (32, 32)
    # another seed, or another prompt, gives another image
    assert policy.generate_media(["red square"], seeds=[12])[0] != alone[0]
    assert policy.generate_media(["blue"], seeds=[11])[0] != alone[0]
    policy.close()


def test_round_trip_through_load_t2i_pipeline(tiny_t2i, tmp_path):
    pipe = load_t2i_pipeline(tiny_t2i, device="cpu")
    assert type(pipe).__name__ == "PixelDiffusionPipeline"
    assert pipe.unet.dtype == torch.float32  # auto on CPU
    pipe.save_pretrained(tmp_path / "copy")
    again = load_t2i_pipeline(tmp_path / "copy", device="cpu")
    assert type(again) is type(pipe)
    for (name, a), (_, b) in zip(
        pipe.unet.state_dict().items(), again.unet.state_dict().items(), strict=True
    ):
        assert torch.equal(a, b), name
    gen = [torch.Generator().manual_seed(3)]
    x = pipe(["red"], num_inference_steps=2, generator=gen, output_type="pt").images
    gen = [torch.Generator().manual_seed(3)]
    y = again(["red"], num_inference_steps=2, generator=gen, output_type="pt").images
    assert x.shape == (1, 3, 32, 32) and torch.equal(x, y)
    assert 0.0 <= x.min() and x.max() <= 1.0


def test_load_t2i_pipeline_names_a_directory_that_is_no_pipeline(tmp_path):
    with pytest.raises(InputError, match="no model_index.json"):
        load_t2i_pipeline(tmp_path)


def test_importing_the_modules_loads_no_torch():
    code = (
        "import sys, polyrlaif.core.diffusion, polyrlaif.core.diffusion_policy, "
        "polyrlaif.core.diffusion_train, polyrlaif.core.trainers.diffusion_dpo\n"
        "print([m for m in ('torch', 'diffusers', 'transformers') if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def _squares(tmp_path, n: int) -> list[tuple[str, str]]:
    rows = []
    for i in range(n):
        name, rgb = ("red", (230, 20, 20)) if i % 2 else ("blue", (20, 20, 230))
        path = tmp_path / f"{i}.png"
        Image.new("RGB", (32, 32), rgb).save(path)
        rows.append((str(path), f"a {name} square"))
    return rows


def test_denoise_train_lowers_the_loss_publishes_and_resumes(tiny_t2i, tmp_path, monkeypatch):
    from polyrlaif.core import diffusion_train

    rows = _squares(tmp_path, 8)
    out = tmp_path / "pretrain"
    kwargs = dict(epochs=8, lr=2e-3, batch_size=4, seed=0, device="cpu")
    result = diffusion_train.denoise_train(tiny_t2i, rows, out, **kwargs)
    m = result.metrics
    assert m["steps"] == 16 and m["images"] == 8
    assert m["train_loss"] < 0.7 * m["train_loss_first"], m
    assert len((out / "steps.jsonl").read_text().splitlines()) == 16
    trained = load_t2i_pipeline(result.model_path, device="cpu")
    start = load_t2i_pipeline(tiny_t2i, device="cpu")
    assert not torch.equal(trained.unet.conv_in.weight, start.unet.conv_in.weight)

    def fail(*args, **kwargs):
        raise AssertionError("a finished checkpoint must not be trained again")

    monkeypatch.setattr(diffusion_train, "load_train_parts", fail)
    again = diffusion_train.denoise_train(tiny_t2i, rows, out, **kwargs)
    assert again.resumed and again.metrics == m


def test_denoise_train_names_a_missing_image(tiny_t2i, tmp_path):
    from polyrlaif.core.diffusion_train import denoise_train

    rows = [*_squares(tmp_path, 2), (str(tmp_path / "gone.png"), "a red square")]
    with pytest.raises(InputError, match=r"row 2: image file not found: .*gone\.png"):
        denoise_train(tiny_t2i, rows, tmp_path / "out", epochs=1, lr=1e-3, batch_size=2, seed=0, device="cpu")
    assert not (tmp_path / "out" / "model").exists()


def test_pretraining_from_scratch_trains_the_text_encoder_with_min_snr(tmp_path):
    """The synthetic world's recipe: three levels, the pooled prompt in the timestep embedding, the
    text encoder trained with the UNet, Min-SNR weights; the text encoder is published trained."""
    from polyrlaif.core.diffusion_train import denoise_train, min_snr_weight

    path = build_tiny_t2i(tmp_path / "init", WORDS, channels=(16, 32, 32), pooled_text=True, seed=0)
    start = load_t2i_pipeline(path, device="cpu")
    assert start.unet.config.addition_embed_type == "text"
    assert len(start.unet.down_blocks) == 3
    kwargs = dict(epochs=8, lr=2e-3, batch_size=4, seed=0, device="cpu")
    result = denoise_train(str(path), _squares(tmp_path, 8), tmp_path / "out", train_text_encoder=True,
                           snr_gamma=5.0, **kwargs)  # fmt: skip
    assert result.metrics["train_loss"] < result.metrics["train_loss_first"], result.metrics
    trained = load_t2i_pipeline(result.model_path, device="cpu")
    token = trained.text_encoder.get_input_embeddings().weight
    assert not torch.equal(token, start.text_encoder.get_input_embeddings().weight)
    sched = trained.scheduler
    t = torch.tensor([0, 500, 999])
    alphas = sched.alphas_cumprod[t]
    snr = alphas / (1 - alphas)
    assert torch.allclose(min_snr_weight(sched, t, 5.0), torch.minimum(snr, torch.tensor(5.0)) / snr)
    with pytest.raises(ValueError, match="snr_gamma"):
        denoise_train(str(path), _squares(tmp_path, 2), tmp_path / "bad", snr_gamma=0.0, **kwargs)


def test_a_prompt_and_seed_drawn_once_is_returned_again_not_redrawn(tiny_t2i):
    """The benchmarks of one evaluation share images: the second request for a (prompt, seed) gets the
    first image's bytes without running the pipeline; a new seed is drawn."""
    policy = DiffusionPolicy(tiny_t2i, steps=2, scheduler="ddim", device="cpu", batch_size=2)
    first = policy.generate_media(["a red square", "a blue square"], seeds=[1, 2])
    assert policy.stats == {"images": 2, "reused": 0}
    again = policy.generate_media(["a blue square", "a red square", "a red square"], seeds=[2, 1, 3])
    assert again[0] == first[1] and again[1] == first[0] and again[2] != first[0]
    assert policy.stats == {"images": 3, "reused": 2}
    fresh = DiffusionPolicy(tiny_t2i, steps=2, scheduler="ddim", device="cpu", batch_size=2)
    assert fresh.generate_media(["a red square"], seeds=[3]) == [
        again[2]
    ]  # the same image a cold policy draws


def test_a_full_memo_starts_over_and_still_returns_every_image(tiny_t2i, monkeypatch):
    from polyrlaif.core import diffusion_policy

    monkeypatch.setattr(diffusion_policy, "MEMO_IMAGES", 2)
    policy = DiffusionPolicy(tiny_t2i, steps=2, scheduler="ddim", device="cpu", batch_size=2)
    first = policy.generate_media(["a red square", "a blue square"], seeds=[1, 2])
    both = policy.generate_media(["a red square", "a red square"], seeds=[1, 5])  # one kept, one new: full
    assert both[0] == first[0] and len(both) == 2 and policy.stats == {"images": 3, "reused": 1}
