"""The draw world on disk (determinism, held-out prompts, file formats, reruns) and its taxonomy file."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from polyrlaif.core.io import InputError, read_jsonl
from polyrlaif.datasets.draw import (
    WORLD_AXES,
    DrawWorldConfig,
    axis_diff,
    check,
    generate_world,
    load_taxonomy,
    load_world,
    parse_prompt,
    semantic_key,
)

SMALL = DrawWorldConfig(
    seed=0, pretrain=60, clip=30, clip_eval=20, rlaif_groups=12, heldout_prompts=15, heldout_references=2
)


def _tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def default_world(tmp_path_factory):
    """The default-sized world, generated once (about two seconds)."""
    return generate_world(tmp_path_factory.mktemp("draw") / "world", DrawWorldConfig())


def test_same_seed_gives_identical_bytes_and_another_seed_differs(tmp_path):
    a = _tree(generate_world(tmp_path / "a", SMALL).data_dir)
    b = _tree(generate_world(tmp_path / "b", SMALL).data_dir)
    c = _tree(generate_world(tmp_path / "c", replace(SMALL, seed=1)).data_dir)
    assert a == b
    assert a.keys() == c.keys()
    for name in (
        "pretrain.jsonl",
        "rlaif_prompts.jsonl",
        "heldout_prompts.jsonl",
        "images/pretrain_00001.png",
    ):
        assert a[name] != c[name], name


def test_layout_and_counts(tmp_path):
    m = generate_world(tmp_path / "w", SMALL)
    root = m.data_dir
    assert (root / "DONE").read_text().strip() == m.config_hash
    meta = json.loads((root / "world.json").read_text())
    assert meta["config_hash"] == m.config_hash and meta["config"]["pretrain"] == 60
    assert meta["vocabulary"]["palette"]["red"] == [230, 40, 40]
    assert m.counts["pretrain"] == 60 and m.counts["clip"] == 30 and m.counts["clip_eval"] == 40
    assert m.counts["rlaif_prompts"] == 24 and m.counts["heldout_prompts"] == 15
    assert m.counts["heldout_reference"] == 30 and m.counts["images"] == 110
    assert len(list((root / "images").glob("*.png"))) == 110
    assert len(list(m.heldout_reference_dir.glob("heldout_*_[12].png"))) == 30
    for path in (m.pretrain, m.clip, m.clip_eval, m.heldout_reference):
        for row in read_jsonl(path):
            assert (root / row["image"]).is_file()
    assert load_world(root).counts == m.counts


def test_rerun_is_a_no_op_and_other_configs_are_refused(tmp_path):
    m = generate_world(tmp_path / "w", SMALL)
    stamp = (m.data_dir / "DONE").stat().st_mtime_ns
    assert generate_world(tmp_path / "w", SMALL).counts == m.counts
    assert (m.data_dir / "DONE").stat().st_mtime_ns == stamp
    before = _tree(m.data_dir)
    (m.data_dir / "DONE").unlink()  # as after a crash: the rerun regenerates the same bytes
    generate_world(tmp_path / "w", SMALL)
    assert _tree(m.data_dir) == before
    with pytest.raises(ValueError, match="another config.*caption_error_rate"):
        generate_world(tmp_path / "w", replace(SMALL, caption_error_rate=0.5))
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("mine")
    with pytest.raises(ValueError, match="not empty"):
        generate_world(tmp_path / "other", SMALL)
    with pytest.raises(ValueError, match="no finished draw world"):
        load_world(tmp_path / "other")


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"caption_error_rate": 1.5}, "caption_error_rate"),
        ({"size_range": (2, 4)}, "size_range"),
        ({"rlaif_axes": ("style",)}, "rlaif_axes"),
        ({"max_objects": 9}, "max_objects"),
        ({"kind_weights": {"single": 1.0}}, "kind_weights"),
    ],
)
def test_invalid_config_names_the_field(tmp_path, change, field):
    with pytest.raises(ValueError, match=field):
        generate_world(tmp_path / "w", replace(SMALL, **change))


def test_heldout_prompts_mean_nothing_the_training_files_say(default_world):
    m = default_world
    held = read_jsonl(m.heldout_prompts)
    assert len(held) == 100
    held_keys = {semantic_key(parse_prompt(r["text"])) for r in held}
    assert len(held_keys) == 100
    train_texts = [r["text"] for r in read_jsonl(m.rlaif_prompts)]
    for row in read_jsonl(m.pretrain):
        train_texts += [row["caption"], row["true_caption"]]
    train_texts += [r["caption"] for r in read_jsonl(m.clip)] + [
        r["caption"] for r in read_jsonl(m.clip_eval)
    ]
    train_keys = {semantic_key(parse_prompt(t)) for t in train_texts}  # parse fails loudly on None
    assert not held_keys & train_keys
    assert {r["text"] for r in held}.isdisjoint(train_texts)


def test_file_contents_are_consistent(default_world):
    m = default_world
    pretrain = read_jsonl(m.pretrain, required=("image", "caption", "true_caption", "wrong_axis"))
    wrong = [r for r in pretrain if r["wrong_axis"] is not None]
    assert 0.25 <= len(wrong) / len(pretrain) <= 0.35
    assert {r["wrong_axis"] for r in wrong} == {"colour", "count", "spatial"}
    for row in pretrain:
        true, caption = parse_prompt(row["true_caption"]), parse_prompt(row["caption"])
        assert (caption == true) == (row["wrong_axis"] is None)
        if row["wrong_axis"]:
            assert axis_diff(true, caption) == {row["wrong_axis"]}
    rlaif = read_jsonl(m.rlaif_prompts, required=("prompt_id", "text", "group", "axis", "role"))
    assert len(rlaif) == 400 and len({r["prompt_id"] for r in rlaif}) == 400
    by_group: dict[str, list[dict]] = {}
    for row in rlaif:
        assert isinstance(row["group"], str) and isinstance(row["prompt_id"], str)
        by_group.setdefault(row["group"], []).append(row)
    assert len(by_group) == 200
    assert {rows[0]["axis"] for rows in by_group.values()} == set(WORLD_AXES)
    for rows in by_group.values():
        base, analog = (parse_prompt(r["text"]) for r in rows)
        assert [r["role"] for r in rows] == ["base", "analog"]
        assert axis_diff(base, analog) == {rows[0]["axis"]}
    refs = read_jsonl(m.heldout_reference)
    assert len(refs) == 500 and len({r["prompt_id"] for r in refs}) == 100


def test_detector_agrees_with_every_label_it_can_see(default_world):
    """True captions pass check() and hard negatives fail it, on the clip_eval images and references."""
    m = default_world
    rows = read_jsonl(m.clip_eval, required=("image", "caption", "label", "axis"))
    assert sum(r["label"] for r in rows) == len(rows) // 2
    assert {r["axis"] for r in rows if not r["label"]} == set(WORLD_AXES)
    for row in rows[:400]:
        assert check(row["caption"], m.file(row["image"]))["overall"] == row["label"], row
    for row in read_jsonl(m.heldout_reference)[:100]:
        assert check(row["text"], m.file(row["image"]))["overall"], row
    for row in read_jsonl(m.pretrain)[:200]:
        assert check(row["true_caption"], m.file(row["image"]))["overall"], row


def test_import_does_no_work():
    code = (
        "import sys, polyrlaif.datasets.draw as d; "
        "print(sorted(m for m in ('numpy', 'PIL.Image', 'scipy', 'yaml', 'torch') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# --- taxonomy -------------------------------------------------------------------------------------


def test_packaged_taxonomy():
    tax = load_taxonomy()
    assert tax.names == ("object", "colour", "count", "spatial", "size", "texture", "style", "text")
    assert tax.world_axes == WORLD_AXES
    assert tax["spatial"].check == "position" and tax["colour"].check == "colour"
    assert "red" in tax["colour"].examples and tax["style"].check is None
    with pytest.raises(KeyError, match="lighting"):
        tax["lighting"]


_GOOD_AXIS = """\
axes:
  - name: colour
    description: the colour
    examples: [red]
    world: true
