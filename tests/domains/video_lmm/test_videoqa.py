"""The videoqa benchmark: annotation formats, the judge's replies, exact-match fallback, failures counted,
and generation through a policy with a missing and an unreadable video skipped.

The policy in the generation test is the tiny chat LM of ``tests/conftest.py`` wrapped as a *text
stand-in*: it drops the video parts and answers the question text. It exercises the generation plumbing
(conversations with video parts, batching, ``generations.jsonl``, skips), not video understanding.
"""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path

import numpy as np
import pytest

from polyrlaif.core.io import InputError
from polyrlaif.core.judges.cache import JudgeCache
from polyrlaif.core.protocols import EvalRequest
from polyrlaif.domains.video_lmm.qa_files import VideoQAItem, load_videoqa, resolve_video, video_conversation
from polyrlaif.domains.video_lmm.qa_judge import JudgeReply, parse_judge_reply
from polyrlaif.domains.video_lmm.videoqa import VideoQAEvaluator, VideoQAOptions


def _json(path: Path, data: object) -> str:
    path.write_text(json.dumps(data))
    return str(path)


def _jsonl(path: Path, rows: list[dict]) -> str:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return str(path)


def _rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def write_video(path: Path, frames: int = 4) -> Path:
    """A tiny real MPEG-4 video (32x32, ``frames`` flat grey frames)."""
    av = pytest.importorskip("av")
    with av.open(str(path), "w") as container:
        stream = container.add_stream("mpeg4", rate=4)
        stream.width = stream.height = 32
        stream.pix_fmt = "yuv420p"
        for i in range(frames):
            frame = av.VideoFrame.from_ndarray(np.full((32, 32, 3), 40 * i, np.uint8), format="rgb24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


class TextStandInPolicy:
    """The tiny chat LM as a video policy's text stand-in: video parts are dropped, the question is answered.

    Records the conversations it was given, so the test can check that the video parts reached it.
    """

    def __init__(self, path: str) -> None:
        from polyrlaif.core.policy import CausalLMPolicy

        self.inner = CausalLMPolicy(path, device="cpu", batch_size=4)
        self.model_id, self.model_path = "tiny-text-stand-in", path
        self.seen: list[list[dict]] = []

    @staticmethod
    def text_only(conversation: list[dict]) -> list[dict]:
        def text(content: object) -> str:
            if isinstance(content, str):
                return content
            return " ".join(p["text"] for p in content if p["type"] == "text")  # type: ignore[union-attr]

        return [{"role": m["role"], "content": text(m["content"])} for m in conversation]

    def generate(self, conversations, *, n=1, temperature=0.0, top_p=1.0, max_new_tokens=256, seed=0):
        self.seen.extend(conversations)
        return self.inner.generate(
            [self.text_only(c) for c in conversations],
            n=n, temperature=temperature, top_p=top_p, max_new_tokens=max_new_tokens, seed=seed,
        )  # fmt: skip


def test_loaders_read_each_dataset_format(tmp_path: Path) -> None:
    msrvtt = _json(
        tmp_path / "msrvtt_test_qa.json",
        [{"answer": "man", "category_id": 3, "id": 158581, "question": "who is talking?", "video_id": 7010}],
    )
    assert load_videoqa(msrvtt)[0] == VideoQAItem("158581", "7010", "who is talking?", "man")

    msvd = _json(
        tmp_path / "msvd.json", [{"answer": "dog", "id": 7, "question": "what runs?", "video_id": 3}]
    )
    item = load_videoqa(msvd)[0]
    assert (item.id, item.video, item.answer) == ("7", "3", "dog")

    anet = [{"question_id": "v_x_0", "question": "is it day?", "answer": "yes", "video_name": "x"}]
    assert load_videoqa(_json(tmp_path / "anet.json", anet))[0].id == "v_x_0"

    # ActivityNet-QA's split release: questions in test_q.json, answers in test_a.json beside it
    _json(tmp_path / "test_q.json", [{"video_name": "x", "question": "is it day?", "question_id": "v_x_0"}])
    _json(tmp_path / "test_a.json", [{"answer": "yes", "type": 3, "question_id": "v_x_0"}])
    assert load_videoqa(tmp_path / "test_q.json")[0] == VideoQAItem("v_x_0", "x", "is it day?", "yes")

    # Video-ChatGPT's rows have no id: keyed <video>_<k>, as its evaluation scripts key them
    vcg = [{"video_name": "v_a", "Q": "q1", "A": "a1"}, {"video_name": "v_b", "Q": "q2", "A": "a2"}]
    vcg.append({"video_name": "v_a", "Q": "q3", "A": "a3"})
    assert [it.id for it in load_videoqa(_json(tmp_path / "vcg.json", vcg))] == ["v_a_0", "v_b_0", "v_a_1"]

    ours = _jsonl(
        tmp_path / "ours.jsonl", [{"id": "q1", "video": "clip.mp4", "question": "q?", "answer": "a"}]
    )
    assert load_videoqa(ours)[0] == VideoQAItem("q1", "clip.mp4", "q?", "a")


def test_missing_fields_name_file_line_or_index_and_field(tmp_path: Path) -> None:
    bad = _jsonl(
        tmp_path / "q.jsonl", [{"id": "a", "video": "v", "question": "q", "answer": "x"}, {"id": "b"}]
    )
    with pytest.raises(InputError, match=r"q\.jsonl:2: missing field 'question' \(or 'Q'\)"):
        load_videoqa(bad)
    bad = _json(tmp_path / "q.json", [{"video_name": "v", "Q": "q", "A": "a"}, {"video_name": "v", "Q": "q"}])
    with pytest.raises(InputError, match=r"q\.json: index 1: missing field 'answer'"):
        load_videoqa(bad)


def test_a_bad_annotation_file_stops_before_any_model_runs(tmp_path: Path) -> None:
    class Untouchable:
        model_id = model_path = "never"

        def generate(self, *args, **kwargs):
            raise AssertionError("the policy must not be asked")

    bad = _json(tmp_path / "q.json", [{"video_name": "v", "answer": "a"}])
    opts = VideoQAOptions(
        annotations=bad, videos=str(tmp_path), judge_backend="transformers", judge_model="/no/such/model"
    )
    with pytest.raises(InputError, match=r"q\.json: index 0: missing field 'question'"):
        VideoQAEvaluator().evaluate(Untouchable(), EvalRequest(output_dir=tmp_path / "o", options=opts))
    assert not (tmp_path / "o" / "generations.jsonl").exists()


def test_videos_are_found_by_each_datasets_naming(tmp_path: Path) -> None:
    for name in ("video7010.mp4", "vid3.avi", "v_JDg--pjY5gg.mkv", "clip.webm"):
        (tmp_path / name).write_bytes(b"x")
    assert resolve_video("7010", tmp_path) == tmp_path / "video7010.mp4"  # MSRVTT
    assert resolve_video("3", tmp_path) == tmp_path / "vid3.avi"  # MSVD
    assert resolve_video("JDg--pjY5gg", tmp_path) == tmp_path / "v_JDg--pjY5gg.mkv"  # ActivityNet
    assert resolve_video("clip.webm", tmp_path) == resolve_video("clip", tmp_path) == tmp_path / "clip.webm"
    assert resolve_video("absent", tmp_path) is None


@pytest.mark.parametrize(
    ("text", "pred", "score"),
    [
        ("{'pred': 'yes', 'score': 4}", True, 4),
        ('{"pred": "no", "score": 2}', False, 2),
        ("```python\n{'pred': 'Yes', 'score': 4.8}\n```", True, 4),  # int(score), as Video-ChatGPT reads it
        ("Sure! {'pred': 'no', 'score': '3'} Hope this helps.", False, 3),
        ("{'pred': 'yes', 'score': 5", True, 5),  # cut off by the token budget
        ("pred: no\nscore: 0", False, 0),
    ],
)
def test_judge_replies_in_dict_like_forms_are_read(text: str, pred: bool, score: int) -> None:
    assert parse_judge_reply(text, with_pred=True) == JudgeReply(pred, score)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "unparseable: (empty answer)"),
        ("The prediction is correct.", "unparseable: no score"),
        ("{'pred': 'maybe', 'score': 3}", "unparseable: no yes/no pred"),
        ("{'pred': 'yes', 'score': 'high'}", "unparseable: score 'high' is not a number"),
        ("{'pred': 'yes', 'score': 7}", "out_of_range: score 7 not in [0, 5]"),
    ],
)
def test_malformed_judge_replies_fail_with_a_reason(text: str, reason: str) -> None:
    reply = parse_judge_reply(text, with_pred=True)
    assert reply.pred is None and reply.score is None and reply.failure.startswith(reason)


