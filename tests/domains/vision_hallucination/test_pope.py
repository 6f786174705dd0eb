"""POPE: yes/no parsing and metrics on ten hand-scored answers over two splits."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from polyrlaif.core.io import InputError
from polyrlaif.evaluation.hallucination.loaders import load_pope_answers, load_pope_questions
from polyrlaif.evaluation.hallucination.pope import (
    attach_answers,
    binary_metrics,
    parse_yes_no,
    pope_scores,
)

FIXTURES = Path(__file__).parent / "fixtures"

# qid split        label answer                                  parsed  outcome (positive = yes)
#  1  random       yes   "Yes, there is a dog in the image."     yes     TP
#  2  random       no    "No, there is no cat."                  no      TN
#  3  random       yes   "There isn't a bicycle."                no      FN
#  4  random       no    "Yes."                                  yes     FP
#  5  random       yes   "I can see a car on the street."        none -> no (unparsed)  FN
#  6  adversarial  yes   "yes"                                   yes     TP
#  7  adversarial  no    "no"                                    no      TN
#  8  adversarial  no    "Not that I can see."                   no      TN
#  9  adversarial  yes   "YES! A person."                        yes     TP
# 10  adversarial  no    "There is a fork, yes."                 yes     FP
#
# random:      TP1 TN1 FP1 FN2 -> acc 2/5, precision 1/2, recall 1/3, f1 2*(1/6)/(5/6) = 0.4, yes 2/5
# adversarial: TP2 TN2 FP1 FN0 -> acc 4/5, precision 2/3, recall 1,   f1 2*(2/3)/(5/3) = 0.8, yes 3/5
# overall:     TP3 TN3 FP2 FN2 -> acc 6/10, precision 3/5, recall 3/5, f1 0.6, yes 5/10, unparsed 1


@pytest.fixture(scope="module")
def rows():
    questions = load_pope_questions(FIXTURES / "coco_pope_random.jsonl")
    questions += load_pope_questions(FIXTURES / "coco_pope_adversarial.jsonl")
    return attach_answers(questions, load_pope_answers(FIXTURES / "pope_answers.jsonl"))


@pytest.mark.parametrize(
    ("text", "parsed"),
    [
        ("Yes, there is a dog.", "yes"),
        ("No.", "no"),
        ("There isn't a dog.", "no"),
        ("I do not see one.", "no"),
        ("There is a fork, yes.", "yes"),
        ("Noodles are on the table.", None),  # "no" must be a whole word
        ("", None),
    ],
)
def test_parse_yes_no(text, parsed):
    assert parse_yes_no(text) == parsed


def test_split_comes_from_file_name(rows):
    assert [r["split"] for r in rows] == ["random"] * 5 + ["adversarial"] * 5
    assert rows[0]["label"] == "yes" and rows[0]["answer"].startswith("Yes, there is a dog")


def test_pope_metrics(rows):
    result = pope_scores(rows)
    rnd, adv, overall = result.splits["random"], result.splits["adversarial"], result.overall
    assert (rnd.tp, rnd.tn, rnd.fp, rnd.fn, rnd.unparsed) == (1, 1, 1, 2, 1)
    assert rnd.accuracy == pytest.approx(0.4)
    assert rnd.precision == pytest.approx(0.5)
    assert rnd.recall == pytest.approx(1 / 3)
    assert rnd.f1 == pytest.approx(0.4)
    assert rnd.yes_ratio == pytest.approx(0.4)
    assert (adv.accuracy, adv.precision, adv.recall, adv.f1, adv.yes_ratio) == pytest.approx(
        (0.8, 2 / 3, 1.0, 0.8, 0.6)
    )
    assert adv.unparsed == 0
    assert overall.n == 10 and overall.unparsed == 1
    o = overall
    assert (o.accuracy, o.precision, o.recall, o.f1, o.yes_ratio) == pytest.approx((0.6, 0.6, 0.6, 0.6, 0.5))
    assert list(result.to_dict()["splits"]) == ["random", "adversarial"]


def test_unparsed_as_yes_follows_the_reference_script(rows):
    # q5 becomes a TP: random TP2 TN1 FP1 FN1 -> acc 3/5, precision 2/3, recall 2/3
    rnd = pope_scores(rows, unparsed_as="yes").splits["random"]
    assert (rnd.accuracy, rnd.precision, rnd.recall) == pytest.approx((0.6, 2 / 3, 2 / 3))
    assert rnd.unparsed == 1


def test_rows_without_split_count_only_overall():
    result = pope_scores([{"label": "yes", "answer": "yes"}, {"label": "no", "answer": "yes"}])
    assert result.splits == {}
    assert (result.overall.accuracy, result.overall.precision, result.overall.yes_ratio) == (0.5, 0.5, 1.0)


def test_all_no_answers_give_zero_precision_not_an_error():
    m = binary_metrics(["yes", "no"], ["no", "no"])
    assert (m.precision, m.recall, m.f1, m.accuracy) == (0.0, 0.0, 0.0, 0.5)


def test_row_missing_answer_is_an_error():
    with pytest.raises(ValueError, match="question_id 7.*'answer'"):
        pope_scores([{"question_id": 7, "label": "yes"}])


def test_missing_and_unknown_answers_are_errors():
    questions = [{"question_id": 1, "label": "yes"}, {"question_id": 2, "label": "no"}]
    with pytest.raises(ValueError, match="question_id 2"):
        attach_answers(questions, {1: "yes"})
    with pytest.raises(ValueError, match="unknown question_id"):
        attach_answers(questions, {1: "yes", 2: "no", 3: "no"})


def test_question_file_errors_name_file_line_and_field(tmp_path):
    path = tmp_path / "pope.jsonl"
    path.write_text(
        '{"question_id": 1, "image": "a.jpg", "text": "Is there a dog?", "label": "yes"}\n'
        '{"question_id": 2, "image": "b.jpg", "text": "Is there a cat?"}\n'
    )
    with pytest.raises(InputError, match=r"pope\.jsonl:2: missing field.*'label'"):
        load_pope_questions(path)
    path.write_text('{"question_id": 1, "image": "a.jpg", "text": "Is there a dog?", "label": "maybe"}\n')
    with pytest.raises(InputError, match=r"pope\.jsonl:1: field 'label' must be 'yes' or 'no'"):
        load_pope_questions(path)
    path.write_text('{"question_id": 1, "image": "a.jpg", "text": "Is there a dog?", "label": "yes"\n')
    with pytest.raises(InputError, match=r"pope\.jsonl:1: malformed JSON"):
        load_pope_questions(path)


def test_answers_accept_llava_text_field(tmp_path):
    path = tmp_path / "answers.jsonl"
    path.write_text('{"question_id": 1, "text": "Yes"}\n{"question_id": 2, "answer": "No"}\n')
    assert load_pope_answers(path) == {1: "Yes", 2: "No"}
    path.write_text('{"question_id": 1, "reply": "Yes"}\n')
    with pytest.raises(InputError, match=r"answers\.jsonl:1: missing field 'answer' \(or 'text'\)"):
        load_pope_answers(path)


def test_evaluator_items_and_aggregate(tmp_path, check_items):
    """Two question files: ids tagged by split; POPE's script's convention (unparsed -> yes) makes q5 a TP.
    Overall TP4 TN3 FP2 FN1: accuracy 0.7, F1 8/11."""
    import json

    from polyrlaif.core.protocols import EvalRequest
    from polyrlaif.domains.vision_hallucination.pope import PopeEvaluator

    answers = tmp_path / "answers.jsonl"
    with answers.open("w") as f:
        for qid, text in load_pope_answers(FIXTURES / "pope_answers.jsonl").items():
            f.write(json.dumps({"question_id": f"{'random' if qid <= 5 else 'adversarial'}:{qid}",
                                "answer": text}) + "\n")  # fmt: skip
    files = [str(FIXTURES / "coco_pope_random.jsonl"), str(FIXTURES / "coco_pope_adversarial.jsonl")]
    opts = PopeEvaluator.Options(predictions=str(answers), questions=files)
    metrics = PopeEvaluator().evaluate(None, EvalRequest(tmp_path / "out", options=opts))
    assert (metrics["accuracy"], metrics["f1"]) == pytest.approx((0.7, 8 / 11))
    rows = check_items(PopeEvaluator, tmp_path / "out", metrics)
    assert rows[4] == {"id": "random:5", "label": "yes", "prediction": "yes", "split": "random"}
    again = PopeEvaluator.aggregate(rows)
    for key in ("precision", "recall", "yes_ratio", "random/accuracy", "random/f1", "adversarial/f1"):
        assert again[key] == pytest.approx(metrics[key])


def test_aggregate_f1_from_pooled_counts():
    from polyrlaif.domains.vision_hallucination.pope import PopeEvaluator

    rows = [
        {"id": "1", "label": "yes", "prediction": "yes", "split": "a"},  # TP
        {"id": "2", "label": "no", "prediction": "yes", "split": "a"},  # FP
        {"id": "3", "label": "yes", "prediction": "no", "split": "b"},  # FN
        {"id": "4", "label": "no", "prediction": "no", "split": "b"},  # TN
    ]
    got = PopeEvaluator.aggregate(rows)
    # pooled TP1 FP1 FN1: F1 2/4, not the mean of the splits' F1 (2/3 and 0)
    assert (got["accuracy"], got["f1"], got["a/f1"], got["b/f1"]) == pytest.approx((0.5, 0.5, 2 / 3, 0.0))
    negatives = PopeEvaluator.aggregate([{"id": "4", "label": "no", "prediction": "no", "split": None}])
    assert negatives["accuracy"] == 1.0 and math.isnan(negatives["f1"])  # no positive at all: undefined
