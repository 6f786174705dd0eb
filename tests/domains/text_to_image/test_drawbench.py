"""DrawBench / PartiPrompts loaders on small files written here (errors name file, line and field), and the
win rate of tuned over base images with a randomly initialised tiny CLIP (CLIPScore) and a tiny
transformers CLIP in PickScore's place, against scores computed by hand."""

from __future__ import annotations

import io
import json
import math
import string
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from polyrlaif.core.io import InputError, read_jsonl
from polyrlaif.core.protocols import EvalRequest
from polyrlaif.domains.text_to_image.drawbench import (
    WinRateEvaluator,
    WinRateOptions,
    load_drawbench,
    load_partiprompts,
    load_prompts,
    make_scorer,
)

ARCH = "polyrlaif-test-winrate"
CFG = {
    "embed_dim": 32,
    "vision_cfg": {"image_size": 32, "layers": 2, "width": 64, "head_width": 32, "patch_size": 8},
    "text_cfg": {"context_length": 16, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 2},
}


# ---------------------------------------------------------------- loaders


def test_drawbench_csv(tmp_path: Path) -> None:
    path = tmp_path / "drawbench.csv"
    path.write_text(
        'Prompts,Category\n"A red colored car, parked.",Colors\n\nA cat.,Misc\nA cat.,Misc\n',
        encoding="utf-8-sig",
    )
    rows = load_drawbench(path)
    assert [(r.id, r.prompt, r.category) for r in rows] == [
        ("A red colored car, parked.", "A red colored car, parked.", "Colors"),
        ("A cat.", "A cat.", "Misc"),
        ("A cat.#2", "A cat.", "Misc"),
    ]
    assert load_prompts(path) == rows


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("Prompt,Kind\nA cat.,Misc\n", r"drawbench.csv:1: missing column\(s\) 'Category'"),
        ("Text,Category\nA cat.,Misc\n", r"drawbench.csv:1: missing column\(s\) 'Prompts'"),
        ("Prompts,Category\nA cat.,Misc\n ,Misc\n", r"drawbench.csv:3: field 'Prompts' is empty"),
        ("Prompts,Category\nA cat.,Misc\nA dog.\n", r"drawbench.csv:3: field 'Category' is missing"),
    ],
)
def test_drawbench_errors_name_file_line_and_field(tmp_path: Path, text: str, match: str) -> None:
    (tmp_path / "drawbench.csv").write_text(text)
    with pytest.raises(InputError, match=match):
        load_drawbench(tmp_path / "drawbench.csv")


def test_partiprompts_tsv(tmp_path: Path) -> None:
    path = tmp_path / "parti.tsv"
    path.write_text(
        "Prompt\tCategory\tChallenge\tNote\n"
        'A sign that says "Hi"\tWriting\tSimple Detail\t\n'
        '"Quoted" start, as published\tArts\tBasic\tfrom a poem\n'
    )
    rows = load_partiprompts(path)
    assert [(r.prompt, r.category, r.challenge, r.note) for r in rows] == [
        ('A sign that says "Hi"', "Writing", "Simple Detail", ""),
        ('"Quoted" start, as published', "Arts", "Basic", "from a poem"),
    ]
    assert load_prompts(path) == rows
    path.write_text("Prompt\tCategory\nA cat\tAnimals\textra\n")
    with pytest.raises(InputError, match=r"parti.tsv:2: more fields than the header's 2"):
        load_partiprompts(path)


