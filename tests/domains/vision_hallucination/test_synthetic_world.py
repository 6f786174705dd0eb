"""The synthetic shape world: deterministic, exact ground truth, correct labels, resumable."""

import json
import re
import time
from collections import Counter
from dataclasses import replace
from pathlib import Path

import pytest

from polyrlaif.core.io import read_jsonl
from polyrlaif.datasets.shapes import (
    POPE_VARIANTS,
    WorldConfig,
    generate_world,
    load_split,
    load_world,
)
from polyrlaif.datasets.shapes.draw import (
    CATEGORIES,
    COLOR_RGB,
    COLORS,
    DEFAULT_COOCCURRENCE,
    FILLED_CATEGORIES,
    SYNONYMS,
    shade_rgb,
)
from polyrlaif.datasets.shapes.text import INSTRUCTIONS

# The fixture world: "sft" is large enough to measure the hallucination rate; 0.6 differs from the
# default, so a generator that ignored the config would fail.
CFG = WorldConfig(seed=7, image_size=32, splits={"sft": 240, "labeler": 24}, hallucination_rate=0.6)

_WORD_TO_CATEGORY = {w: c for c, words in SYNONYMS.items() for w in words}
_NAMES = "|".join(sorted(_WORD_TO_CATEGORY, key=len, reverse=True))
_COLOR = "|".join(COLORS)
_PHRASE = re.compile(rf"\ban? ({_COLOR}) ({_NAMES})\b", re.IGNORECASE)
_QUESTION = re.compile(rf"^Is there an? (?:({_COLOR}) )?({_NAMES}) in the image\?$")


def _truth(world: Path, split: str) -> dict[str, set[tuple[str, str]]]:
    """file name -> {(color, category)} from the public loader."""
    return {t.image: {(o.color, o.category) for o in t.objects} for t in load_split(world, split)}


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Path:
    data_dir = tmp_path_factory.mktemp("world") / "data"
    generate_world(data_dir, CFG, progress=False)
    return data_dir


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_same_seed_same_bytes_other_seed_differs_splits_independent(tmp_path):
    cfg = WorldConfig(seed=3, image_size=32, splits={"a": 5, "b": 3})
    for name, c in [("one", cfg), ("two", cfg), ("seed", replace(cfg, seed=4))]:
        generate_world(tmp_path / name, c, progress=False)
    one, two, other = (_files(tmp_path / n) for n in ("one", "two", "seed"))
    assert one == two and len(one) > 20
    images = [k for k in one if k.startswith("images/")]
    assert len(images) == 8 and all(one[k] != other[k] for k in images)
    # an image depends on (seed, split, index) only, not on the other splits
    generate_world(tmp_path / "alone", replace(cfg, splits={"b": 3}), progress=False)
    alone = _files(tmp_path / "alone")
    assert all(alone[k] == one[k] for k in alone if k.startswith("images/"))
    assert alone["sft/policy_b.jsonl"] == one["sft/policy_b.jsonl"]


