"""evaluation/fid.py: the Fréchet distance between folders with a feature extractor of one's own (a known
value from mean colours, identical folders at 0, a tiny random CLIP image encoder), and the Inception
path handed to torch-fidelity as its own FID."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from polyrlaif.core.io import InputError
from polyrlaif.evaluation.fid import fid, image_files

ARCH = "polyrlaif-test-fid"
CFG = {
    "embed_dim": 32,
    "vision_cfg": {"image_size": 32, "layers": 2, "width": 64, "head_width": 32, "patch_size": 8},
    "text_cfg": {"context_length": 16, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 2},
}


def _solid(folder: Path, colours: np.ndarray) -> Path:
    folder.mkdir(parents=True)
    for i, c in enumerate(colours):
        Image.fromarray(np.broadcast_to(c.astype(np.uint8), (16, 16, 3)).copy()).save(folder / f"{i:03d}.png")
    return folder


def _mean_colour(images) -> np.ndarray:
    return np.stack([np.asarray(im, dtype=np.float64).mean(axis=(0, 1)) / 255 for im in images])


def test_a_shift_of_the_mean_gives_its_squared_length(tmp_path: Path) -> None:
    colours = np.random.default_rng(0).integers(40, 160, (30, 3))
    a = _solid(tmp_path / "a", colours)
    b = _solid(tmp_path / "b", colours + np.array([30, 0, 60]))  # same covariance, mean moved
    (tmp_path / "a" / "notes.txt").write_text("not an image, not counted")
    assert len(image_files(a)) == 30
    # ||mu_a - mu_b||^2 + tr(S_a + S_b - 2 (S_a S_b)^(1/2)) with S_a = S_b: the squared shift alone
    assert fid(a, b, extractor=_mean_colour, batch_size=7) == pytest.approx(
        (30**2 + 60**2) / 255**2, rel=1e-6
    )
    assert fid(a, a, extractor=_mean_colour) == pytest.approx(0.0, abs=1e-9)
    # a wider spread (covariance scaled by 4) adds tr(S) + tr(4 S) - 2 tr(2 S) = tr(S)
    d = np.random.default_rng(1).integers(-30, 30, (15, 3))
    d = np.concatenate([d, -d])  # integer deviations with mean exactly 0
    wide = _solid(tmp_path / "wide", 100 + 2 * d)
    centred = _solid(tmp_path / "centred", 100 + d)
    spread = np.cov(_mean_colour([Image.open(p) for p in image_files(centred)]), rowvar=False)
    assert fid(centred, wide, extractor=_mean_colour) == pytest.approx(np.trace(spread), rel=1e-3)


def test_a_tiny_clip_image_encoder_as_the_extractor(tmp_path: Path) -> None:
    import open_clip

    from polyrlaif.core.clip import clip_embed_images, load_clip

    (tmp_path / f"{ARCH}.json").write_text(json.dumps(CFG))
    open_clip.add_model_config(tmp_path / f"{ARCH}.json")
    torch.manual_seed(0)
    torch.save(open_clip.create_model(ARCH).state_dict(), tmp_path / "tiny.pt")
    model, preprocess, _ = load_clip(ARCH, str(tmp_path / "tiny.pt"))
    rng = np.random.default_rng(1)
    real = _solid(tmp_path / "real", rng.integers(0, 256, (40, 3)))
    same = _solid(tmp_path / "same", rng.integers(0, 256, (40, 3)))  # another draw, same distribution
    dark = _solid(tmp_path / "dark", rng.integers(0, 60, (40, 3)))  # another distribution

    def extractor(images):
        return clip_embed_images(model, preprocess, images, normalize=False)

    itself = fid(real, real, extractor=extractor)
    near = fid(real, same, extractor=extractor)
    far = fid(real, dark, extractor=extractor)
    assert abs(itself) < 1e-3 * far
    assert near < far / 2


def test_errors_and_the_inception_path(tmp_path: Path, monkeypatch) -> None:
    one = _solid(tmp_path / "one", np.array([[1, 2, 3]]))
    two = _solid(tmp_path / "two", np.array([[1, 2, 3], [4, 5, 6]]))
    with pytest.raises(InputError, match="at least two images"):
        fid(one, two, extractor=_mean_colour)
    with pytest.raises(InputError, match="not a folder"):
        fid(tmp_path / "missing", two, extractor=_mean_colour)
    with pytest.raises(ValueError, match="'inception' or a callable"):
        fid(two, two, extractor="dinov2")
    with pytest.raises(InputError, match="shape"):
        fid(two, two, extractor=lambda ims: np.zeros((1, 4)))

    import torch_fidelity

    seen = {}

    def fake(**kwargs):
        seen.update(kwargs)
        return {"frechet_inception_distance": 12.5}

    monkeypatch.setattr(torch_fidelity, "calculate_metrics", fake)
    assert fid(two, two, batch_size=5, device="cpu") == 12.5
    assert seen["input1"] == str(two) and seen["fid"] is True and seen["cuda"] is False
    assert seen["batch_size"] == 5 and seen["cache"] is False
