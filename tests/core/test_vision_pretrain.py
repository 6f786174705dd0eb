"""Vision-tower pretraining: the tower learns from labels, only the tower changes, reruns skip, bad input
is named."""

from __future__ import annotations

import pytest

from polyrlaif.core.trainers.vision_pretrain import VisionPretrainSettings, pretrain_vision_tower


def _images(tmp_path, n: int = 16) -> tuple[list[str], list[list[int]]]:
    """Half the images show a red square (label 0), half a blue one (label 1); noisy backgrounds."""
    import random

    from PIL import Image

    rng = random.Random(0)
    paths, labels = [], []
    for i in range(n):
        red = i % 2 == 0
        im = Image.new("RGB", (32, 32))
        im.putdata([tuple(rng.randint(0, 40) for _ in range(3)) for _ in range(32 * 32)])
        x, y = rng.randint(0, 16), rng.randint(0, 16)
        im.paste((220, 40, 40) if red else (50, 100, 235), (x, y, x + 14, y + 14))
        p = tmp_path / f"im{i}.png"
        im.save(p)
        paths.append(str(p))
        labels.append([0] if red else [1])
    return paths, labels


@pytest.fixture(scope="module")
def vlm(tmp_path_factory):
    from polyrlaif.core.tiny import TinyVLMConfig, build_tiny_vlm, corpus_words

    cfg = TinyVLMConfig(image_size=32, patch_size=8, vision_hidden=32, hidden=32, layers=1, heads=2)
    return build_tiny_vlm(
        tmp_path_factory.mktemp("vlm") / "init", corpus_words(["is there a square ? yes no"]), cfg
    )


def test_tower_learns_and_only_the_tower_changes(vlm, tmp_path):
    from safetensors.torch import load_file

    paths, labels = _images(tmp_path)
    out = tmp_path / "pre"
    result = pretrain_vision_tower(
        str(vlm), paths, labels, 2, out, VisionPretrainSettings(steps=60, lr=3e-3, batch_size=8)
    )
    assert result.metrics["train_exact_match"] >= 0.9, result.metrics  # colour is easy to learn
    before, after = load_file(vlm / "model.safetensors"), load_file(out / "model" / "model.safetensors")
    changed = {k for k in before if not (before[k] == after[k]).all()}
    assert changed and all("vision_tower" in k for k in changed), sorted(changed)[:5]
    again = pretrain_vision_tower(str(vlm), paths, labels, 2, out, VisionPretrainSettings(steps=60))
    assert again.resumed and again.metrics == result.metrics


def test_bad_input_is_named(vlm, tmp_path):
    paths, labels = _images(tmp_path, n=4)
    with pytest.raises(ValueError, match=r"image 1 .*labels \[5\] outside \[0, 2\)"):
        pretrain_vision_tower(str(vlm), paths, [[0], [5], [1], [0]], 2, tmp_path / "a")
    (tmp_path / "im2.png").write_bytes(b"not a png")
    with pytest.raises(ValueError, match="vision pretraining image 2"):
        pretrain_vision_tower(str(vlm), paths, labels, 2, tmp_path / "b")
    with pytest.raises(ValueError, match="4 images but 3 label sets"):
        pretrain_vision_tower(str(vlm), paths, labels[:3], 2, tmp_path / "c")