def test_coco_instances_match_the_pixels(world):
    from PIL import Image

    doc = json.loads((world / "annotations" / "instances_labeler.json").read_text())
    assert [(c["id"], c["name"], c["synonyms"]) for c in doc["categories"]] == [
        (i + 1, n, SYNONYMS[n]) for i, n in enumerate(CATEGORIES)
    ]
    assert len(doc["images"]) == 24 and len({a["id"] for a in doc["annotations"]}) == len(doc["annotations"])
    by_image = {im["id"]: [] for im in doc["images"]}
    for a in doc["annotations"]:
        by_image[a["image_id"]].append(a)
    for im in doc["images"]:
        anns = by_image[im["id"]]
        assert 1 <= len(anns) <= 3 and len({a["category_id"] for a in anns}) == len(anns)
        pic = Image.open(world / "images" / im["file_name"]).convert("RGB")
        assert pic.size == (im["width"], im["height"]) == (32, 32)
        palette = set(COLOR_RGB.values()) | {shade_rgb(c) for c in COLOR_RGB}
        assert sum(pic.getpixel((x, y)) in palette for x in range(32) for y in range(32)) == sum(
            a["area"] for a in anns
        ), "every shape pixel belongs to an annotated object"
        for a in anns:
            x, y, w, h = a["bbox"]
            rgb = {COLOR_RGB[a["color"]], shade_rgb(a["color"])}  # textured shapes: colour and its shade
            inside = [(i, j) for i in range(x, x + w) for j in range(y, y + h) if pic.getpixel((i, j)) in rgb]
            assert len(inside) == a["area"] and a["iscrowd"] == 0
            xs, ys = {i for i, _ in inside}, {j for _, j in inside}
            assert (min(xs), max(xs), min(ys), max(ys)) == (x, x + w - 1, y, y + h - 1), "tight box"
            if CATEGORIES[a["category_id"] - 1] in FILLED_CATEGORIES:
                assert pic.getpixel((x + w // 2, y + h // 2)) in rgb


def test_captions_are_truthful_and_complete(world):
    truth = _truth(world, "labeler")
    doc = json.loads((world / "annotations" / "captions_labeler.json").read_text())
    files = {im["id"]: im["file_name"] for im in doc["images"]}
    assert len(doc["annotations"]) == len(truth)
    for a in doc["annotations"]:
        said = {(c.lower(), _WORD_TO_CATEGORY[n.lower()]) for c, n in _PHRASE.findall(a["caption"])}
        assert said == truth[files[a["image_id"]]], a["caption"]


def test_policy_captions_hallucinate_at_the_configured_rate(world):
    truth = _truth(world, "sft")
    rows = read_jsonl(world / "sft" / "policy_sft.jsonl", required=["image", "prompt", "caption"])
    assert len(rows) == 240 and {r["prompt"] for r in rows} <= set(INSTRUCTIONS)
    rate = sum(bool(r["hallucinated"]) for r in rows) / len(rows)
    assert abs(rate - CFG.hallucination_rate) < 0.1
    for r in rows:
        present = {c for _, c in truth[r["image"]]}
        said = {_WORD_TO_CATEGORY[n.lower()] for _, n in _PHRASE.findall(r["caption"])}
        assert not present & set(r["hallucinated"]), "a hallucinated object is never in the image"
        assert said == present | set(r["hallucinated"]), r["caption"]


@pytest.mark.parametrize("split", ["sft", "labeler"])
def test_labeler_questions_are_balanced_and_correct(world, split):
    truth = _truth(world, split)
    rows = read_jsonl(world / "sft" / f"labeler_{split}.jsonl", required=["image", "question", "answer"])
    per_image = Counter((r["image"], r["answer"]) for r in rows)
    for image in truth:
        assert per_image[image, "yes"] == per_image[image, "no"] >= 1
        assert per_image[image, "yes"] <= CFG.labeler_questions // 2
    for r in rows:
        color, name = _QUESTION.match(r["question"]).groups()
        category = _WORD_TO_CATEGORY[name]
        present = any(c == category and (color is None or col == color) for col, c in truth[r["image"]])
        assert r["answer"] == ("yes" if present else "no"), r


def test_pope_labels_and_negatives(world):
    truth = {k: {c for _, c in v} for k, v in _truth(world, "sft").items()}
    frequency = Counter(c for cats in truth.values() for c in cats)
    for variant in POPE_VARIANTS:
        rows = read_jsonl(world / "pope" / f"sft_{variant}.jsonl", required=["question_id", "image", "text"])
        assert [r["question_id"] for r in rows] == list(range(1, len(rows) + 1))
        asked: dict[str, list[tuple[str, str]]] = {}
        for r in rows:
            color, name = _QUESTION.match(r["text"]).groups()
            assert color is None
            assert r["label"] == ("yes" if name in truth[r["image"]] else "no")
            asked.setdefault(r["image"], []).append((name, r["label"]))
        assert asked.keys() == truth.keys()
        for image, qs in asked.items():
            yes = [n for n, lab in qs if lab == "yes"]
            no = [n for n, lab in qs if lab == "no"]
            assert len(yes) == len(no) == min(CFG.pope_questions, len(truth[image]))
            assert len(set(yes + no)) == len(qs)
            absent = [c for c in CATEGORIES if c not in truth[image]]
            if variant == "popular":  # the most frequent absent categories of the split
                ranked = sorted(absent, key=lambda c: (-frequency[c], CATEGORIES.index(c)))
                assert no == ranked[: len(no)]
            if variant == "adversarial":  # absent co-occurrence partners come first
                partners = {p for c in truth[image] for p in DEFAULT_COOCCURRENCE[c]} - truth[image]
                assert sum(n in partners for n in no) == min(len(no), len(partners))


def test_amber_and_prompts(world):
    truth = {k: {c for _, c in v} for k, v in _truth(world, "labeler").items()}
    queries = json.loads((world / "amber" / "query_labeler.json").read_text())
    annotations = {a["id"]: a for a in json.loads((world / "amber" / "annotations_labeler.json").read_text())}
    for q in queries:
        a = annotations[q["id"]]
        assert a["type"] == "generative" and set(a["truth"]) == truth[q["image"]]
        assert set(a["hallu"]) == set(CATEGORIES) - truth[q["image"]]
    prompts = read_jsonl(world / "prompts" / "labeler.jsonl", required=["prompt_id", "image", "instruction"])
    assert sorted(r["image"] for r in prompts) == sorted(truth)
    assert len({r["prompt_id"] for r in prompts}) == len(prompts)
    assert load_world(world).counts["labeler"]["prompts"] == len(prompts)


def test_resume_reuses_and_refuses_another_config(tmp_path):
    cfg = WorldConfig(seed=1, image_size=32, splits={"a": 6})
    data_dir = tmp_path / "w"
    first = generate_world(data_dir, cfg, progress=False)
    before = {p: p.stat().st_mtime_ns for p in data_dir.rglob("*") if p.is_file()}
    content = _files(data_dir)
    start = time.perf_counter()
    again = generate_world(data_dir, cfg, progress=False)
    assert time.perf_counter() - start < 0.5 and again == first
    assert {p: p.stat().st_mtime_ns for p in data_dir.rglob("*") if p.is_file()} == before

    # a crash: no DONE, an image and a file lost; the rerun redraws only what is missing
    for lost in ("DONE", "images/a_00002.png", "pope/a_random.jsonl"):
        (data_dir / lost).unlink()
    assert generate_world(data_dir, cfg, progress=False) == first and _files(data_dir) == content
    kept = data_dir / "images" / "a_00001.png"
    assert kept.stat().st_mtime_ns == before[kept], "images drawn before the crash are reused"

    other = replace(cfg, hallucination_rate=0.1)
    message = re.escape(str(data_dir)) + r" holds a synthetic world of another config.*hallucination_rate"
    with pytest.raises(ValueError, match=message):
        generate_world(data_dir, other, progress=False)
    (tmp_path / "foreign").mkdir()
    (tmp_path / "foreign" / "notes.txt").write_text("mine")
    with pytest.raises(ValueError, match="not empty"):
        generate_world(tmp_path / "foreign", cfg, progress=False)


def test_invalid_config_names_the_field(tmp_path):
    with pytest.raises(ValueError, match="objects_per_image"):
        generate_world(tmp_path / "x", WorldConfig(objects_per_image=(0, 3)), progress=False)
    with pytest.raises(ValueError, match="splits"):
        generate_world(tmp_path / "x", WorldConfig(splits={"a/b": 1}), progress=False)
    assert not (tmp_path / "x").exists()
