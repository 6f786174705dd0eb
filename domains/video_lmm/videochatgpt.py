"""Video-ChatGPT's video-based generative performance benchmark: five 0-5 scores from a judge model.

The five aspects of Maaz et al. (2023), each judged with its own prompt from ``mbzuai-oryx/Video-ChatGPT``
(``quantitative_evaluation/evaluate_benchmark_<k>_*.py``, verbatim, typos included, so that scores stay
comparable with published ones):

* ``correctness``, ``detail_orientation``, ``contextual_understanding``: the *generic* questions
  (Video-ChatGPT's ``generic_qa.json``), each answer judged three times;
* ``temporal_understanding``: the *temporal* questions (``temporal_qa.json``);
* ``consistency``: the *consistency* pairs (``consistency_qa.json``): two phrasings ``Q1``/``Q2`` of one
  question on the same video, both answered, and the two answers judged together against the one answer.

Annotations (``--annotations``): a folder holding those three files (any of them), or one file (JSON
or JSONL) whose rows say their ``task`` (``generic``, ``temporal``, ``consistency``; a row with
``Q1``/``question1`` is a consistency pair, a file whose name says temporal or consistency holds that
task, any other row is generic); ``--opt temporal=F --opt consistency=F`` add Video-ChatGPT's other two
files. Rows: ``{"id"?, "video" | "video_name", "question" | "Q", "answer" | "A"}`` and for pairs
``{"question1" | "Q1", "question2" | "Q2", ...}``; a row without an id is keyed ``<video>_<k>`` as
Video-ChatGPT keys it. Predictions (``--predictions``, a file or a folder of files): the same rows with
``prediction`` | ``pred`` (pairs: ``prediction1`` | ``pred1`` and ``prediction2`` | ``pred2``), joined to
the annotations by task and id, or self-contained as Video-ChatGPT's inference scripts write them. With
``--model M --videos DIR`` the policy answers each question first (:func:`~.qa_judge.answer_videos`); a
question whose video is missing or unreadable is skipped with its reason in ``skipped.jsonl``.

A judge is required (``--opt judge_backend=openai --opt judge_model=M --opt judge_base_url=URL``, or
``transformers``); an ``openai`` judge is sent the ``{"score": n}`` JSON schema as structured output
(``--opt judge_structured_output=auto|on|off``). An answer it does not give as ``{'score': n}`` with n in
0-5 is a failure with its reason, counted in ``judge_failures`` (no score read: ``judge_unparseable``)
and left out of that aspect's mean. ``--limit N``: the first N
questions of each task.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, ClassVar

from polyrlaif.core.benchmarks import resolve_max_new_tokens, resolve_options
from polyrlaif.core.evidence import ITEMS_FILE
from polyrlaif.core.io import InputError, atomic_write_jsonl
from polyrlaif.core.log import get_logger
from polyrlaif.core.protocols import Direction, EvalRequest, Policy
from polyrlaif.domains.video_lmm.prompts import (
    CONSISTENCY_PROMPT,
    CONTEXT_PROMPT,
    CORRECTNESS_PROMPT,
    DETAIL_PROMPT,
    TEMPORAL_PROMPT,
    JudgePrompt,
)
from polyrlaif.domains.video_lmm.qa_files import (
    SKIPPED_FILE,
    TASKS,
    VideoChatGPTItem,
    load_videochatgpt,
    playable,
    read_videochatgpt_predictions,
    unique_items,
)
from polyrlaif.domains.video_lmm.qa_judge import (
    JudgeOptions,
    answer_videos,
    build_judges,
    check_request,
    judge_counts,
)

# The evaluator's own names, then those re-exported from prompts and qa_files, where they used to live.
__all__ = [
    "DIMENSIONS",
    "VideoChatGPTEvaluator",
    "VideoChatGPTOptions",
    "CONSISTENCY_PROMPT",
    "TASKS",
    "load_videochatgpt",
]

log = get_logger(__name__)

#: Aspect -> (the task whose questions it judges, its prompt), in Video-ChatGPT's order.
DIMENSIONS: dict[str, tuple[str, JudgePrompt]] = {
    "correctness": ("generic", CORRECTNESS_PROMPT),
    "detail_orientation": ("generic", DETAIL_PROMPT),
    "contextual_understanding": ("generic", CONTEXT_PROMPT),
    "temporal_understanding": ("temporal", TEMPORAL_PROMPT),
    "consistency": ("consistency", CONSISTENCY_PROMPT),
}


def _first(items: Sequence[VideoChatGPTItem], limit: int | None) -> list[VideoChatGPTItem]:
    """The first ``limit`` items of each task, in file order."""
    if not limit:
        return list(items)
    counts: dict[str, int] = {}
    out = []
    for it in items:
        counts[it.task] = counts.get(it.task, 0) + 1
        if counts[it.task] <= limit:
            out.append(it)
    return out


@dataclass
class VideoChatGPTOptions(JudgeOptions):
    """Options of :class:`VideoChatGPTEvaluator`, besides the judge's
    (:class:`~polyrlaif.domains.video_lmm.qa_judge.JudgeOptions`; a judge is required).

    Attributes:
        annotations: Video-ChatGPT's folder of ground-truth files, or one file (module docstring).
        predictions: score these answers (a file, or a folder of Video-ChatGPT's prediction files).
        videos: the folder of the videos, to generate answers.
        temporal: Video-ChatGPT's ``temporal_qa.json``, when not in the annotations.
        consistency: Video-ChatGPT's ``consistency_qa.json``, when not in the annotations.
    """

    annotations: str | None = None
    predictions: str | None = None
    videos: str | None = None
    temporal: str | None = None
    consistency: str | None = None


class VideoChatGPTEvaluator:
    """Video-ChatGPT's five aspects, each the mean 0-5 judge score over its task's questions (module
    docstring). Options: :class:`VideoChatGPTOptions`.

    Writes ``items.jsonl`` (per question: ``id``, ``task``, the score of each aspect judged on it, ``None``
    where the judge failed, and ``failures`` by aspect), ``rows.jsonl`` (the same with the video, questions,
    answer and predictions), ``skipped.jsonl``, ``metrics.json`` and ``metrics.md``; with a policy also
    ``generations.jsonl``. Metrics: the five aspects (an aspect whose task has no scored question is left
    out), ``average`` (of the five, when all are there), ``n_<task>`` (questions), ``skipped``,
    ``judged_by``, ``judge_failures``, ``judge_failures/<reason>``, ``judge_answers``,
    ``judge_unparseable`` and ``judge_unparseable_rate``.
    """

    name: ClassVar[str] = "videochatgpt"
    Options: ClassVar[type] = VideoChatGPTOptions
    metrics: ClassVar[Mapping[str, Direction]] = {d: "higher" for d in DIMENSIONS}
    max_new_tokens: ClassVar[int] = 256

    def _predicted(self, opts: VideoChatGPTOptions, limit: int | None) -> list[VideoChatGPTItem]:
        """The predictions, joined to the annotations by task and id when those are given."""
        own = not (opts.annotations or opts.temporal or opts.consistency)  # self-contained rows
        preds = read_videochatgpt_predictions(opts.predictions, full=own)  # type: ignore[arg-type]
        if own:
            return _first(unique_items(preds), limit)
        if not opts.annotations:
            raise ValueError(f"{self.name}: --opt temporal/consistency go with --annotations")
        items = load_videochatgpt(
            opts.annotations, temporal=opts.temporal, consistency=opts.consistency, need_video=False
        )
        known = {it.id for it in items}
        got = {}
        for p in preds:
            if p.id not in known:
                raise InputError(f"{p.where}: {p.id!r} is not a question of the annotations")
            got[p.id] = p.predictions
        items = _first(items, limit)
        missing = [it.id for it in items if it.id not in got]
        if missing:
            shown = ", ".join(missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
            raise InputError(f"{opts.predictions}: no prediction for {shown}")
        return [replace(it, predictions=got[it.id]) for it in items]

    def _generated(
        self, policy: Policy, opts: VideoChatGPTOptions, request: EvalRequest
    ) -> tuple[list[VideoChatGPTItem], list[dict[str, Any]]]:
        """Ask the policy every question whose video plays; the skipped questions with their reasons."""
        if not opts.annotations:
            raise ValueError(f"{self.name}: generating answers needs the questions: --annotations")
        items = _first(
            load_videochatgpt(opts.annotations, temporal=opts.temporal, consistency=opts.consistency),
            request.limit,
        )
        files, skipped = playable(items, opts.videos, self.name)
        asks = [
            (f"{it.id}#{j + 1}", files[it.id], q)
            for it in items
            if it.id in files
            for j, q in enumerate(it.questions)
        ]
        got = answer_videos(
            policy, asks, Path(request.output_dir) / "generations.jsonl",
            max_new_tokens=resolve_max_new_tokens(self, request.max_new_tokens),
            temperature=request.temperature, seed=request.seed, batch_size=request.batch_size,
        )  # fmt: skip
        answered = [
            replace(it, predictions=tuple(got[f"{it.id}#{j + 1}"][0] for j in range(len(it.questions))))
            for it in items
            if it.id in files
        ]
        return answered, skipped

    def evaluate(self, policy: Policy | None, request: EvalRequest) -> dict[str, Any]:
        """Read or generate the answers, judge each aspect and write the results under ``output_dir``.

        Raises:
            ValueError: no judge; both or neither of a policy and predictions; ``samples != 1``.
            InputError: a bad annotations or predictions file (file, line or index, field), before any
                judge or generation starts.
        """
        from polyrlaif.evaluation.tables import write_metrics

        opts: VideoChatGPTOptions = resolve_options(self, request.options)
        out = Path(request.output_dir)
        check_request(self.name, policy, opts, request)
        if opts.judge_backend == "none":
            raise ValueError(
                f"{self.name} is scored by a judge model: --opt judge_backend=openai --opt judge_model=M "
                "--opt judge_base_url=URL (Video-ChatGPT used gpt-3.5-turbo), or judge_backend=transformers"
            )
        skipped: list[dict[str, Any]] = []
        if policy is None:
            items = self._predicted(opts, request.limit)
        else:
            items, skipped = self._generated(policy, opts, request)
        judges = build_judges(opts, [prompt for _, prompt in DIMENSIONS.values()], out) or []
        rows = {it.id: {"id": it.id, "task": it.task, "failures": {}} for it in items}
        for (dim, (task, _)), judge in zip(DIMENSIONS.items(), judges, strict=True):
            asked = [it for it in items if it.task == task]
            for it, reply in zip(asked, judge.grade([it.judge_fields() for it in asked]), strict=True):
                rows[it.id][dim] = reply.score
                if reply.failure:
                    rows[it.id]["failures"][dim] = reply.failure
        per_item = list(rows.values())
        metrics: dict[str, Any] = dict(self.aggregate(per_item))
        metrics.update({f"n_{t}": float(sum(it.task == t for it in items)) for t in TASKS})
        metrics.update(skipped=float(len(skipped)), judged_by=judges[0].backend.name, **judge_counts(judges))
        details = [
            {**r, "video": it.video, "questions": list(it.questions), "answer": it.answer,
             "predictions": list(it.predictions)}
            for it, r in zip(items, per_item, strict=True)
        ]  # fmt: skip
        atomic_write_jsonl(out / "rows.jsonl", details)
        atomic_write_jsonl(out / ITEMS_FILE, per_item)
        atomic_write_jsonl(out / SKIPPED_FILE, skipped)
        write_metrics(out, metrics)
        self._report(metrics, out)
        return metrics

    def _report(self, metrics: Mapping[str, Any], out: Path) -> None:
        for dim, (task, _) in DIMENSIONS.items():
            if dim not in metrics:
                log.warning(f"no scored {task} question: {dim} is not reported")
        if metrics["skipped"]:
            log.warning(f"{metrics['skipped']:.0f} question(s) skipped; reasons in {out / SKIPPED_FILE}")
        if metrics["judge_failures"]:
            reasons = {
                k.split("/", 1)[1]: int(v) for k, v in metrics.items() if k.startswith("judge_failures/")
            }
            log.warning(
                f"{metrics['judge_failures']:.0f} judgment(s) failed {reasons}; each is left "
                f"out of its aspect's mean (details in {out / 'rows.jsonl'})"
            )
        shown = " ".join(f"{d}={metrics[d]:.3g}" for d in DIMENSIONS if d in metrics)
        log.info(f"{shown} (judge {metrics['judged_by']})")

    @staticmethod
    def aggregate(rows: Sequence[Mapping[str, Any]]) -> dict[str, float]:
        """Each aspect's mean over the rows that have its score (a failed judgment has none); an aspect no
        row scores is left out; ``average`` of the five when all are there; ``n_items``."""
        if not rows:
            return {}
        out: dict[str, float] = {}
        for dim in DIMENSIONS:
            scores = [float(r[dim]) for r in rows if r.get(dim) is not None]
            if scores:
                out[dim] = sum(scores) / len(scores)
        if len(out) == len(DIMENSIONS):
            out["average"] = math.fsum(out.values()) / len(DIMENSIONS)
        out["n_items"] = float(len(rows))
        return out