def test_load_prompts_jsonl_and_text(tmp_path: Path) -> None:
    (tmp_path / "p.jsonl").write_text('{"prompt": "a", "id": "x"}\n{"prompt": "b", "category": "c"}\n')
    assert [(r.id, r.prompt, r.category) for r in load_prompts(tmp_path / "p.jsonl")] == [
        ("x", "a", ""),
        ("b", "b", "c"),
    ]
    # the domain's own prompt files ({"text", "prompt_id"}) read the same way
    (tmp_path / "w.jsonl").write_text('{"text": "a red square", "prompt_id": "h1"}\n')
    assert [(r.id, r.prompt) for r in load_prompts(tmp_path / "w.jsonl")] == [("h1", "a red square")]
    (tmp_path / "p.jsonl").write_text('{"prompt": "a"}\n{"caption": "b"}\n')
    with pytest.raises(InputError, match=r"p.jsonl:2: missing field 'prompt' \(or 'text'\)"):
        load_prompts(tmp_path / "p.jsonl")
    (tmp_path / "p.txt").write_text("one\n\ntwo\n")
    assert [r.prompt for r in load_prompts(tmp_path / "p.txt")] == ["one", "two"]
    with pytest.raises(InputError, match="prompts must be .csv"):
        load_prompts(tmp_path / "p.yaml")


# ---------------------------------------------------------------- win rate


@pytest.fixture()
def tiny(tmp_path: Path) -> tuple[str, Path]:
    """``(arch, checkpoint)`` of a random tiny open_clip CLIP."""
    import open_clip

    (tmp_path / f"{ARCH}.json").write_text(json.dumps(CFG))
    open_clip.add_model_config(tmp_path / f"{ARCH}.json")
    torch.manual_seed(0)
    ckpt = tmp_path / "tiny.pt"
    torch.save(open_clip.create_model(ARCH).state_dict(), ckpt)
    return ARCH, ckpt