def test_aggregate_means_over_the_judged_rows_only() -> None:
    rows = [
        {"id": "a", "correct": True, "score": 5},
        {"id": "b", "correct": False, "score": 1},
        {"id": "c", "correct": True, "score": 4},
        {"id": "d", "correct": None, "score": None, "failure": "unparseable: no score"},
    ]
    assert VideoQAEvaluator.aggregate(rows) == {"accuracy": 2 / 3, "score": 10 / 3, "n_scored": 3.0}
    assert "score" not in VideoQAEvaluator.aggregate([{"id": "a", "correct": True, "score": None}])
    assert VideoQAEvaluator.aggregate([]) == {}


def _qa(tmp_path: Path) -> str:
    rows = [
        {"question_id": "q0", "question": "what animal runs?", "answer": "the dog", "video_name": "a"},
        {"question_id": "q1", "question": "what color is it?", "answer": "brown", "video_name": "a"},
        {"question_id": "q2", "question": "where is it?", "answer": "in a park", "video_name": "b"},
    ]
    return _json(tmp_path / "q.json", rows)


def test_without_a_judge_accuracy_is_exact_match_and_says_so(tmp_path: Path, caplog) -> None:
    preds = [{"id": "q0", "prediction": "Dog."}, {"question_id": "q1", "pred": "black"}]
    preds.append({"id": "q2", "prediction": "In the park!"})
    opts = VideoQAOptions(annotations=_qa(tmp_path), predictions=_jsonl(tmp_path / "p.jsonl", preds))
    with caplog.at_level(logging.INFO, logger="polyrlaif"):
        metrics = VideoQAEvaluator().evaluate(None, EvalRequest(output_dir=tmp_path / "o", options=opts))

    assert metrics["accuracy"] == pytest.approx(2 / 3) and "score" not in metrics
    assert metrics["judged_by"] == "exact_match"
    assert json.loads((tmp_path / "o" / "metrics.json").read_text())["judged_by"] == "exact_match"
    assert "no judge (judge_backend=none): accuracy is the normalised exact match" in caplog.text
    items = _rows(tmp_path / "o" / "items.jsonl")
    assert [(r["id"], r["correct"]) for r in items] == [("q0", True), ("q1", False), ("q2", True)]
    again = VideoQAEvaluator.aggregate(items)
    assert {m: again.get(m) for m in VideoQAEvaluator.metrics} == {
        m: metrics.get(m) for m in VideoQAEvaluator.metrics
    }


