"""MMHal-style scoring: the core judge layer rates each answer 0-6 against the image content and the
standard answer; the mean rating and the hallucination rate (ratings below 3) come out, failures counted,
and a rerun replays from the judge cache."""

from __future__ import annotations

import json
import math

import pytest

from polyrlaif.core.protocols import EvalRequest
from polyrlaif.domains.vision_hallucination.mmhal import MMHalEvaluator


@pytest.fixture()
def rater(serve_json):
    """An OpenAI-compatible endpoint whose "model" rates by rule: an answer that names a dog the image
    content does not list is a hallucination (1), "I cannot tell" is uninformative (3), else 6."""
    seen = {"requests": 0}

    def rate(body: dict, request: object) -> tuple[int, dict]:
        seen["requests"] += 1
        text = body["messages"][-1]["content"]
        response = text.split("<response>")[1].split("</response>")[0]
        if "garbled" in response:
            content = "I will not grade this."
        elif "dog" in response and "dog" not in text.split("<context>")[1]:
            content = "faithfulness: 1\nrationale: a dog that is not there."
        elif "cannot tell" in response:
            content = "faithfulness: 3\nrationale: not informative."
        else:
            content = "faithfulness: 6\nrationale: right."
        return 200, {"choices": [{"message": {"content": content}}]}

    return serve_json(rate), seen


def test_mmhal_scores_hallucination_rate_and_replay(tmp_path, rater, check_items):
    url, seen = rater
    rows = [
        {"image": "a.jpg", "question": "What animal is there?", "gt_answer": "A cat.",
         "image_content": ["cat", "sofa"], "model_answer": "A dog on a sofa."},
        {"image": "b.jpg", "question": "What is on the table?", "gt_answer": "A cup.",
         "image_content": ["cup", "table"], "model_answer": "A cup."},
        {"image": "c.jpg", "question": "What colour is the car?", "gt_answer": "Red.",
         "image_content": ["car"], "model_answer": "I cannot tell."},
        {"image": "d.jpg", "question": "How many?", "gt_answer": "Two.",
         "image_content": ["dog"], "model_answer": "garbled"},
    ]  # fmt: skip
    preds = tmp_path / "mmhal.json"
    preds.write_text(json.dumps(rows))
    opts = MMHalEvaluator.Options(
        predictions=str(preds), judge_backend="openai", judge_model="rater", base_url=url
    )
    got = MMHalEvaluator().evaluate(None, EvalRequest(tmp_path / "out", options=opts))
    # ratings 1, 6, 3 and one failure: mean 10/3, one of three below 3
    assert got["mmhal_score"] == pytest.approx(10 / 3)
    assert got["hallucination_rate"] == pytest.approx(1 / 3)
    assert got["n_rated"] == 3 and got["judge_failures"] == 1
    out_rows = [json.loads(x) for x in (tmp_path / "out" / "rows.jsonl").read_text().splitlines()]
    assert [r["rating"] for r in out_rows] == [1, 6, 3, None] and out_rows[3]["failure"]
    items = check_items(MMHalEvaluator, tmp_path / "out", got)
    assert [(r["id"], r["rating"]) for r in items] == [("0", 1), ("1", 6), ("2", 3), ("3", None)]
    before = seen["requests"]
    assert MMHalEvaluator().evaluate(None, EvalRequest(tmp_path / "out", options=opts)) == got
    assert seen["requests"] == before  # replayed from the cache (the unparseable answer too: it is the
    # model's answer, re-parsed the same way, not a transport failure)


def test_mmhal_needs_model_answers(tmp_path):
    preds = tmp_path / "p.json"
    preds.write_text(json.dumps([{"image": "a.jpg", "question": "q", "gt_answer": "a"}]))
    with pytest.raises(ValueError, match="model_answer"):
        opts = MMHalEvaluator.Options(predictions=str(preds))
        MMHalEvaluator().evaluate(None, EvalRequest(tmp_path / "o", options=opts))


def test_aggregate_over_rated_rows():
    rows = [{"id": "0", "rating": 1}, {"id": "1", "rating": 6}, {"id": "2", "rating": None}]
    got = MMHalEvaluator.aggregate(rows)
    assert (got["mmhal_score"], got["hallucination_rate"], got["n_rated"]) == (3.5, 0.5, 2)
    none = MMHalEvaluator.aggregate(rows[2:])  # nothing rated: undefined, not 0
    assert math.isnan(none["mmhal_score"]) and math.isnan(none["hallucination_rate"])
