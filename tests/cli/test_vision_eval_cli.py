"""`polyrlaif eval` for the vision_hallucination benchmarks, as a user runs them: scoring a predictions
file against public-format annotations, and generating with a (tiny) vision-language model first."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parents[1] / "domains" / "vision_hallucination" / "fixtures"


def _eval(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "polyrlaif.core.cli", "eval", "--domain", "vision_hallucination", *args],
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_chair_predictions_contract(tmp_path):
    out = tmp_path / "O.json"
    res = _eval(
        "--benchmark", "chair",
        "--predictions", str(FIXTURES / "chair_predictions.jsonl"),
        "--annotations", str(FIXTURES / "coco_instances.json"),
        "--output", str(out),
    )  # fmt: skip
    assert res.returncode == 0, res.stderr[-2000:]
    got = json.loads(out.read_text())
    # hand-computed in tests/domains/vision_hallucination/test_chair.py (no captions): 3/4, 3/12, 9/10
    assert got["chair_s"] == pytest.approx(3 / 4)
    assert got["chair_i"] == pytest.approx(3 / 12)
    assert got["recall"] == pytest.approx(9 / 10)
    rows = [json.loads(x) for x in (tmp_path / "O" / "rows.jsonl").read_text().splitlines()]
    assert {r["image_id"]: r["hallucinated"] for r in rows}[3] == ["fork"]


def test_bad_inputs_are_named(tmp_path):
    bad = tmp_path / "p.jsonl"
    bad.write_text('{"image_id": 1, "caption": "a dog"}\n{"image_id": 2, "caption": \n')
    ann = str(FIXTURES / "coco_instances.json")
    res = _eval("--benchmark", "chair", "--predictions", str(bad), "--annotations", ann,
                "--output", str(tmp_path / "o.json"))  # fmt: skip
    assert res.returncode == 2 and f"{bad}:2" in res.stderr
    unknown = tmp_path / "u.jsonl"
    unknown.write_text('{"image_id": 999, "caption": "a dog"}\n')
    res = _eval("--benchmark", "chair", "--predictions", str(unknown), "--annotations", ann,
                "--output", str(tmp_path / "o.json"))  # fmt: skip
    assert res.returncode == 2 and "999" in res.stderr
    assert not (tmp_path / "o.json").exists()  # a failed run writes no metrics
    res = _eval("--benchmark", "nope", "--predictions", str(unknown))
    assert res.returncode == 2 and "valid: amber, chair, mmhal, pope" in res.stderr


def test_pope_answers_file(tmp_path):
    res = _eval(
        "--benchmark", "pope",
        "--predictions", str(FIXTURES / "pope_answers.jsonl"),
        "--annotations", str(FIXTURES / "coco_pope_random.jsonl"),
        "--output", str(tmp_path / "pope.json"),
    )  # fmt: skip
    assert res.returncode == 0, res.stderr[-2000:]
    got = json.loads((tmp_path / "pope.json").read_text())
    for key in ("accuracy", "precision", "recall", "f1", "yes_ratio"):
        assert 0.0 <= got[key] <= 1.0


def test_chair_and_pope_with_a_tiny_vlm(tmp_path):
    """--model instead of --predictions: the policy captions the images first (a tiny random VLM)."""
    from polyrlaif.core.tiny import build_tiny_vlm, corpus_words
    from polyrlaif.datasets.shapes import WorldConfig, generate_world

    data = tmp_path / "world"
    generate_world(data, WorldConfig(splits={"test": 4}), progress=False)
    model = build_tiny_vlm(tmp_path / "vlm", corpus_words(["there is a red circle and a blue star . yes no"]))
    ann = data / "annotations" / "instances_test.json"
    res = _eval("--benchmark", "chair", "--model", str(model), "--annotations", str(ann),
                "--max-new-tokens", "6", "--output", str(tmp_path / "chair.json"))  # fmt: skip
    assert res.returncode == 0, res.stderr[-2000:]
    got = json.loads((tmp_path / "chair.json").read_text())
    assert got["n_images"] == 4 and 0.0 <= got["chair_i"] <= 1.0
    preds = (tmp_path / "chair" / "predictions.jsonl").read_text().splitlines()
    assert len(preds) == 4
    items = [json.loads(x) for x in (tmp_path / "chair" / "items.jsonl").read_text().splitlines()]
    assert [i["id"] for i in items] == [str(json.loads(p)["image_id"]) for p in preds]
    res = _eval("--benchmark", "pope", "--model", str(model), "--annotations",
                str(data / "pope" / "test_adversarial.jsonl"), "--max-new-tokens", "2",
                "--output", str(tmp_path / "pope.json"))  # fmt: skip
    assert res.returncode == 0, res.stderr[-2000:]
    assert json.loads((tmp_path / "pope.json").read_text())["n"] > 0