def test_video_chatgpt_prediction_rows_need_no_annotations(tmp_path: Path) -> None:
    rows = [{"id": "v_1_0", "question": "q", "answer": "yes", "pred": "Yes."}]
    rows.append({"id": "v_1_1", "question": "q", "answer": "two", "pred": "three"})
    opts = VideoQAOptions(predictions=_json(tmp_path / "preds.json", rows))
    metrics = VideoQAEvaluator().evaluate(None, EvalRequest(output_dir=tmp_path / "o", options=opts))
    assert metrics["accuracy"] == 0.5 and metrics["n_questions"] == 2

    opts = VideoQAOptions(predictions=_jsonl(tmp_path / "p.jsonl", [{"id": "v_1_0", "prediction": "yes"}]))
    with pytest.raises(InputError, match=r"p\.jsonl:1: missing field 'question'.*\(or give --annotations\)"):
        VideoQAEvaluator().evaluate(None, EvalRequest(output_dir=tmp_path / "o2", options=opts))


def test_predictions_must_match_the_annotations(tmp_path: Path) -> None:
    q = _qa(tmp_path)
    stray = _jsonl(tmp_path / "stray.jsonl", [{"id": "q9", "prediction": "x"}])
    with pytest.raises(InputError, match=r"stray\.jsonl:1: id 'q9' is not a question of"):
        VideoQAEvaluator().evaluate(
            None,
            EvalRequest(output_dir=tmp_path / "o", options=VideoQAOptions(annotations=q, predictions=stray)),
        )
    short = _jsonl(tmp_path / "short.jsonl", [{"id": "q0", "prediction": "x"}])
    with pytest.raises(InputError, match="no prediction for question\\(s\\) q1, q2"):
        VideoQAEvaluator().evaluate(
            None,
            EvalRequest(output_dir=tmp_path / "o", options=VideoQAOptions(annotations=q, predictions=short)),
        )
    # --limit: only the first questions need predictions
    request = EvalRequest(
        output_dir=tmp_path / "o", limit=1, options=VideoQAOptions(annotations=q, predictions=short)
    )
    assert VideoQAEvaluator().evaluate(None, request)["n_questions"] == 1