"""


@pytest.mark.parametrize(
    ("text", "where"),
    [
        (_GOOD_AXIS.replace("world: true", "world: sometimes"), ":5: axes[0].world: expected true or false"),
        (_GOOD_AXIS.replace("    examples: [red]\n", ""), ":2: axes[0].examples: missing"),
        (_GOOD_AXIS.replace("examples: [red]", "examples: []"), ":4: axes[0].examples: expected a non-empty"),
        (_GOOD_AXIS + "    colour: red\n", ":6: axes[0].colour: unknown field"),
        (_GOOD_AXIS + _GOOD_AXIS[6:], ":6: axes[1].name: axis 'colour' is listed twice"),
        (_GOOD_AXIS.replace("name: colour", "name: texture"), ":5: axes[0].world: the draw world cannot"),
        (_GOOD_AXIS + "    check: size\n", ":6: axes[0].check: 'size'"),
        (_GOOD_AXIS.replace("description: the colour", "description: ''"), ":3: axes[0].description"),
        ("axes: [\n  {name: a,\n", ":3: malformed YAML"),
        ("version: 1\n", ":1: axes: missing"),
        ("axes: 3\n", ":1: axes: expected a non-empty list"),
    ],
)
def test_bad_taxonomy_file_names_file_line_and_field(tmp_path, text, where):
    path = tmp_path / "tax.yaml"
    path.write_text(text)
    with pytest.raises(InputError) as err:
        load_taxonomy(path)
    assert str(err.value).startswith(f"{path}{where}"), str(err.value)


def test_taxonomy_missing_or_empty_file(tmp_path):
    with pytest.raises(InputError, match="cannot read"):
        load_taxonomy(tmp_path / "none.yaml")
    (tmp_path / "empty.yaml").write_text("")
    with pytest.raises(InputError, match="empty"):
        load_taxonomy(tmp_path / "empty.yaml")
    (tmp_path / "ok.yaml").write_text(_GOOD_AXIS)
    assert load_taxonomy(tmp_path / "ok.yaml").world_axes == ("colour",)


def test_max_objects_reaches_the_world_and_its_stage_key(tmp_path):
    from polyrlaif.core.config import load_config
    from polyrlaif.domains.text_to_image.world import stages

    def world_key(*overrides):
        small = [
            "domain.world.pretrain_images=40",
            "domain.world.clip_images=10",
            "domain.world.rlaif_groups=5",
            "domain.world.heldout_prompts=20",
        ]
        cfg = load_config("text_to_image/synthetic", [f"domain.world_dir={tmp_path}", *small, *overrides])
        return next(s for s in stages(cfg) if s.name == "world")

    assert "max_objects" not in world_key().settings  # earlier worlds keep their key
    stage = world_key("domain.world.max_objects=2")
    assert stage.settings["max_objects"] == 2
    stage.run(tmp_path / "w", {})
    for name in ("pretrain.jsonl", "clip.jsonl", "heldout_prompts.jsonl"):
        for row in read_jsonl(tmp_path / "w" / name):
            spec = parse_prompt(row.get("caption") or row["text"])
            assert spec is not None and spec.n_objects <= 2 + 2  # count analogues may add two
    held = read_jsonl(tmp_path / "w" / "heldout_prompts.jsonl")
    assert max(parse_prompt(r["text"]).n_objects for r in held if r["role"] == "base") == 2
    with pytest.raises(ValueError, match="domain.world.max_objects"):
        load_config("text_to_image/synthetic", ["domain.world.max_objects=9"])
