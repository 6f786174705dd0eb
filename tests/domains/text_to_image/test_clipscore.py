"""CLIPScore against a direct open_clip computation on a randomly initialised tiny CLIP saved to disk;
unreadable images skipped and counted; bad files stop before any model loads; a media policy's images
drawn, resumed, and guarded against mixing policies."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from polyrlaif.core.io import InputError, read_jsonl
from polyrlaif.core.protocols import BenchmarkEvaluator, EvalRequest, MediaPolicy
from polyrlaif.domains.text_to_image.clipscore import ClipScoreEvaluator, ClipScoreOptions

ARCH = "polyrlaif-test-clipscore"
CFG = {
    "embed_dim": 32,
    "vision_cfg": {"image_size": 32, "layers": 2, "width": 64, "head_width": 32, "patch_size": 8},
    "text_cfg": {"context_length": 16, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 2},
}
PROMPTS = ["a red square", "a dog on a beach", "two blue circles", "a cat", "a red square", "a tree at night"]


@pytest.fixture()
def tiny(tmp_path: Path) -> tuple[str, Path]:
    """``(arch, checkpoint)`` of a random tiny CLIP registered with open_clip from a config dict."""
    import open_clip

    (tmp_path / f"{ARCH}.json").write_text(json.dumps(CFG))
    open_clip.add_model_config(tmp_path / f"{ARCH}.json")
    torch.manual_seed(0)  # a seed whose cosines on these images and prompts fall on both sides of 0
    ckpt = tmp_path / "tiny.pt"
    torch.save(open_clip.create_model(ARCH).state_dict(), ckpt)
    return ARCH, ckpt


def _png(seed: int) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(seed).integers(0, 256, (40, 48, 3), dtype=np.uint8)).save(
        buf, "PNG"
    )
    return buf.getvalue()


def reference_clipscores(arch: str, ckpt: Path, paths: list[Path], texts: list[str]) -> list[float]:
    """torchmetrics' CLIPScore by hand: 100 * max(cos, 0) of open_clip's embeddings."""
    import open_clip

    model, _, preprocess = open_clip.create_model_and_transforms(arch, pretrained=str(ckpt))
    model.eval()
    with torch.no_grad():
        img = model.encode_image(torch.stack([preprocess(Image.open(p).convert("RGB")) for p in paths]))
        txt = model.encode_text(open_clip.get_tokenizer(arch)(texts))
    cos = (img / img.norm(dim=-1, keepdim=True) * (txt / txt.norm(dim=-1, keepdim=True))).sum(-1)
    return [100 * max(float(c), 0.0) for c in cos]


def _predictions(tmp_path: Path, rows: list[dict]) -> Path:
    path = tmp_path / "pred.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def _images(folder: Path, n: int) -> list[str]:
    folder.mkdir(exist_ok=True)
    for i in range(n):
        (folder / f"{i}.png").write_bytes(_png(i))
    return [f"{i}.png" for i in range(n)]


def test_clipscore_equals_the_direct_computation(tiny, tmp_path: Path) -> None:
    arch, ckpt = tiny
    names = _images(tmp_path / "imgs", len(PROMPTS))
    pred = _predictions(tmp_path, [{"image": n, "prompt": p} for n, p in zip(names, PROMPTS, strict=True)])
    opts = ClipScoreOptions(predictions=str(pred), image_root=str(tmp_path / "imgs"), clip_model=arch,
                            clip_pretrained=str(ckpt), device="cpu")  # fmt: skip
    out = tmp_path / "out"
    metrics = ClipScoreEvaluator().evaluate(None, EvalRequest(output_dir=out, options=opts, batch_size=4))

    want = reference_clipscores(arch, ckpt, [tmp_path / "imgs" / n for n in names], PROMPTS)
    assert 0 < sum(w == 0 for w in want) < len(want)  # the clip at 0 is exercised, and so are positives
    items = read_jsonl(out / "items.jsonl")
    assert [r["clipscore"] for r in items] == pytest.approx(want, abs=1e-4)
    assert [r["id"] for r in items] == PROMPTS[:4] + ["a red square#2", "a tree at night"]
    assert metrics["clipscore"] == pytest.approx(sum(want) / len(want), abs=1e-4)
    assert metrics["n"] == len(PROMPTS) and metrics["skipped"] == 0
    assert ClipScoreEvaluator.aggregate(items) == {k: pytest.approx(metrics[k]) for k in ("clipscore", "n")}
    assert json.loads((out / "metrics.json").read_text())["clipscore"] == pytest.approx(metrics["clipscore"])
    assert isinstance(ClipScoreEvaluator(), BenchmarkEvaluator)


def test_missing_and_unreadable_images_are_skipped_with_reasons(tiny, tmp_path: Path) -> None:
    arch, ckpt = tiny
    names = _images(tmp_path, 2)
    (tmp_path / "junk.png").write_text("not an image")
    rows = [
        {"image": names[0], "prompt": "a"},
        {"image": "gone.png", "prompt": "b"},
        {"image": "junk.png", "prompt": "c", "id": "c-1"},
        {"image": names[1], "prompt": "d"},
    ]
    opts = ClipScoreOptions(predictions=str(_predictions(tmp_path, rows)), clip_model=arch,
                            clip_pretrained=str(ckpt), device="cpu")  # fmt: skip
    out = tmp_path / "out"
    metrics = ClipScoreEvaluator().evaluate(None, EvalRequest(output_dir=out, options=opts, batch_size=3))
    assert metrics["n"] == 2 and metrics["skipped"] == 2
    assert [r["id"] for r in read_jsonl(out / "items.jsonl")] == ["a", "d"]
    skipped = read_jsonl(out / "skipped.jsonl")
    assert [r["id"] for r in skipped] == ["b", "c-1"]
    assert "not found" in skipped[0]["reason"] and "not a readable image" in skipped[1]["reason"]
    want = reference_clipscores(arch, ckpt, [tmp_path / n for n in names], ["a", "d"])
    assert metrics["clipscore"] == pytest.approx(sum(want) / 2, abs=1e-4)


@pytest.mark.parametrize(
    ("text", "match"),
    [
        (
            '{"image": "0.png", "prompt": "a"}\n{"image": "1.png"}\n',
            r"pred.jsonl:2: missing field\(s\) 'prompt'",
        ),
        ('{"image": "0.png", "prompt": "a"}\n{"image": \n', r"pred.jsonl:2: malformed JSON"),
        ('{"image": "0.png", "prompt": ""}\n', r"pred.jsonl:1: field 'prompt' must be a non-empty string"),
    ],
)
def test_a_bad_predictions_file_stops_before_any_model_loads(tmp_path: Path, text: str, match: str) -> None:
    (tmp_path / "pred.jsonl").write_text(text)
    # the CLIP named here does not exist: reaching it would raise something else
    opts = ClipScoreOptions(
        predictions=str(tmp_path / "pred.jsonl"), clip_model="no-such-arch", clip_pretrained="x"
    )
    with pytest.raises(InputError, match=match):
        ClipScoreEvaluator().evaluate(None, EvalRequest(output_dir=tmp_path / "out", options=opts))


def test_no_weights_is_an_error(tmp_path: Path) -> None:
    _images(tmp_path, 1)
    pred = _predictions(tmp_path, [{"image": "0.png", "prompt": "a"}])
    opts = ClipScoreOptions(predictions=str(pred), clip_model="ViT-B-32")
    with pytest.raises(ValueError, match="has no weights: give --clip-pretrained"):
        ClipScoreEvaluator().evaluate(None, EvalRequest(output_dir=tmp_path / "out", options=opts))


class Drawer:
    """A media policy drawing seeded noise (the seed decides the image)."""

    media_kind, suffix, model_path = "image", ".png", "noise"

    def __init__(self, model_id: str = "noise-drawer") -> None:
        self.model_id = model_id
        self.drawn = 0

    def settings(self) -> dict:
        return {"steps": 1}

    def generate_media(self, prompts, *, seeds):
        self.drawn += len(prompts)
        return [_png(s) for s in seeds]


def test_a_policy_draws_the_prompts_then_resumes_and_refuses_another_policy(tiny, tmp_path: Path) -> None:
    arch, ckpt = tiny
    prompts = tmp_path / "prompts.jsonl"
    prompts.write_text("".join(json.dumps({"prompt": p}) + "\n" for p in PROMPTS[:3]))
    opts = ClipScoreOptions(prompts=str(prompts), clip_model=arch, clip_pretrained=str(ckpt), device="cpu")
    out = tmp_path / "out"
    drawer = Drawer()
    assert isinstance(drawer, MediaPolicy)
    request = EvalRequest(output_dir=out, options=opts, samples=2, seed=3, batch_size=2)
    metrics = ClipScoreEvaluator().evaluate(drawer, request)
    assert drawer.drawn == 6 and metrics["n"] == 6
    items = read_jsonl(out / "items.jsonl")
    assert [r["id"] for r in items] == [
        "a red square", "a red square#2", "a dog on a beach", "a dog on a beach#2",
        "two blue circles", "two blue circles#2",
    ]  # fmt: skip
    paths = [Path(r["image"]) for r in items]
    assert all(p.is_file() and out / "media" in p.parents for p in paths)
    want = reference_clipscores(arch, ckpt, paths, [r["prompt"] for r in items])
    assert [r["clipscore"] for r in items] == pytest.approx(want, abs=1e-4)

    again = ClipScoreEvaluator().evaluate(drawer, request)
    assert drawer.drawn == 6 and again == metrics  # finished images are reused, not drawn again
    with pytest.raises(InputError, match="use another --output"):
        ClipScoreEvaluator().evaluate(Drawer("another-model"), request)
    with pytest.raises(InputError, match="use another --output"):
        ClipScoreEvaluator().evaluate(drawer, EvalRequest(output_dir=out, options=opts, samples=2, seed=4))
    with pytest.raises(ValueError, match="a model or predictions, not both"):
        both = ClipScoreOptions(predictions=str(prompts), prompts=str(prompts))
        ClipScoreEvaluator().evaluate(drawer, EvalRequest(output_dir=out, options=both))
