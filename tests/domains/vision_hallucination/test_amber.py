"""AMBER: generative CHAIR/Cover/Hal/Cog and discriminative accuracy/F1 on a hand-scored fixture."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from polyrlaif.core.io import InputError
from polyrlaif.evaluation.hallucination.amber import amber_scores, amber_vocab
from polyrlaif.evaluation.hallucination.loaders import (
    load_amber_annotations,
    load_amber_queries,
    load_amber_responses,
)

FIXTURES = Path(__file__).parent / "fixtures"

# Vocabulary = every truth and hallu word: dog grass ball cat frisbee table cup "hot dog" fork person
# tree sky bird bench (no synonyms).
#
# id 1 "A dog plays with a ball on the grass while a cat watches."
#      mentioned {dog, ball, grass, cat}        hallucinated {cat}   covered 3 of 3   cog 1 (cat)
# id 2 "Two hot dogs and a cup on a wooden table, next to some trees."
#      mentioned {hot dog, cup, table, tree}    hallucinated {tree}  covered 3 of 3   cog 0
#      ("hot dogs" is the hot dog, not a dog; "tree" is in the vocabulary through id 3, not in id 2's truth)
# id 3 "A clear sky."
#      mentioned {sky}                          hallucinated {}      covered 1 of 2   cog 0
# CHAIR = 2/9, Cover = 7/8, Hal = 2/3, Cog = 1/9.
#
# Discriminative, AMBER's convention: "no" is the positive class.
#  4 hallucination    truth yes  "Yes, there is a dog."   yes   TN
#  5 hallucination    truth no   "No."                    no    TP
#  6 attribute-state  truth no   "Yes, it is."            yes   FN
#  7 attribute-state  truth yes  "The dog is sleeping."   unparsed -> yes (default)  TN
# all: TP1 FP0 FN1 TN2 -> acc 3/4, precision 1, recall 1/2, f1 2/3
# AMBER score = (1 - 2/9 + 2/3) / 2 = 13/18


@pytest.fixture(scope="module")
def annotations():
    return load_amber_annotations(FIXTURES / "amber_annotations.json")


@pytest.fixture(scope="module")
def responses():
    return load_amber_responses(FIXTURES / "amber_responses.json")


def test_loaders(annotations, responses):
    assert annotations[1].truth == ("dog", "grass", "ball")
    assert annotations[1].hallu == ("cat", "frisbee")
    assert annotations[1].image == "AMBER_1.jpg"
    assert annotations[5].truth == "no" and not annotations[5].generative
    assert len(responses) == 7
    queries = load_amber_queries(FIXTURES / "amber_query.json")
    assert queries[0] == {"id": 1, "image": "AMBER_1.jpg", "query": "Describe this image."}


def test_amber_vocab_has_no_synonyms(annotations):
    vocab = amber_vocab(annotations.values())
    assert len(vocab.categories) == 14
    assert vocab.objects("a puppy and two dogs") == {"dog"}  # plural yes, COCO synonym no
    assert vocab.objects("hot dogs") == {"hot dog"}


def test_generative_metrics(annotations, responses):
    result = amber_scores(responses, annotations)
    g = result.generative
    assert g is not None and g.n == 3
    assert g.chair == pytest.approx(2 / 9)
    assert g.cover == pytest.approx(7 / 8)
    assert g.hal == pytest.approx(2 / 3)
    assert g.cog == pytest.approx(1 / 9)
    rows = {r.id: r for r in g.rows}
    assert rows[1].hallucinated == ("cat",)
    assert rows[2].mentioned == ("cup", "hot dog", "table", "tree")
    assert rows[2].hallucinated == ("tree",)
    assert rows[3].covered == ("sky",)
    assert [rows[i].cog for i in (1, 2, 3)] == [("cat",), (), ()]


def test_discriminative_metrics(annotations, responses):
    result = amber_scores(responses, annotations)
    d = result.discriminative
    assert d is not None
    assert (d.tp, d.fp, d.fn, d.tn, d.unparsed) == (1, 0, 1, 2, 1)
    assert (d.accuracy, d.precision, d.recall, d.f1) == pytest.approx((0.75, 1.0, 0.5, 2 / 3))
    by_type = result.discriminative_by_type
    assert by_type["discriminative-hallucination"].accuracy == 1.0
    assert by_type["discriminative-attribute-state"].accuracy == 0.5
    assert by_type["discriminative-attribute-state"].f1 == 0.0
    assert result.metrics()["amber_score"] == pytest.approx(13 / 18)


def test_unparsed_discriminative_as_no(annotations, responses):
    # id 7 becomes a "no" against truth yes: an FP; precision 1/2, recall 1/2, acc 2/4
    d = amber_scores(responses, annotations, unparsed_as="no").discriminative
    assert (d.accuracy, d.precision, d.recall) == pytest.approx((0.5, 0.5, 0.5))


def test_generative_only_has_no_discriminative_part(annotations, responses):
    result = amber_scores({k: v for k, v in responses.items() if k <= 3}, annotations)
    assert result.discriminative is None and result.discriminative_by_type == {}
    assert set(result.metrics()) == {"chair", "cover", "hal", "cog"}


def test_response_for_unknown_id_is_an_error(annotations):
    with pytest.raises(ValueError, match="AMBER id 42"):
        amber_scores({1: "a dog", 42: "a cat"}, annotations)


def test_annotation_errors_name_file_entry_and_field(tmp_path):
    path = tmp_path / "annotations.json"
    path.write_text(json.dumps([{"id": 1, "type": "discriminative-relation", "truth": "maybe"}]))
    with pytest.raises(InputError, match=r"annotations\.json: \[0\]: field 'truth' must be 'yes' or 'no'"):
        load_amber_annotations(path)
    path.write_text(json.dumps([{"id": 1, "type": "generative", "truth": ["dog"]}]))
    with pytest.raises(InputError, match=r"\[0\]: missing field 'hallu'"):
        load_amber_annotations(path)
    path.write_text(json.dumps([{"id": 1, "type": "captioning", "truth": []}]))
    with pytest.raises(InputError, match="neither generative nor discriminative"):
        load_amber_annotations(path)


def test_responses_jsonl_errors_name_line(tmp_path):
    path = tmp_path / "responses.jsonl"
    path.write_text('{"id": 1, "response": "a dog"}\n{"id": 2}\n')
    with pytest.raises(InputError, match=r"responses\.jsonl:2: missing field.*'response'"):
        load_amber_responses(path)


def test_evaluator_items_and_aggregate(tmp_path, check_items):
    from polyrlaif.core.protocols import EvalRequest
    from polyrlaif.domains.vision_hallucination.amber import AmberEvaluator

    opts = AmberEvaluator.Options(
        predictions=str(FIXTURES / "amber_responses.json"),
        annotations=str(FIXTURES / "amber_annotations.json"),
    )
    metrics = AmberEvaluator().evaluate(None, EvalRequest(tmp_path, options=opts))
    assert metrics["amber_score"] == pytest.approx(13 / 18)
    rows = check_items(AmberEvaluator, tmp_path, metrics)
    assert set(AmberEvaluator.metrics) <= set(metrics)  # every declared metric was checked
    names = ("n_mentioned", "n_hallucinated", "n_truth", "n_covered", "n_cog")
    gen = [tuple(r[k] for k in names) for r in rows if r["kind"] == "generative"]
    assert gen == [(4, 1, 3, 3, 1), (4, 1, 3, 3, 0), (1, 0, 2, 1, 0)]  # the table at the top
    disc = [(r["id"], r["label"], r["prediction"]) for r in rows if r["kind"] == "discriminative"]
    assert disc == [("4", "yes", "yes"), ("5", "no", "no"), ("6", "no", "yes"), ("7", "yes", "yes")]


def test_aggregate_pools_counts_and_leaves_out_an_absent_kind():
    from polyrlaif.domains.vision_hallucination.amber import AmberEvaluator

    def gen(i, mentioned, hallucinated, truth, covered, cog):
        return {"id": i, "kind": "generative", "n_mentioned": mentioned, "n_hallucinated": hallucinated,
                "n_truth": truth, "n_covered": covered, "n_cog": cog}  # fmt: skip

    rows = [gen("a", 1, 1, 4, 0, 1), gen("b", 3, 0, 4, 3, 0)]
    got = AmberEvaluator.aggregate(rows)
    # CHAIR 1/4 (the mean of 1/1 and 0/3 would be 1/2), Cover 3/8, Hal 1/2, Cog 1/4
    assert (got["chair"], got["cover"], got["hal"], got["cog"]) == pytest.approx((0.25, 0.375, 0.5, 0.25))
    assert not {"acc", "f1", "amber_score"} & set(got)  # no discriminative row: left out, not 0
    disc = [
        {"id": "c", "kind": "discriminative", "label": "no", "prediction": "no"},  # TP ("no" is positive)
        {"id": "d", "kind": "discriminative", "label": "yes", "prediction": "no"},  # FP
    ]
    both = AmberEvaluator.aggregate(rows + disc)
    assert (both["acc"], both["f1"]) == pytest.approx((0.5, 2 / 3))
    assert both["amber_score"] == pytest.approx((1 - 0.25 + 2 / 3) / 2)
    assert set(AmberEvaluator.aggregate(disc)) == {"acc", "precision", "recall", "f1"}
