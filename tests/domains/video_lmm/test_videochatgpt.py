"""The Video-ChatGPT generative benchmark: its ground-truth and prediction files, the score-only replies,
the per-aspect means, a judge that fails, and the consistency pair answered twice by a policy.

The policy is the tiny chat LM wrapped as a text stand-in (video parts dropped; see test_videoqa.py): it
exercises the generation plumbing, not video understanding.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from polyrlaif.core.io import InputError
from polyrlaif.core.protocols import EvalRequest
from polyrlaif.domains.video_lmm.prompts import CONSISTENCY_PROMPT
from polyrlaif.domains.video_lmm.qa_files import load_videochatgpt
from polyrlaif.domains.video_lmm.qa_judge import JudgeReply, parse_judge_reply
from polyrlaif.domains.video_lmm.videochatgpt import DIMENSIONS, VideoChatGPTEvaluator, VideoChatGPTOptions

GENERIC = [
    {"video_name": "v_a", "Q": "What happens?", "A": "A man juggles."},
    {"video_name": "v_b", "Q": "Who is there?", "A": "Two kids."},
    {"video_name": "v_a", "Q": "What does he wear?", "A": "A red hat."},
]
TEMPORAL = [{"video_name": "v_b", "Q": "What happens after the jump?", "A": "They fall."}]
CONSISTENCY = [
    {"video_name": "v_a", "Q1": "What is he doing?", "Q2": "What activity is shown?", "A": "Juggling."}
]


def _json(path: Path, data: object) -> Path:
    path.write_text(json.dumps(data))
    return path


def _rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def _gt_folder(tmp_path: Path) -> Path:
    gt = tmp_path / "gt"
    gt.mkdir()
    _json(gt / "generic_qa.json", GENERIC)
    _json(gt / "temporal_qa.json", TEMPORAL)
    _json(gt / "consistency_qa.json", CONSISTENCY)
    return gt


def test_video_chatgpt_ground_truth_folder_is_read_by_task(tmp_path: Path) -> None:
    items = load_videochatgpt(_gt_folder(tmp_path))
    assert [(it.id, it.task) for it in items] == [
        ("generic/v_a_0", "generic"),
        ("generic/v_b_0", "generic"),
        ("generic/v_a_1", "generic"),
        ("temporal/v_b_0", "temporal"),
        ("consistency/v_a_0", "consistency"),
    ]
    pair = items[-1]
    assert pair.questions == ("What is he doing?", "What activity is shown?") and pair.answer == "Juggling."
    pair_fields = {"question1", "question2", "answer", "prediction1", "prediction2"}
    assert set(pair.__class__(**{**pair.__dict__, "predictions": ("x", "y")}).judge_fields()) == pair_fields
    assert "Question 2: {question2}" in CONSISTENCY_PROMPT.user


def test_one_file_of_ours_with_tasks_and_the_separate_files(tmp_path: Path) -> None:
    ours = tmp_path / "bench.jsonl"
    rows = [
        {"id": "g1", "video": "a.mp4", "question": "q", "answer": "a"},
        {"id": "t1", "task": "temporal", "video": "a.mp4", "question": "q", "answer": "a"},
        {"id": "c1", "video": "a.mp4", "question1": "q", "question2": "q'", "answer": "a"},
    ]
    ours.write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert [it.id for it in load_videochatgpt(ours)] == ["generic/g1", "temporal/t1", "consistency/c1"]
    extra = _json(tmp_path / "t.json", TEMPORAL)
    items = load_videochatgpt(_json(tmp_path / "generic.json", GENERIC), temporal=str(extra))
    assert [it.task for it in items] == ["generic"] * 3 + ["temporal"]


def test_bad_rows_name_file_index_and_field(tmp_path: Path) -> None:
    gt = _gt_folder(tmp_path)
    _json(gt / "consistency_qa.json", [{"video_name": "v_a", "Q1": "q", "A": "a"}])
    with pytest.raises(
        InputError, match=r"consistency_qa\.json: index 0: missing field 'question2' \(or 'Q2'\)"
    ):
        load_videochatgpt(gt)
    bad = _json(tmp_path / "x.json", [{"task": "spatial", "video": "v", "question": "q", "answer": "a"}])
    with pytest.raises(InputError, match=r"x\.json: index 0: field 'task' is 'spatial'; valid: generic"):
        load_videochatgpt(bad)


def test_score_only_replies_including_the_prompts_own_typo() -> None:
    assert parse_judge_reply("{'score': 3}", with_pred=False) == JudgeReply(None, 3)
    assert parse_judge_reply("{''score': 4.8}", with_pred=False) == JudgeReply(None, 4)  # echoes the example
    assert parse_judge_reply("Score = 2", with_pred=False) == JudgeReply(None, 2)
    assert parse_judge_reply("{'score': 6}", with_pred=False).failure == "out_of_range: score 6 not in [0, 5]"


def test_each_prompt_asks_for_its_reply_as_a_json_schema_that_the_parser_reads() -> None:
    from polyrlaif.domains.video_lmm.prompts import QA_PROMPT

    for _, prompt in DIMENSIONS.values():  # the five aspects: a score only
        schema = prompt.json_schema()
        assert schema["required"] == ["score"] and schema["additionalProperties"] is False
        assert schema["properties"]["score"] == {"type": "integer", "minimum": 0, "maximum": 5}
    assert parse_judge_reply(json.dumps({"score": 3}), with_pred=False) == JudgeReply(None, 3)
    assert QA_PROMPT.json_schema()["required"] == ["pred", "score"]
    assert QA_PROMPT.json_schema()["properties"]["pred"]["enum"] == ["yes", "no"]
    assert parse_judge_reply('{"pred": "no", "score": 1}', with_pred=True) == JudgeReply(False, 1)


def test_aggregate_means_each_aspect_over_its_scored_questions() -> None:
    rows = [
        {"id": "generic/a", "task": "generic", "correctness": 4, "detail_orientation": 2,
         "contextual_understanding": 3},
        {"id": "generic/b", "task": "generic", "correctness": 2, "detail_orientation": None,
         "contextual_understanding": 5, "failures": {"detail_orientation": "unparseable: no score"}},
        {"id": "temporal/a", "task": "temporal", "temporal_understanding": 1},
    ]  # fmt: skip
    got = VideoChatGPTEvaluator.aggregate(rows)
    assert got == {
        "correctness": 3.0,
        "detail_orientation": 2.0,
        "contextual_understanding": 4.0,
        "temporal_understanding": 1.0,
        "n_items": 3.0,
    }  # no consistency question: no consistency, and no average of the five
    rows.append({"id": "consistency/a", "task": "consistency", "consistency": 5})
    assert VideoChatGPTEvaluator.aggregate(rows)["average"] == pytest.approx((3 + 2 + 4 + 1 + 5) / 5)


def test_a_judge_is_required(tmp_path: Path) -> None:
    opts = VideoChatGPTOptions(annotations=str(_gt_folder(tmp_path)), predictions=str(tmp_path / "p.json"))
    with pytest.raises(
        ValueError, match="videochatgpt is scored by a judge model: --opt judge_backend=openai"
    ):
        VideoChatGPTEvaluator().evaluate(None, EvalRequest(output_dir=tmp_path / "o", options=opts))


def test_predictions_join_by_task_and_failures_are_counted_per_aspect(
    tmp_path: Path, tiny_lm_path: str
) -> None:
    preds = tmp_path / "preds"
    preds.mkdir()  # Video-ChatGPT's prediction files: the ground truth rows plus pred / pred1, pred2
    _json(preds / "generic_pred.json", [{**r, "pred": "Something."} for r in GENERIC])
    _json(preds / "temporal_pred.json", [{**r, "pred": "Later."} for r in TEMPORAL])
    _json(
        preds / "consistency_pred.json",
        [{**r, "pred1": "Juggling.", "pred2": "Dancing."} for r in CONSISTENCY],
    )
    opts = VideoChatGPTOptions(
        annotations=str(_gt_folder(tmp_path)), predictions=str(preds),
        judge_backend="transformers", judge_model=tiny_lm_path, judge_max_new_tokens=6,
    )  # fmt: skip
    metrics = VideoChatGPTEvaluator().evaluate(None, EvalRequest(output_dir=tmp_path / "o", options=opts))

    # the tiny random LM never answers with the dict: 3 aspects x 3 generic + 1 temporal + 1 pair = 11
    assert metrics["judge_failures"] == 11 == metrics["judge_failures/unparseable"]
    assert (
        metrics["judge_answers"] == 11 == metrics["judge_unparseable"]
        and metrics["judge_unparseable_rate"] == 1
    )
    assert not set(DIMENSIONS) & set(metrics)
    assert (metrics["n_generic"], metrics["n_temporal"], metrics["n_consistency"]) == (3, 1, 1)
    items = _rows(tmp_path / "o" / "items.jsonl")
    assert set(items[0]["failures"]) == {"correctness", "detail_orientation", "contextual_understanding"}
    assert set(items[-1]["failures"]) == {"consistency"}
    rows = _rows(tmp_path / "o" / "rows.jsonl")
    assert rows[-1]["predictions"] == ["Juggling.", "Dancing."]
    assert VideoChatGPTEvaluator.aggregate(items) == {"n_items": 5.0}


def _write_video(path: Path) -> None:
    av = pytest.importorskip("av")
    with av.open(str(path), "w") as container:
        stream = container.add_stream("mpeg4", rate=4)
        stream.width = stream.height = 32
        stream.pix_fmt = "yuv420p"
        for i in range(3):
            frame = av.VideoFrame.from_ndarray(np.full((32, 32, 3), 60 * i, np.uint8), format="rgb24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def test_the_policy_answers_both_questions_of_a_pair(tmp_path: Path, tiny_lm_path: str) -> None:
    from polyrlaif.core.policy import CausalLMPolicy

    class TextStandIn:  # video parts dropped: plumbing, not video understanding
        model_id = "tiny-text-stand-in"

        def __init__(self) -> None:
            self.inner, self.asked = CausalLMPolicy(tiny_lm_path, device="cpu"), []

        def generate(self, conversations, **kwargs):
            texts = [c[0]["content"][1]["text"] for c in conversations]
            assert all(c[0]["content"][0]["type"] == "video" for c in conversations)
            self.asked += texts
            return self.inner.generate([[{"role": "user", "content": t}] for t in texts], **kwargs)

    videos = tmp_path / "videos"
    videos.mkdir()
    _write_video(videos / "v_a.mp4")  # v_b is missing: its generic and temporal questions are skipped
    policy = TextStandIn()
    opts = VideoChatGPTOptions(
        annotations=str(_gt_folder(tmp_path)), videos=str(videos),
        judge_backend="transformers", judge_model=tiny_lm_path, judge_max_new_tokens=6,
    )  # fmt: skip
    out = tmp_path / "o"
    metrics = VideoChatGPTEvaluator().evaluate(
        policy, EvalRequest(output_dir=out, max_new_tokens=6, options=opts)
    )

    assert policy.asked == [
        "What happens?",
        "What does he wear?",
        "What is he doing?",
        "What activity is shown?",
    ]
    assert metrics["skipped"] == 2 and (metrics["n_generic"], metrics["n_temporal"]) == (2, 0)
    assert {r["id"] for r in _rows(out / "skipped.jsonl")} == {"generic/v_b_0", "temporal/v_b_0"}
    keys = [r["key"] for r in _rows(out / "generations.jsonl")]
    assert keys == ["generic/v_a_0#1", "generic/v_a_1#1", "consistency/v_a_0#1", "consistency/v_a_0#2"]
    assert len(_rows(out / "rows.jsonl")[-1]["predictions"]) == 2
