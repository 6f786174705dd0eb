"""Prompts with images: a missing or corrupt image is an error naming the record, or a counted skip."""

from __future__ import annotations

import json

import pytest
from PIL import Image

from polyrlaif.core.io import InputError
from polyrlaif.domains.vision_hallucination.data import load_prompts


@pytest.fixture()
def prompt_files(tmp_path):
    Image.new("RGB", (8, 8), (255, 0, 0)).save(tmp_path / "ok.png")
    Image.new("RGB", (8, 8), (0, 0, 255)).save(tmp_path / "full.png")
    data = (tmp_path / "full.png").read_bytes()
    (tmp_path / "torn.png").write_bytes(data[: len(data) // 2])  # a truncated file, as after a bad copy
    rows = [
        {"image": "ok.png", "instruction": "Describe the image.", "prompt_id": "a"},
        {"image": "gone.png", "instruction": "Describe the image.", "prompt_id": "b"},
        {"image": "torn.png", "instruction": "Describe the image.", "prompt_id": "c"},
    ]
    path = tmp_path / "prompts.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return tmp_path, path


def test_missing_image_names_file_line_and_record(prompt_files):
    root, path = prompt_files
    with pytest.raises(InputError) as err:
        load_prompts(path, root)
    msg = str(err.value)
    assert f"{path}:2" in msg and "'b'" in msg and "gone.png" in msg and "not found" in msg


def test_skip_counts_and_lists_every_bad_image(prompt_files):
    root, path = prompt_files
    got = load_prompts(path, root, on_bad_image="skip")
    assert [p.prompt_id for p in got.prompts] == ["a"]
    assert got.prompts[0].media[0].uri == str(root / "ok.png")
    assert [(s["prompt_id"], s["where"]) for s in got.skipped] == [("b", f"{path}:2"), ("c", f"{path}:3")]
    assert "not found" in got.skipped[0]["reason"] and "not a readable image" in got.skipped[1]["reason"]


def test_missing_field_and_all_bad(tmp_path):
    path = tmp_path / "p.jsonl"
    path.write_text('{"image": "x.png"}\n')
    with pytest.raises(InputError, match=r"p.jsonl:1.*instruction"):
        load_prompts(path, tmp_path)
    path.write_text('{"image": "x.png", "instruction": "Describe."}\n')
    with pytest.raises(InputError, match="no usable prompts"):
        load_prompts(path, tmp_path, on_bad_image="skip")