def _write(path: Path, seed: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    arr = np.random.default_rng(seed).integers(0, 256, (40, 40, 3), dtype=np.uint8)
    Image.fromarray(arr).save(path)


def _jsonl(path: Path, rows: list[dict]) -> str:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return str(path)


def _clipscores(arch: str, ckpt: Path, paths: list[Path], texts: list[str]) -> list[float]:
    import open_clip

    model, _, preprocess = open_clip.create_model_and_transforms(arch, pretrained=str(ckpt))
    model.eval()
    with torch.no_grad():
        img = model.encode_image(torch.stack([preprocess(Image.open(p).convert("RGB")) for p in paths]))
        txt = model.encode_text(open_clip.get_tokenizer(arch)(texts))
    cos = (img / img.norm(dim=-1, keepdim=True) * (txt / txt.norm(dim=-1, keepdim=True))).sum(-1)
    return [100 * max(float(c), 0.0) for c in cos]


PROMPTS = [f"prompt number {k}" for k in range(8)]


def _sides(tmp_path: Path) -> tuple[str, str]:
    """Base and tuned predictions: prompt 0 the same image on both sides (a tie), prompt 6 a missing
    tuned image, prompt 7 only in the baseline."""
    for k in range(8):
        _write(tmp_path / "base" / f"{k}.png", 100 + k)
        if k != 6:
            _write(tmp_path / "tuned" / f"{k}.png", 0 if k == 0 else 200 + k)
    _write(tmp_path / "tuned" / "0.png", 100)  # same pixels as base/0.png
    base = _jsonl(
        tmp_path / "base.jsonl", [{"image": f"base/{k}.png", "prompt": p} for k, p in enumerate(PROMPTS)]
    )
    tuned = _jsonl(
        tmp_path / "tuned.jsonl",
        [{"image": f"tuned/{k}.png", "prompt": p} for k, p in enumerate(PROMPTS[:7])],
    )
    return base, tuned


def test_win_rate_with_clipscore_counts_wins_ties_and_skips(tiny, tmp_path: Path) -> None:
    arch, ckpt = tiny
    base, tuned = _sides(tmp_path)
    opts = WinRateOptions(
        predictions=tuned, baseline=base, clip_model=arch, clip_pretrained=str(ckpt), device="cpu"
    )
    out = tmp_path / "out"
    metrics = WinRateEvaluator().evaluate(None, EvalRequest(output_dir=out, options=opts, batch_size=3))

    b = _clipscores(arch, ckpt, [tmp_path / "base" / f"{k}.png" for k in range(6)], PROMPTS[:6])
    t = _clipscores(arch, ckpt, [tmp_path / "tuned" / f"{k}.png" for k in range(6)], PROMPTS[:6])
    wins = [0.5 if tk == bk else float(tk > bk) for tk, bk in zip(t, b, strict=True)]
    assert wins[0] == 0.5 and 0 < sum(wins[1:]) < 5  # a tie, and both wins and losses among the rest
    items = read_jsonl(out / "items.jsonl")
    assert [r["win"] for r in items] == wins
    assert [r["tuned_score"] for r in items] == pytest.approx(t, abs=1e-4)
    assert [r["base_score"] for r in items] == pytest.approx(b, abs=1e-4)
    assert metrics["win_rate"] == pytest.approx(sum(wins) / 6) and metrics["n"] == 6
    assert (metrics["wins"], metrics["ties"], metrics["losses"]) == (wins.count(1.0), 1, wins.count(0.0))
    skipped = {r["id"]: r["reason"] for r in read_jsonl(out / "skipped.jsonl")}
    assert "image file not found" in skipped[PROMPTS[6]] and skipped[PROMPTS[7]] == "no tuned image"
    assert metrics["skipped"] == 2
    assert WinRateEvaluator.aggregate(items)["win_rate"] == metrics["win_rate"]

    wide = WinRateOptions(
        predictions=tuned, baseline=base, clip_model=arch, clip_pretrained=str(ckpt), tie_margin=1e9
    )
    metrics = WinRateEvaluator().evaluate(None, EvalRequest(output_dir=tmp_path / "o2", options=wide))
    assert metrics["win_rate"] == 0.5 and metrics["ties"] == 6


def test_win_rate_input_errors_come_before_any_model(tmp_path: Path) -> None:
    base = _jsonl(tmp_path / "base.jsonl", [{"image": "0.png", "prompt": "a cat", "id": "p0"}])
    tuned = _jsonl(tmp_path / "tuned.jsonl", [{"image": "0.png", "prompt": "a dog", "id": "p0"}])
    opts = WinRateOptions(predictions=tuned, baseline=base, clip_model="no-such-arch", clip_pretrained="x")
    with pytest.raises(InputError, match="id 'p0': prompt 'a dog' in .*tuned.jsonl, 'a cat' in .*base.jsonl"):
        WinRateEvaluator().evaluate(None, EvalRequest(output_dir=tmp_path / "o", options=opts))
    with pytest.raises(ValueError, match="needs the base model's images"):
        WinRateEvaluator().evaluate(
            None, EvalRequest(output_dir=tmp_path / "o", options=WinRateOptions(predictions=tuned))
        )
    with pytest.raises(ValueError, match="scorer must be one of clipscore, pickscore, hpsv2, imagereward"):
        WinRateOptions(scorer="fid")
    with pytest.raises(ValueError, match="'pickscore' needs scorer_path"):
        make_scorer(WinRateOptions(scorer="pickscore"))
    with pytest.raises(FileNotFoundError, match="hpsv2.*not found"):
        make_scorer(WinRateOptions(scorer="hpsv2", scorer_path=str(tmp_path / "HPS_v2.1.pt")))


def test_imagereward_without_its_package_says_what_is_needed(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    try:
        import ImageReward  # noqa: F401

        pytest.skip("image-reward is installed")
    except ImportError:
        pass
    (tmp_path / "ImageReward-v1.0.pt").write_bytes(b"")
    with pytest.raises(RuntimeError, match=r"pip install image-reward"):
        make_scorer(WinRateOptions(scorer="imagereward", scorer_path=str(tmp_path / "ImageReward-v1.0.pt")))


def _tiny_hf_clip(folder: Path) -> None:
    """A transformers CLIP with a character-level tokenizer, saved as a PickScore-style folder."""
    from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel, CLIPProcessor, CLIPTokenizer

    folder.mkdir()
    vocab = {"<|startoftext|>": 0, "<|endoftext|>": 1}
    for c in string.ascii_lowercase + string.digits:
        vocab[c], vocab[c + "</w>"] = len(vocab), len(vocab) + 1
    (folder / "vocab.json").write_text(json.dumps(vocab))
    (folder / "merges.txt").write_text("#version: 0.2\n")
    tokenizer = CLIPTokenizer(str(folder / "vocab.json"), str(folder / "merges.txt"))
    images = CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32})
    CLIPProcessor(image_processor=images, tokenizer=tokenizer).save_pretrained(folder)
    text = dict(
        vocab_size=len(vocab),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        max_position_embeddings=77,
        bos_token_id=0,
        eos_token_id=1,
        pad_token_id=1,
    )
    vision = dict(image_size=32, patch_size=8, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                  num_attention_heads=2)  # fmt: skip
    torch.manual_seed(0)
    model = CLIPModel(CLIPConfig(text_config=text, vision_config=vision, projection_dim=16))
    with torch.no_grad():
        model.logit_scale.fill_(math.log(50.0))
    model.save_pretrained(folder)


