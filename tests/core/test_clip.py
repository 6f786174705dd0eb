"""core/clip.py: loading a CLIP from a config and a local weights file, cosines against a direct open_clip
computation, the soft-target contrastive loss on fixed tensors, and train_clip's directory (loadable,
learned, resumable)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from polyrlaif.core import clip as C
from polyrlaif.core.io import InputError

ARCH = "polyrlaif-test-core-clip"


@pytest.fixture()
def tiny(tmp_path: Path) -> tuple[str, Path, Path]:
    """A randomly initialised tiny CLIP: ``(arch name, config JSON, state-dict checkpoint)``."""
    import open_clip

    cfg = tmp_path / f"{ARCH}.json"
    cfg.write_text(json.dumps(C.TINY_CLIP_CFG))
    open_clip.add_model_config(cfg)
    torch.manual_seed(0)
    ckpt = tmp_path / "tiny.pt"
    torch.save(open_clip.create_model(ARCH).state_dict(), ckpt)
    return ARCH, cfg, ckpt


def _noise_images(folder: Path, n: int, seed: int = 0) -> list[str]:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    paths = []
    for i in range(n):
        path = folder / f"{i}.png"
        Image.fromarray(rng.integers(0, 256, (40, 48, 3), dtype=np.uint8)).save(path)
        paths.append(str(path))
    return paths


def _reference_cosines(arch: str, ckpt: Path, paths: list[str], texts: list[str]) -> list[float]:
    """Straight open_clip: encode, normalise by hand, dot."""
    import open_clip

    model, _, preprocess = open_clip.create_model_and_transforms(arch, pretrained=str(ckpt))
    model.eval()
    tokens = open_clip.get_tokenizer(arch)(texts)
    with torch.no_grad():
        img = model.encode_image(torch.stack([preprocess(Image.open(p).convert("RGB")) for p in paths]))
        txt = model.encode_text(tokens)
    img = img / img.norm(dim=-1, keepdim=True)
    txt = txt / txt.norm(dim=-1, keepdim=True)
    return (img * txt).sum(-1).tolist()


def test_cosines_match_open_clip_for_a_name_and_for_a_config_file(tiny, tmp_path: Path) -> None:
    arch, cfg, ckpt = tiny
    paths = _noise_images(tmp_path / "img", 5)
    paths.append(paths[0])  # a repeated image is embedded once and scored twice
    texts = ["a red square", "a dog", "two blue circles", "a dog", "text", "a cat on a mat"]
    want = _reference_cosines(arch, ckpt, paths, texts)
    for spec in (arch, str(cfg)):
        model, preprocess, tokenizer = C.load_clip(spec, str(ckpt))
        got = C.clip_cosines(model, preprocess, tokenizer, paths, texts, batch_size=2)
        assert got == pytest.approx(want, abs=1e-5)
    assert len({round(c, 4) for c in want}) == len(want)  # distinct values: the pairing is checked
    emb = C.clip_embed_texts(model, tokenizer, texts[:2], normalize=False)
    assert emb.shape == (2, C.TINY_CLIP_CFG["embed_dim"]) and not torch.allclose(
        emb.norm(dim=-1), torch.ones(2)
    )


def test_load_errors_are_named(tiny, tmp_path: Path) -> None:
    arch, _, _ = tiny
    with pytest.raises(FileNotFoundError, match="weights file not found"):
        C.load_clip(arch, str(tmp_path / "missing.pt"))
    model, preprocess, tokenizer = C.load_clip(arch)
    (tmp_path / "bad.png").write_bytes(b"not a png")
    with pytest.raises(InputError, match="bad.png"):
        C.clip_cosines(model, preprocess, tokenizer, [str(tmp_path / "bad.png")], ["x"])


class _Fixed(torch.nn.Module):
    """Stands in for a CLIP: fixed unit embeddings, logit scale 1."""

    def __init__(self, img: list[list[float]], txt: list[list[float]]) -> None:
        super().__init__()
        self.img, self.txt = torch.tensor(img), torch.tensor(txt)
        self.logit_scale = torch.nn.Parameter(torch.zeros(()))

    def encode_image(self, pixels, normalize):
        return self.img

    def encode_text(self, tokens, normalize):
        return self.txt


def test_soft_targets_make_shared_captions_positives() -> None:
    # two images, one shared caption, identical logits: image->text is certain (0), text->image splits
    # its target over both images: cross-entropy ln 2; the loss is their mean.
    model = _Fixed([[1.0, 0.0], [1.0, 0.0]], [[1.0, 0.0]])
    loss = C._contrastive_loss(model, None, None, torch.ones(2, 1))
    assert float(loss.detach()) == pytest.approx(math.log(2) / 2, abs=1e-6)
    # 2 images x 2 texts, positives [[1, 0], [1, 1]], logits = cos = [[1, 0], [1, 0]] (scale 1)
    model = _Fixed([[1.0, 0.0], [1.0, 0.0]], [[1.0, 0.0], [0.0, 1.0]])
    loss = C._contrastive_loss(model, None, None, torch.tensor([[1.0, 0.0], [1.0, 1.0]]))
    lse = math.log(math.e + 1)
    to_text = ((lse - 1) + (lse - 0.5)) / 2  # row 2 targets [0.5, 0.5]: CE = lse - (1 + 0) / 2
    to_image = math.log(2)  # both texts see equal logits over the two images: [1, 1] and [0, 0]
    assert float(loss.detach()) == pytest.approx((to_text + to_image) / 2, abs=1e-6)


def _squares(folder: Path) -> list[tuple[str, str]]:
    folder.mkdir()
    colours = {"red": (220, 20, 20), "green": (20, 200, 40), "blue": (30, 40, 230)}
    rows = []
    for i in range(12):
        name = list(colours)[i % 3]
        shade = np.clip(np.array(colours[name]) + (i // 3) * 8, 0, 255).astype(np.uint8)
        path = folder / f"{i}.png"
        Image.fromarray(np.broadcast_to(shade, (32, 32, 3)).copy()).save(path)
        rows.append((str(path), f"a {name} square"))
    return rows


def test_train_clip_writes_a_loadable_model_that_learned_and_resumes(tmp_path: Path) -> None:
    import open_clip

    rows = _squares(tmp_path / "img")
    out = C.train_clip(rows, tmp_path / "clip", epochs=12, lr=3e-3, batch_size=12, seed=0)
    meta = json.loads((out / C.METADATA_FILE).read_text())
    assert meta["rows"] == 12 and meta["images"] == 12 and meta["captions"] == 3 and meta["steps"] == 12
    assert meta["seconds"] > 0 and math.isfinite(meta["final_loss"])
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".clip")]  # no staging left behind

    model, preprocess, tokenizer = C.load_clip(str(out))
    captions = ["a red square", "a green square", "a blue square"]
    images = [r[0] for r in rows]
    cos = C.clip_cosines(model, preprocess, tokenizer, [i for i in images for _ in captions], captions * 12)
    right = sum(int(np.argmax(cos[3 * k : 3 * k + 3])) == k % 3 for k in range(12))
    assert right == 12  # every square is closest to its own colour's caption
    # open_clip itself reads the directory
    same, _, _ = open_clip.create_model_and_transforms(f"local-dir:{out}")
    assert torch.equal(same.state_dict()["text_projection"], model.state_dict()["text_projection"])

    stamp = (out / C.WEIGHTS_FILE).stat().st_mtime_ns
    assert C.train_clip(rows, out, epochs=12, lr=3e-3, batch_size=12, seed=0) == out
    assert (out / C.WEIGHTS_FILE).stat().st_mtime_ns == stamp  # finished: skipped
    with pytest.raises(ValueError, match=r"other \['epochs'\]"):
        C.train_clip(rows, out, epochs=13, lr=3e-3, batch_size=12, seed=0)
    with pytest.raises(ValueError, match=r"other \['rows_sha256'\]"):
        C.train_clip(rows[:6], out, epochs=12, lr=3e-3, batch_size=12, seed=0)


def test_train_clip_names_an_unreadable_row(tmp_path: Path) -> None:
    (tmp_path / "x.png").write_text("no image")
    with pytest.raises(InputError, match="train_clip row 0"):
        C.train_clip([(str(tmp_path / "x.png"), "a")], tmp_path / "clip", epochs=1)
    assert not (tmp_path / "clip").exists()
