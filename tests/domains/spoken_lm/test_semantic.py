"""The semantic-score benchmark's bookkeeping (``domains/spoken_lm/semantic.py``): per-prompt means,
failures counted and never scored 0, prompts with nothing scored left out of the mean, and options
checked before any model loads. The full path (unit LM -> transcriber -> judge) runs in the contract
round (``tests/cli/test_domain_contract.py``, ``tests/configs/spoken_lm/tiny.yaml``)."""

from __future__ import annotations

import pytest

from polyrlaif.core.io import InputError
from polyrlaif.core.protocols import EvalRequest
from polyrlaif.core.records import Candidate, Judgment, PromptRecord
from polyrlaif.core.significance import bootstrap_interval
from polyrlaif.domains.spoken_lm.semantic import SemanticEvaluator, SemanticOptions, _items


def _said(cid: str, words: str | None) -> Judgment:
    if words is None:
        return Judgment(cid, "transcript", "verifier", cid.split("/")[0], failure="transcriber_error: boom")
    return Judgment(cid, "transcript", "verifier", cid.split("/")[0], score=float(bool(words)),
                    scores={"transcript": words})  # fmt: skip


def _judged(cid: str, score: float | None) -> Judgment:
    j = Judgment(cid, "yesno", "judge", cid.split("/")[0])
    if score is None:
        j.failure = "backend_error: no probability"
    else:
        j.score = score
    return j


def test_items_average_each_prompt_and_count_failures_without_scoring_them():
    prompts = [PromptRecord(f"p{i}", "<u1> <u2>", meta={"transcript": f"story {i}"}) for i in range(3)]
    cands = [Candidate(f"p{i}/{j}", f"p{i}", "<u3>") for i in range(3) for j in range(2)]
    said = [_said("p0/0", "tom runs"), _said("p0/1", "tom sits"), _said("p1/0", None), _said("p1/1", ""),
            _said("p2/0", "x"), _said("p2/1", "y")]  # fmt: skip
    judged = [_judged("p0/0", 0.9), _judged("p0/1", 0.5), _judged("p1/0", 0.7), _judged("p1/1", 0.2),
              _judged("p2/0", None), _judged("p2/1", None)]  # fmt: skip
    items = _items(prompts, cands, said, judged, 2)

    assert [r["score"] for r in items] == [pytest.approx(0.7), pytest.approx(0.2), None]
    assert items[1]["failures"] == [{"candidate_id": "p1/0", "reason": "transcriber_error: boom"}]
    assert [len(r["failures"]) for r in items] == [0, 1, 2]
    assert items[0]["prompt_transcript"] == "story 0" and items[0]["transcripts"] == ["tom runs", "tom sits"]
    agg = SemanticEvaluator.aggregate(items)
    assert agg["semantic_score"] == pytest.approx((0.7 + 0.2) / 2)  # the unscored prompt is left out
    assert agg["n"] == 2
    assert agg["transcript_rate"] == pytest.approx(4 / 6)  # "" and a failure have no words

    ci = bootstrap_interval(items, SemanticEvaluator.aggregate, "semantic_score", seed=0)
    assert ci.low <= agg["semantic_score"] <= ci.high


def test_bad_options_and_inputs_are_refused_before_any_model_loads(tmp_path):
    with pytest.raises(ValueError, match="judge_mode"):
        SemanticOptions(judge_mode="pairwise")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="judge_novelty weighs the similarity judge"):
        SemanticOptions(judge_novelty=True)  # the default judge is yes/no
    with pytest.raises(ValueError, match="prompt_seconds"):
        SemanticOptions(prompt_seconds=0)
    ev = SemanticEvaluator()
    with pytest.raises(ValueError, match="--model"):
        ev.evaluate(None, EvalRequest(tmp_path / "o", options=SemanticOptions()))
    with pytest.raises(ValueError, match="annotations"):
        ev.evaluate(object(), EvalRequest(tmp_path / "o", options=SemanticOptions()))
    opts = SemanticOptions(annotations=str(tmp_path / "none.jsonl"), units="u", transcriber="t")
    with pytest.raises(InputError, match="none.jsonl"):
        ev.evaluate(object(), EvalRequest(tmp_path / "o", options=opts))


def test_on_topic_uses_the_prompts_words_and_no_other_topics(tmp_path):
    from polyrlaif.core.io import atomic_write_jsonl
    from polyrlaif.datasets.speech.grammar import scene_words
    from polyrlaif.domains.spoken_lm.semantic import _mark_topics, _read_topics

    words = scene_words()
    assert {"oven", "cake"} <= words["kitchen"] and "warm" not in words["kitchen"]  # "The sun was warm."
    assert all(not (a & b) for p, a in words.items() for q, b in words.items() if p != q)
    beach = {"prompt_id": "p0", "words": sorted(words["beach"]), "other_words": sorted(words["park"])}
    atomic_write_jsonl(tmp_path / "topics.jsonl", [beach])
    items = [
        {
            "id": "p0",
            "transcripts": ["She found the shells.", "She flew the kite over the sand.", "It was a day.", ""],
        },
        {"id": "p1", "transcripts": ["anything"]},
    ]
    _mark_topics(items, _read_topics(str(tmp_path / "topics.jsonl")))
    assert items[0]["on_topic"] == [True, False, False, False] and "on_topic" not in items[1]
    assert SemanticEvaluator.aggregate(items)["on_topic_rate"] == 0.25
    with pytest.raises(InputError, match="other_words"):
        atomic_write_jsonl(tmp_path / "bad.jsonl", [{"prompt_id": "p0", "words": []}])
        _read_topics(str(tmp_path / "bad.jsonl"))


def test_judge_novelty_is_refused_for_a_judge_other_than_similarity():
    from polyrlaif.domains.spoken_lm.config import SpokenLMConfig

    with pytest.raises(ValueError, match="domain.judge_novelty weighs the similarity judge"):
        SpokenLMConfig(judge_novelty=True)
    assert SpokenLMConfig(judge_mode="similarity", judge_novelty=True).judge_novelty