def test_judge_failures_are_counted_left_out_and_cached(tmp_path: Path, tiny_lm_path: str, caplog) -> None:
    # the tiny random LM as the judge: it never answers with the dict, so every judgment fails
    preds = _jsonl(tmp_path / "p.jsonl", [{"id": f"q{i}", "prediction": "a dog"} for i in range(3)])
    opts = VideoQAOptions(
        annotations=_qa(tmp_path),
        predictions=preds,
        judge_backend="transformers",
        judge_model=tiny_lm_path,
        judge_max_new_tokens=6,
    )
    with caplog.at_level(logging.INFO, logger="polyrlaif"):
        metrics = VideoQAEvaluator().evaluate(None, EvalRequest(output_dir=tmp_path / "o", options=opts))

    assert metrics["judge_failures"] == 3 == metrics["judge_failures/unparseable"]
    assert (metrics["judge_answers"], metrics["judge_unparseable"], metrics["judge_unparseable_rate"]) == (
        3,
        3,
        1,
    )
    assert math.isnan(metrics["accuracy"]) and "score" not in metrics and metrics["n_scored"] == 0
    assert metrics["judged_by"].startswith(f"video_chatgpt[qa]:transformers:{tiny_lm_path}:")
    assert "the judge failed on 3 question(s) {'unparseable': 3}; they are left out" in caplog.text
    rows = _rows(tmp_path / "o" / "rows.jsonl")
    assert all(r["failure"].startswith("unparseable") and r["correct"] is None for r in rows)
    with JudgeCache(tmp_path / "o" / "judge_cache.sqlite") as cache:
        assert len(cache) == 3  # the model did answer: its replies are kept and fail the same way on replay


