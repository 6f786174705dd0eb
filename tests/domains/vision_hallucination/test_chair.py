"""CHAIR on a tiny COCO-format fixture, with hand-computed values, and the loaders' error messages."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from polyrlaif.core.io import InputError
from polyrlaif.evaluation.hallucination.chair import chair_from_files, chair_scores
from polyrlaif.evaluation.hallucination.loaders import (
    load_chair_predictions,
    load_coco_captions,
    load_coco_instances,
)
from polyrlaif.evaluation.hallucination.vocab import ObjectVocab

FIXTURES = Path(__file__).parent / "fixtures"
INSTANCES = FIXTURES / "coco_instances.json"
CAPTIONS = FIXTURES / "coco_captions.json"
PREDICTIONS = FIXTURES / "chair_predictions.jsonl"

# Ground truth from the instances file (image 5 has no annotation at all):
#   1: dog, person (twice), bicycle     2: cat, bed     3: hot dog, dining table, knife
#   4: teddy bear, person               5: nothing
# The captions add "cup" to image 2 ("A cat on a bed with a cup of coffee.") and nothing elsewhere.
#
# Predictions, mentioned objects (unique per response), hallucinated ones with captions:
#   1 "Two people and their dogs ride bicycles past a parked car."
#       mentioned {person, dog, bicycle, car}      hallucinated {car}   gt covered 3/3
#   2 "An orange cat sleeps on a bed next to a mug."  ("orange" is a colour here; mug -> cup)
#       mentioned {cat, bed, cup}                  hallucinated {}      gt covered 3/3
#   3 "A hot dog with a knife and a fork on the dining table."  (hot dog is not a dog)
#       mentioned {hot dog, knife, fork, dining table}  hallucinated {fork}  gt covered 3/3
#   4 "A teddy bear sits alone."
#       mentioned {teddy bear}                     hallucinated {}      gt covered 1/2
# With captions: CHAIR_s = 2/4, CHAIR_i = (1+0+1+0)/(4+3+4+1) = 2/12, recall = (3+3+3+1)/(3+3+3+2) = 10/11.
# Without captions the mug in image 2 is hallucinated too:
#   CHAIR_s = 3/4, CHAIR_i = 3/12, recall = (3+2+3+1)/(3+2+3+2) = 9/10.


@pytest.fixture(scope="module")
def instances():
    return load_coco_instances(INSTANCES)


@pytest.fixture(scope="module")
def vocab(instances):
    return ObjectVocab.from_categories(instances.categories)


def test_instances_loader(instances):
    assert instances.objects == {
        1: {"dog", "person", "bicycle"},
        2: {"cat", "bed"},
        3: {"hot dog", "dining table", "knife"},
        4: {"teddy bear", "person"},
        5: set(),
    }
    assert len(instances.categories) == 14


def test_captions_loader():
    captions = load_coco_captions(CAPTIONS)
    assert captions[2] == ["A kitten sleeping on a bed.", "A cat on a bed with a cup of coffee."]
    assert sorted(captions) == [1, 2, 3, 4]


def test_chair_with_captions():
    result = chair_from_files(PREDICTIONS, INSTANCES, CAPTIONS)
    assert result.n_images == 4
    assert result.chair_s == pytest.approx(2 / 4)
    assert result.chair_i == pytest.approx(2 / 12)
    assert result.recall == pytest.approx(10 / 11)
    rows = {r.image_id: r for r in result.rows}
    assert rows[1].mentioned == ("bicycle", "car", "dog", "person")
    assert rows[1].hallucinated == ("car",)
    assert rows[2].gt == ("bed", "cat", "cup")
    assert rows[2].hallucinated == ()
    assert rows[3].hallucinated == ("fork",)
    assert "dog" not in rows[3].mentioned


def test_chair_without_captions(instances, vocab):
    preds = load_chair_predictions(PREDICTIONS)
    result = chair_scores(preds, instances.objects, vocab)
    assert result.chair_s == pytest.approx(3 / 4)
    assert result.chair_i == pytest.approx(3 / 12)
    assert result.recall == pytest.approx(9 / 10)
    assert (result.n_mentioned, result.n_hallucinated, result.n_gt, result.n_gt_mentioned) == (12, 3, 10, 9)
    assert result.to_dict()["rows"][1]["hallucinated"] == ["cup"]


def test_repeated_mentions_count_once_and_empty_gt_image(instances, vocab):
    # image 5 has no objects: every object named is hallucinated; "dogs ... dog" counts once.
    result = chair_scores({5: "Two dogs. The dog sleeps on a chair."}, instances.objects, vocab)
    assert result.rows[0].hallucinated == ("chair", "dog")
    assert (result.chair_s, result.chair_i, result.recall) == (1.0, 1.0, 0.0)


def test_no_objects_mentioned_is_zero_not_nan(instances, vocab):
    result = chair_scores({1: "A sunny day."}, instances.objects, vocab)
    assert (result.chair_s, result.chair_i, result.recall) == (0.0, 0.0, 0.0)


def test_prediction_for_unknown_image_is_an_error(instances, vocab):
    with pytest.raises(ValueError, match="image id 99"):
        chair_scores({1: "a dog", 99: "a cat"}, instances.objects, vocab)
    with pytest.raises(ValueError, match="integer id 1"):
        chair_scores({"1": "a dog"}, instances.objects, vocab)


def test_gt_name_outside_vocab_is_an_error(vocab):
    with pytest.raises(ValueError, match="giraffe"):
        chair_scores({1: "a dog"}, {1: {"giraffe"}}, vocab)


def test_malformed_predictions_line_names_file_and_line(tmp_path):
    path = tmp_path / "preds.jsonl"
    path.write_text('{"image_id": 1, "caption": "a dog"}\n{"image_id": 2, "caption": \n')
    with pytest.raises(InputError, match=r"preds\.jsonl:2: malformed JSON"):
        load_chair_predictions(path)


def test_missing_prediction_field_is_named(tmp_path):
    path = tmp_path / "preds.jsonl"
    path.write_text('{"image_id": 1, "caption": "a dog"}\n\n{"image_id": 2, "text": "a cat"}\n')
    with pytest.raises(InputError, match=r"preds\.jsonl:3: missing field.*'caption'"):
        load_chair_predictions(path)


def test_duplicate_prediction_is_an_error(tmp_path):
    path = tmp_path / "preds.jsonl"
    path.write_text('{"image_id": 1, "caption": "a"}\n{"image_id": 1, "caption": "b"}\n')
    with pytest.raises(InputError, match=r"preds\.jsonl:2: .*appears twice"):
        load_chair_predictions(path)


def test_instances_errors_name_the_field(tmp_path):
    data = json.loads(INSTANCES.read_text())
    del data["annotations"][1]["category_id"]
    path = tmp_path / "inst.json"
    path.write_text(json.dumps(data))
    with pytest.raises(InputError, match=r"inst\.json: annotations\[1\]: missing field 'category_id'"):
        load_coco_instances(path)

    data = json.loads(INSTANCES.read_text())
    data["annotations"][0]["category_id"] = 12345
    path.write_text(json.dumps(data))
    with pytest.raises(InputError, match=r"annotations\[0\]: field 'category_id' = 12345 is not in"):
        load_coco_instances(path)

    path.write_text('{"images": [], "annotations": [], ')
    with pytest.raises(InputError, match=r"inst\.json:1: malformed JSON"):
        load_coco_instances(path)

    path.write_text('{"images": [], "annotations": []}')
    with pytest.raises(InputError, match="missing field 'categories'"):
        load_coco_instances(path)


def test_evaluator_items_and_aggregate(tmp_path, check_items):
    from polyrlaif.core.protocols import EvalRequest
    from polyrlaif.domains.vision_hallucination.benchmarks import ChairEvaluator

    opts = ChairEvaluator.Options(predictions=str(PREDICTIONS), annotations=str(INSTANCES))
    metrics = ChairEvaluator().evaluate(None, EvalRequest(tmp_path, options=opts))
    rows = check_items(ChairEvaluator, tmp_path, metrics)
    # the table at the top, without captions (the mug in image 2 hallucinated)
    got = [(r["id"], r["n_mentioned"], r["n_hallucinated"], r["n_gt"], r["n_recalled"]) for r in rows]
    assert got == [("1", 4, 1, 3, 3), ("2", 3, 1, 2, 2), ("3", 4, 1, 3, 3), ("4", 1, 0, 2, 1)]


def test_aggregate_pools_counts():
    """CHAIR_i and recall are ratios of summed counts, not means of per-image ratios."""
    from polyrlaif.domains.vision_hallucination.benchmarks import ChairEvaluator

    rows = [
        {"id": "a", "n_mentioned": 1, "n_hallucinated": 1, "n_gt": 1, "n_recalled": 0},
        {"id": "b", "n_mentioned": 9, "n_hallucinated": 0, "n_gt": 3, "n_recalled": 3},
    ]
    got = ChairEvaluator.aggregate(rows)
    assert got["chair_s"] == 0.5
    assert got["chair_i"] == pytest.approx(1 / 10)  # the mean of 1/1 and 0/9 would be 0.5
    assert got["recall"] == pytest.approx(3 / 4)  # the mean of 0/1 and 3/3 would be 0.5
    empty = ChairEvaluator.aggregate([{"id": "c", "n_mentioned": 0, "n_hallucinated": 0, "n_gt": 0,
                                       "n_recalled": 0}])  # fmt: skip
    assert empty["chair_s"] == 0.0 and math.isnan(empty["chair_i"]) and math.isnan(empty["recall"])