def test_win_rate_with_a_pickscore_folder(tmp_path: Path) -> None:
    from transformers import AutoModel, AutoProcessor

    _tiny_hf_clip(tmp_path / "pickscore")
    base, tuned = _sides(tmp_path)
    pick = str(tmp_path / "pickscore")
    opts = WinRateOptions(
        predictions=tuned, baseline=base, scorer="pickscore", scorer_path=pick, device="cpu"
    )
    out = tmp_path / "out"
    metrics = WinRateEvaluator().evaluate(None, EvalRequest(output_dir=out, options=opts, limit=6))
    assert metrics["n"] == 6 and metrics["skipped"] == 0  # with a limit, base-only prompts are not skipped

    # by hand: projections of the pooled outputs, normalised, times exp(logit_scale)
    model = AutoModel.from_pretrained(tmp_path / "pickscore").eval()
    processor = AutoProcessor.from_pretrained(tmp_path / "pickscore")
    paths = [tmp_path / "tuned" / f"{k}.png" for k in range(6)]
    with torch.no_grad():
        pixels = processor(images=[Image.open(p).convert("RGB") for p in paths], return_tensors="pt")
        tokens = processor(text=PROMPTS[:6], padding=True, return_tensors="pt")
        img = model.visual_projection(model.vision_model(pixel_values=pixels["pixel_values"]).pooler_output)
        txt = model.text_projection(model.text_model(**tokens).pooler_output)
    cos = (img / img.norm(dim=-1, keepdim=True) * (txt / txt.norm(dim=-1, keepdim=True))).sum(-1)
    items = read_jsonl(out / "items.jsonl")
    assert [r["tuned_score"] for r in items] == pytest.approx((50.0 * cos).tolist(), abs=1e-3)
    assert items[0]["win"] == 0.5


def _png_bytes(seed: int) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(seed).integers(0, 256, (40, 40, 3), dtype=np.uint8)).save(
        buf, "PNG"
    )
    return buf.getvalue()


class Drawer:
    """A media policy drawing seeded noise."""

    model_id, media_kind, suffix, model_path = "noise", "image", ".png", "noise"

    def settings(self) -> dict:
        return {}

    def generate_media(self, prompts, *, seeds):
        return [_png_bytes(s) for s in seeds]


def test_win_rate_of_a_policy_drawing_a_drawbench_file(tiny, tmp_path: Path) -> None:
    arch, ckpt = tiny
    base, _ = _sides(tmp_path)
    (tmp_path / "drawbench.csv").write_text(
        "Prompts,Category\n" + "".join(f"{p},Misc\n" for p in PROMPTS[:4])
    )
    opts = WinRateOptions(baseline=base, prompts=str(tmp_path / "drawbench.csv"), clip_model=arch,
                          clip_pretrained=str(ckpt), device="cpu")  # fmt: skip
    out = tmp_path / "out"
    metrics = WinRateEvaluator().evaluate(Drawer(), EvalRequest(output_dir=out, options=opts, limit=4))
    items = read_jsonl(out / "items.jsonl")
    assert metrics["n"] == 4 and [r["id"] for r in items] == PROMPTS[:4]
    t = _clipscores(arch, ckpt, [Path(r["tuned_image"]) for r in items], PROMPTS[:4])
    assert [r["tuned_score"] for r in items] == pytest.approx(t, abs=1e-4)