def test_generation_answers_playable_videos_and_skips_the_rest(tmp_path: Path, tiny_lm_path: str) -> None:
    videos = tmp_path / "videos"
    videos.mkdir()
    write_video(videos / "v_a.mp4")
    write_video(videos / "b.mp4", frames=2)
    (videos / "broken.mp4").write_bytes(b"this is not a video" * 20)
    rows = [
        {"id": "a0", "video": "a", "question": "What is the capital of France?", "answer": "Paris"},
        {"id": "gone", "video": "nowhere", "question": "What moves?", "answer": "a car"},
        {"id": "a1", "video": "a", "question": "Write a Python function.", "answer": "def"},
        {"id": "bad", "video": "broken", "question": "Is it day?", "answer": "yes"},
        {"id": "b0", "video": "b.mp4", "question": "What is the capital of France?", "answer": "Paris"},
    ]
    opts = VideoQAOptions(annotations=_jsonl(tmp_path / "q.jsonl", rows), videos=str(videos))
    policy = TextStandInPolicy(tiny_lm_path)
    out = tmp_path / "o"
    request = EvalRequest(output_dir=out, max_new_tokens=8, batch_size=2, options=opts)
    metrics = VideoQAEvaluator().evaluate(policy, request)

    assert metrics["skipped"] == 2 and metrics["n_questions"] == 3 and metrics["judged_by"] == "exact_match"
    skipped = {r["id"]: r["reason"] for r in _rows(out / "skipped.jsonl")}
    assert skipped["gone"].startswith("missing: no file for video 'nowhere'")
    assert skipped["bad"].startswith("unreadable:") and "broken.mp4" in skipped["bad"]
    assert policy.seen[0] == video_conversation(videos / "v_a.mp4", rows[0]["question"])
    assert [c[0]["content"][0]["path"] for c in policy.seen] == [
        str(videos / n) for n in ("v_a.mp4",) * 2 + ("b.mp4",)
    ]
    got = {r["key"]: r["answer"] for r in _rows(out / "generations.jsonl")}
    direct = policy.inner.generate([[{"role": "user", "content": rows[0]["question"]}]], max_new_tokens=8)
    assert list(got) == ["a0", "a1", "b0"] and got["a0"] == got["b0"] == direct[0][0].strip()
    assert [r["id"] for r in _rows(out / "items.jsonl")] == ["a0", "a1", "b0"]

    policy.seen.clear()  # a rerun reuses the answers
    assert VideoQAEvaluator().evaluate(policy, request)["accuracy"] == metrics["accuracy"]
    assert policy.seen == []


def test_several_samples_score_each_question_by_its_share_of_right_answers(
    tmp_path: Path, tiny_lm_path: str
) -> None:
    from polyrlaif.evaluation.qa import normalize_answer

    videos = tmp_path / "videos"
    videos.mkdir()
    write_video(videos / "a.mp4")
    rows = [
        {"id": "a0", "video": "a", "question": "What is the capital of France?", "answer": "Paris"},
        {"id": "a1", "video": "a", "question": "Name a colour.", "answer": "red"},
    ]
    out, policy = tmp_path / "o", TextStandInPolicy(tiny_lm_path)

    def run(rows: list[dict]) -> dict:
        opts = VideoQAOptions(annotations=_jsonl(tmp_path / "q.jsonl", rows), videos=str(videos))
        request = EvalRequest(output_dir=out, max_new_tokens=6, samples=3, temperature=1.0, options=opts)
        return VideoQAEvaluator().evaluate(policy, request)

    run(rows)
    answers = {r["key"]: r["answers"] for r in _rows(out / "generations.jsonl")}
    assert all(len(a) == 3 for a in answers.values()) and len(policy.seen) == 2
    rows[0]["answer"] = answers["a0"][0]  # a0's first sample is now right; the answers are reused
    metrics = run(rows)
    assert len(policy.seen) == 2 and metrics["samples"] == 3 and metrics["n_questions"] == 2
    items = {r["id"]: r for r in _rows(out / "items.jsonl")}
    same = sum(normalize_answer(a) == normalize_answer(answers["a0"][0]) for a in answers["a0"])
    assert items["a0"]["correct"] == pytest.approx(same / 3) and items["a0"]["samples"] == 3
    assert len(_rows(out / "rows.jsonl")) == 6
    assert metrics["accuracy"] == pytest.approx((items["a0"]["correct"] + items["a1"]["correct"]) / 2)


def test_predictions_hold_one_answer_per_question(tmp_path: Path) -> None:
    rows = [{"id": "q", "video": "v", "question": "What?", "answer": "x"}]
    preds = _jsonl(tmp_path / "p.jsonl", [{"id": "q", "prediction": "x"}])
    opts = VideoQAOptions(annotations=_jsonl(tmp_path / "q.jsonl", rows), predictions=preds)
    request = EvalRequest(output_dir=tmp_path / "o", samples=2, options=opts)
    with pytest.raises(ValueError, match="a prediction file holds one answer per question; got samples=2"):
        VideoQAEvaluator().evaluate(None, request)
