"""Open-ended video QA (MSVD-QA, MSRVTT-QA, ActivityNet-QA) judged the way Video-ChatGPT judges it.

Two ways in:

* ``polyrlaif eval --domain video_lmm --benchmark videoqa --predictions P.jsonl --annotations Q.json``
  scores answers already made.
* ``polyrlaif eval --domain video_lmm --benchmark videoqa --model M --videos DIR --annotations Q.json``
  asks the policy first: each ``(video, question)`` is answered once, greedily by default, through
  :func:`~.qa_judge.answer_videos` (resumable ``generations.jsonl``); with ``--samples K`` (and a
  temperature) K times, and a question's accuracy and score are the means over its K answers, so the
  intervals still resample questions. A question whose video is missing
  or cannot be decoded is skipped with its reason in ``skipped.jsonl`` and counted.

Annotation rows (a JSON list, a JSON object of rows keyed by id, or JSONL), fields by any of their names:
MSVD-QA / MSRVTT-QA ``{"question", "answer", "video_id" | "video", "id"}``; ActivityNet-QA
``{"question_id", "question", "answer", "video_name"}`` (or its ``*_q.json`` with the answers in the
``*_a.json`` beside it, or named by ``--opt answers=``); Video-ChatGPT's ``{"video_name", "Q", "A"}``; and
ours, ``{"id", "video", "question", "answer"}``. A row without an id is keyed the way Video-ChatGPT keys
it: ``<video>_<k>``, its k-th question on that video. A missing field stops the run with an
:class:`~polyrlaif.core.io.InputError` naming the file, line (or index) and field, before any judge or
generation starts. Prediction rows: ``{"id" | "question_id", "prediction" | "pred"}`` joined to the
annotations by id, or Video-ChatGPT's self-contained ``{"question" | "Q", "answer" | "A", "pred"}``.

Judging: with ``judge_backend`` ``openai`` or ``transformers`` (``--opt judge_backend=openai --opt
judge_model=M --opt judge_base_url=URL``), the judge gets Video-ChatGPT's QA prompt (system and user turns
of ``quantitative_evaluation/evaluate_activitynet_qa.py``, verbatim: :data:`~.prompts.QA_PROMPT`) and
answers a dict ``{'pred': 'yes'|'no', 'score': 0-5}`` (:func:`~.qa_judge.parse_judge_reply`); an
``openai`` judge is sent its JSON schema as structured output (``--opt judge_structured_output=auto|on|off``,
as ``judge.structured_output``). An answer it does not give in that form is a failure with its reason,
counted in ``judge_failures`` (and, when no score could be read, ``judge_unparseable``) and left out of
both means. Without a judge (``judge_backend=none``, the default), ``accuracy`` is the normalised exact
match against the answer (:func:`polyrlaif.evaluation.qa.normalize_answer`), there is no ``score``, and
the metrics say ``judged_by: exact_match``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from polyrlaif.core.benchmarks import resolve_max_new_tokens, resolve_options
from polyrlaif.core.evidence import ITEMS_FILE
from polyrlaif.core.io import InputError, atomic_write_jsonl
from polyrlaif.core.log import get_logger
from polyrlaif.core.protocols import Direction, EvalRequest, Policy
from polyrlaif.domains.video_lmm.prompts import QA_PROMPT
from polyrlaif.domains.video_lmm.qa_files import (
    ANSWER,
    PREDICTION,
    QUESTION,
    SKIPPED_FILE,
    VIDEO,
    VideoQAItem,
    field,
    load_videoqa,
    playable,
    read_rows,
    resolve_video,
    row_keys,
    video_conversation,
)
from polyrlaif.domains.video_lmm.qa_judge import (
    JudgeOptions,
    JudgeReply,
    VideoChatGPTJudge,
    answer_videos,
    build_judges,
    check_request,
    judge_counts,
    parse_judge_reply,
)

# The evaluator's own names, then those re-exported from qa_files and qa_judge, where they used to live.
__all__ = [
    "VideoQAEvaluator",
    "VideoQAOptions",
    "JudgeReply",
    "VideoQAItem",
    "load_videoqa",
    "parse_judge_reply",
    "resolve_video",
    "video_conversation",
]

log = get_logger(__name__)


def _answer_text(value: Any) -> str:
    if isinstance(value, list):  # several accepted answers: the first is the reference shown
        return str(value[0]) if value else ""
    return str(value)


@dataclass
class VideoQAOptions(JudgeOptions):
    """Options of :class:`VideoQAEvaluator` (``--annotations``, ``--predictions``, ``--videos``, ``--opt``),
    besides the judge's (:class:`JudgeOptions`).

    Attributes:
        annotations: the questions with their answers (any format of :func:`load_videoqa`).
        predictions: score these answers instead of asking a policy.
        videos: the folder of the videos (:func:`resolve_video`), to generate answers.
        answers: ActivityNet-QA's separate answers file.
    """

    annotations: str | None = None
    predictions: str | None = None
    videos: str | None = None
    answers: str | None = None


class VideoQAEvaluator:
    """Open-ended video QA: ``accuracy`` and the mean 0-5 ``score`` of Video-ChatGPT's judge (module
    docstring). Options: :class:`VideoQAOptions`.

    Writes ``items.jsonl`` (per question: ``id``, ``correct`` (bool, ``None`` when the judge failed; with
    several samples the share right, and ``samples``, how many were judged), ``score`` (``None`` without a
    judge or when it failed), ``failure``), ``rows.jsonl`` (per answer: the same with question, answer and
    prediction), ``skipped.jsonl``, ``metrics.json`` and ``metrics.md``; with a policy
    also ``generations.jsonl``. Metrics: ``accuracy``, ``score``, ``n_scored`` (questions with a verdict),
    ``n_questions``, ``skipped``, ``judged_by`` (the judge's id, or ``exact_match``) and, with a judge,
    ``judge_failures``, ``judge_failures/<reason>``, ``judge_answers``, ``judge_unparseable`` and
    ``judge_unparseable_rate``.
    """

    name: ClassVar[str] = "videoqa"
    Options: ClassVar[type] = VideoQAOptions
    metrics: ClassVar[Mapping[str, Direction]] = {"accuracy": "higher", "score": "higher"}
    max_new_tokens: ClassVar[int] = 64

    def _predicted(self, opts: VideoQAOptions, limit: int | None) -> list[VideoQAItem]:
        """The predictions file's answers, joined to the annotations by id when given."""
        preds = read_rows(opts.predictions)  # type: ignore[arg-type]
        keys = row_keys([r for _, r in preds])
        if not opts.annotations:  # Video-ChatGPT's self-contained rows
            items = []
            for (where, row), key in zip(preds, keys, strict=True):
                try:
                    question, answer = field(row, QUESTION, where), field(row, ANSWER, where)
                except InputError as exc:
                    raise InputError(f"{exc} (or give --annotations)") from None
                video = field(row, VIDEO, where, required=False) or ""
                pred = field(row, PREDICTION, where)
                items.append(VideoQAItem(key, str(video), str(question), _answer_text(answer), str(pred)))
            return items[: limit or None]
        items = load_videoqa(opts.annotations, answers=opts.answers, need_video=False)
        known = {it.id for it in items}
        got: dict[str, str] = {}
        for (where, row), key in zip(preds, keys, strict=True):
            if key not in known:
                raise InputError(f"{where}: id {key!r} is not a question of {opts.annotations}")
            got[key] = str(field(row, PREDICTION, where))
        items = items[: limit or None]
        missing = [it.id for it in items if it.id not in got]
        if missing:
            shown = ", ".join(missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
            raise InputError(
                f"{opts.predictions}: no prediction for question(s) {shown} of {opts.annotations}"
            )
        return [VideoQAItem(it.id, it.video, it.question, it.answer, got[it.id]) for it in items]

    def evaluate(self, policy: Policy | None, request: EvalRequest) -> dict[str, Any]:
        """Read or generate the answers, judge them and write the results under ``request.output_dir``.

        Raises:
            ValueError: both or neither of a policy and predictions; ``samples != 1`` with predictions;
                no ``videos`` or ``annotations`` to generate from.
            InputError: a bad annotations or predictions file (file, line or index, field), before any
                judge or generation starts.
        """
        from polyrlaif.evaluation.tables import write_metrics

        opts: VideoQAOptions = resolve_options(self, request.options)
        out = Path(request.output_dir)
        check_request(self.name, policy, opts, request, samples=True)
        skipped: list[dict[str, Any]] = []
        n = request.samples
        if policy is None:
            items = self._predicted(opts, request.limit)
        else:
            if not opts.annotations:
                raise ValueError(f"{self.name}: generating answers needs the questions: --annotations Q")
            items = load_videoqa(opts.annotations, answers=opts.answers)[: request.limit or None]
            files, skipped = playable(items, opts.videos, self.name)
            budget = resolve_max_new_tokens(self, request.max_new_tokens)
            got = answer_videos(
                policy, [(it.id, files[it.id], it.question) for it in items if it.id in files],
                out / "generations.jsonl", max_new_tokens=budget,
                temperature=request.temperature, seed=request.seed, batch_size=request.batch_size, n=n,
            )  # fmt: skip
            items = [
                VideoQAItem(it.id, it.video, it.question, it.answer, answer)
                for it in items
                if it.id in files
                for answer in got[it.id]
            ]
        judge = (build_judges(opts, [QA_PROMPT], out) or [None])[0]
        rows = self._judge(items, judge)
        per_item = _per_question(rows, n)
        metrics: dict[str, Any] = {"accuracy": math.nan, **self.aggregate(per_item)}
        metrics.update(n_questions=float(len(per_item)), skipped=float(len(skipped)))
        if n != 1:
            metrics["samples"] = float(n)
        metrics["judged_by"] = judge.judge_id if judge else "exact_match"
        if judge:
            metrics.update(judge_counts([judge]))
        atomic_write_jsonl(out / "rows.jsonl", rows)
        atomic_write_jsonl(out / ITEMS_FILE, per_item)
        atomic_write_jsonl(out / SKIPPED_FILE, skipped)
        write_metrics(out, metrics)
        self._report(metrics, out)
        return metrics

    @staticmethod
    def _judge(items: Sequence[VideoQAItem], judge: VideoChatGPTJudge | None) -> list[dict[str, Any]]:
        """Per question: the judge's verdict, or the normalised exact match without a judge."""
        base = [
            {
                "id": it.id,
                "video": it.video,
                "question": it.question,
                "answer": it.answer,
                "prediction": it.prediction,
            }
            for it in items
        ]
        if judge is None:
            from polyrlaif.evaluation.qa import normalize_answer

            return [
                {**b, "correct": normalize_answer(it.prediction or "") == normalize_answer(it.answer),
                 "score": None, "failure": None}
                for b, it in zip(base, items, strict=True)
            ]  # fmt: skip
        replies = judge.grade(
            [{"question": b["question"], "answer": b["answer"], "prediction": b["prediction"]} for b in base]
        )
        return [
            {**b, "correct": r.pred, "score": r.score, "failure": r.failure}
            for b, r in zip(base, replies, strict=True)
        ]

    def _report(self, metrics: Mapping[str, Any], out: Path) -> None:
        if metrics["judged_by"] == "exact_match":
            log.warning(
                "no judge (judge_backend=none): accuracy is the normalised exact match against "
                "the answer and there is no score (--opt judge_backend=openai|transformers: "
                "Video-ChatGPT's judge)"
            )
        if metrics["skipped"]:
            log.warning(f"{metrics['skipped']:.0f} question(s) skipped; reasons in {out / SKIPPED_FILE}")
        if metrics.get("judge_failures"):
            reasons = {
                k.split("/", 1)[1]: int(v) for k, v in metrics.items() if k.startswith("judge_failures/")
            }
            log.warning(
                f"the judge failed on {metrics['judge_failures']:.0f} question(s) {reasons}; "
                f"they are left out of accuracy and score (details in {out / 'rows.jsonl'})"
            )
        shown = " ".join(f"{k}={metrics[k]:.4g}" for k in ("accuracy", "score", "n_scored") if k in metrics)
        log.info(f"{shown} ({metrics['judged_by']})")

    @staticmethod
    def aggregate(rows: Sequence[Mapping[str, Any]]) -> dict[str, float]:
        """``accuracy`` and ``score`` means over the rows that have them (a failed judgment has neither),
        and ``n_scored``; ``score`` is absent when no row has one (exact match)."""
        if not rows:
            return {}
        correct = [float(r["correct"]) for r in rows if r.get("correct") is not None]
        scores = [float(r["score"]) for r in rows if r.get("score") is not None]
        out = {"accuracy": sum(correct) / len(correct) if correct else math.nan}
        if scores:
            out["score"] = sum(scores) / len(scores)
        out["n_scored"] = float(len(correct))
        return out


def _per_question(rows: Sequence[Mapping[str, Any]], n: int) -> list[dict[str, Any]]:
    """One evidence row per question (what paired comparisons resample): with ``n`` samples a question's
    ``correct`` and ``score`` are the means over its judged samples, ``failure`` the first reason when
    none was judged; with one, the row as judged."""
    if n == 1:
        return [{k: r[k] for k in ("id", "correct", "score", "failure")} for r in rows]
    out = []
    for start in range(0, len(rows), n):
        group = rows[start : start + n]
        judged = [r for r in group if r["correct"] is not None]
        scores = [float(r["score"]) for r in judged if r["score"] is not None]
        out.append(
            {
                "id": group[0]["id"],
                "correct": sum(float(r["correct"]) for r in judged) / len(judged) if judged else None,
                "score": sum(scores) / len(scores) if scores else None,
                "failure": None if judged else group[0]["failure"],
                "samples": len(judged),
            }
        )
    return out
