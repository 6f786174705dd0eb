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
``--model M --videos DIR`` the policy answers each question first (:func:`~.videoqa.answer_videos`); a
question whose video is missing or unreadable is skipped with its reason in ``skipped.jsonl``.

A judge is required (``--opt judge_backend=openai --opt judge_model=M --opt judge_base_url=URL``, or
``transformers``). An answer it does not give as ``{'score': n}`` with n in 0-5 is a failure with its
reason, counted in ``judge_failures`` and left out of that aspect's mean. ``--limit N``: the first N
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
from polyrlaif.domains.video_lmm.videoqa import (
    ANSWER,
    PREDICTION,
    QUESTION,
    SKIPPED_FILE,
    VIDEO,
    JudgeOptions,
    JudgePrompt,
    Row,
    answer_videos,
    build_judges,
    check_request,
    field,
    judge_counts,
    playable,
    read_rows,
    row_keys,
)
from polyrlaif.evaluation.items import unique_ids

__all__ = [
    "CONSISTENCY_PROMPT",
    "CONTEXT_PROMPT",
    "CORRECTNESS_PROMPT",
    "DETAIL_PROMPT",
    "DIMENSIONS",
    "GT_FILES",
    "TASKS",
    "TEMPORAL_PROMPT",
    "VideoChatGPTEvaluator",
    "VideoChatGPTItem",
    "VideoChatGPTOptions",
    "load_videochatgpt",
]

log = get_logger(__name__)

TASKS = ("generic", "temporal", "consistency")
#: Video-ChatGPT's ground-truth file of each task, as a folder given to ``--annotations`` holds them.
GT_FILES = {
    "generic": "generic_qa.json",
    "temporal": "temporal_qa.json",
    "consistency": "consistency_qa.json",
}
Q1, Q2, P1, P2 = ("question1", "Q1"), ("question2", "Q2"), ("prediction1", "pred1"), ("prediction2", "pred2")

_ASK = (
    "Please evaluate the following video-based question-answer pair:\n\n"
    "Question: {question}\n"
    "Correct Answer: {answer}\n"
    "Predicted Answer: {prediction}\n\n"
)
_ASK_PAIR = (
    "Please evaluate the following video-based question-answer pair:\n\n"
    "Question 1: {question1}\n"
    "Question 2: {question2}\n"
    "Correct Answer: {answer}\n"
    "Predicted Answer to Question 1: {prediction1}\n"
    "Predicted Answer to Question 2: {prediction2}\n\n"
)


def _score_request(kind: str, highest: str, value: str) -> str:
    """The closing request the five scripts share, word for word (the ``{''score': 4.8}`` typo too)."""
    return (
        f"Provide your evaluation only as a {kind} score where the {kind} score is an integer value between "
        f"0 and 5, with 5 indicating the highest level of {highest}. "
        "Please generate the response in the form of a Python dictionary string with keys 'score', where "
        f"its value is {value} in INTEGER, not STRING."
        "DO NOT PROVIDE ANY OTHER OUTPUT TEXT OR EXPLANATION. Only provide the Python dictionary string. "
        "For example, your response should look like this: {{''score': 4.8}}."
    )


def _system(evaluating: str, task: str, instructions: Sequence[str]) -> str:
    """A system turn as the scripts build it: no space before ``------``, one ``\\n`` per instruction."""
    return (
        f"You are an intelligent chatbot designed for evaluating {evaluating}. {task} Here's how you can "
        "accomplish the task:------##INSTRUCTIONS: " + "\n".join(f"- {line}" for line in instructions)
    )


_SYNONYMS = "Consider synonyms or paraphrases as valid matches."
_QA = "generative outputs for video-based question-answer pairs"

#: ``evaluate_benchmark_1_correctness.py``.
CORRECTNESS_PROMPT = JudgePrompt(
    "correctness",
    _system(
        f"the factual accuracy of {_QA}",
        "Your task is to compare the predicted answer with the correct answer and determine if they are "
        "factually consistent.",
        [
            "Focus on the factual consistency between the predicted answer and the correct answer. The "
            "predicted answer should not contain any misinterpretations or misinformation.",
            "The predicted answer must be factually accurate and align with the video content.",
            _SYNONYMS,
            "Evaluate the factual accuracy of the prediction compared to the answer.",
        ],
    ),
    _ASK + _score_request("factual accuracy", "factual consistency", "the factual accuracy score"),
)
#: ``evaluate_benchmark_2_detailed_orientation.py``.
DETAIL_PROMPT = JudgePrompt(
    "detail_orientation",
    _system(
        f"the detail orientation of {_QA}",
        "Your task is to compare the predicted answer with the correct answer and determine its level of "
        "detail, considering both completeness and specificity.",
        [
            "Check if the predicted answer covers all major points from the video. The response should not "
            "leave out any key aspects.",
            "Evaluate whether the predicted answer includes specific details rather than just generic "
            "points. It should provide comprehensive information that is tied to specific elements of the "
            "video.",
            _SYNONYMS,
            "Provide a single evaluation score that reflects the level of detail orientation of the "
            "prediction, considering both completeness and specificity.",
        ],
    ),
    _ASK + _score_request("detail orientation", "detail orientation", "the detail orientation score"),
)
#: ``evaluate_benchmark_3_context.py``.
CONTEXT_PROMPT = JudgePrompt(
    "contextual_understanding",
    _system(
        f"the contextual understanding of {_QA}",
        "Your task is to compare the predicted answer with the correct answer and determine if the generated "
        "response aligns with the overall context of the video content.",
        [
            "Evaluate whether the predicted answer aligns with the overall context of the video content. It "
            "should not provide information that is out of context or misaligned.",
            "The predicted answer must capture the main themes and sentiments of the video.",
            _SYNONYMS,
            "Provide your evaluation of the contextual understanding of the prediction compared to the "
            "answer.",
        ],
    ),
    _ASK
    + _score_request(
        "contextual understanding", "contextual understanding", "contextual understanding score"
    ),
)
#: ``evaluate_benchmark_4_temporal.py``.
TEMPORAL_PROMPT = JudgePrompt(
    "temporal_understanding",
    _system(
        f"the temporal understanding of {_QA}",
        "Your task is to compare the predicted answer with the correct answer and determine if they "
        "correctly reflect the temporal sequence of events in the video content.",
        [
            "Focus on the temporal consistency between the predicted answer and the correct answer. The "
            "predicted answer should correctly reflect the sequence of events or details as they are "
            "presented in the video content.",
            "Consider synonyms or paraphrases as valid matches, but only if the temporal order is "
            "maintained.",
            "Evaluate the temporal accuracy of the prediction compared to the answer.",
        ],
    ),
    _ASK + _score_request("temporal accuracy", "temporal consistency", "the temporal accuracy score"),
)
#: ``evaluate_benchmark_5_consistency.py`` (its fixed version, which shows Q2 as Question 2).
CONSISTENCY_PROMPT = JudgePrompt(
    "consistency",
    _system(
        "the consistency of generative outputs for similar video-based question-answer pairs",
        "You will be given two very similar questions, a common answer common to both the questions and "
        "predicted answers for the two questions .Your task is to compare the predicted answers for two very "
        "similar question, with a common correct answer and determine if they are consistent.",
        [
            "Focus on the consistency between the two predicted answers and the correct answer. Both "
            "predicted answers should correspond to the correct answer and to each other, and should not "
            "contain any contradictions or significant differences in the conveyed information.",
            "Both predicted answers must be consistent with each other and the correct answer, in terms of "
            "the information they provide about the video content.",
            "Consider synonyms or paraphrases as valid matches, but only if they maintain the consistency in "
            "the conveyed information.",
            "Evaluate the consistency of the two predicted answers compared to the correct answer.",
        ],
    ),
    _ASK_PAIR + _score_request("consistency", "consistency", "the consistency score"),
)
#: Aspect -> (the task whose questions it judges, its prompt), in Video-ChatGPT's order.
DIMENSIONS: dict[str, tuple[str, JudgePrompt]] = {
    "correctness": ("generic", CORRECTNESS_PROMPT),
    "detail_orientation": ("generic", DETAIL_PROMPT),
    "contextual_understanding": ("generic", CONTEXT_PROMPT),
    "temporal_understanding": ("temporal", TEMPORAL_PROMPT),
    "consistency": ("consistency", CONSISTENCY_PROMPT),
}


@dataclass(frozen=True)
class VideoChatGPTItem:
    """One benchmark question (two for a consistency pair).

    Attributes:
        id: ``<task>/<row id>``, unique and stable.
        task: ``generic``, ``temporal`` or ``consistency``.
        video: the video reference as the file gives it.
        questions: the question, or the pair's two.
        answer: the reference answer.
        predictions: the answers, one per question, once known.
        where: the file and line or index it came from (for messages).
    """

    id: str
    task: str
    video: str
    questions: tuple[str, ...]
    answer: str
    predictions: tuple[str, ...] = ()
    where: str = ""

    def judge_fields(self) -> dict[str, str]:
        """The judge template's fields for this item."""
        if self.task == "consistency":
            q1, q2 = self.questions
            p1, p2 = self.predictions
            return {
                "question1": q1,
                "question2": q2,
                "answer": self.answer,
                "prediction1": p1,
                "prediction2": p2,
            }
        return {"question": self.questions[0], "answer": self.answer, "prediction": self.predictions[0]}


def _task(row: Mapping[str, Any], where: str, default: str) -> str:
    task = row.get("task")
    if task is None:
        pair = any(field(row, names, where, required=False) is not None for names in (Q1, P1))
        task = "consistency" if pair else default
    if task not in TASKS:
        raise InputError(f"{where}: field 'task' is {task!r}; valid: {', '.join(TASKS)}")
    return str(task)


def _items(
    rows: Sequence[Row], default: str, *, full: bool, preds: bool, video: bool
) -> list[VideoChatGPTItem]:
    """Rows as items: questions and answer when ``full``, predictions when ``preds``, the video when
    ``video``; a missing one is an :class:`InputError` naming file, line or index, and field."""
    tasks = [_task(r, w, default) for w, r in rows]
    keys = [""] * len(rows)
    for t in TASKS:  # Video-ChatGPT counts <video>_<k> within each task's file
        idx = [i for i, task in enumerate(tasks) if task == t]
        for i, key in zip(idx, row_keys([rows[i][1] for i in idx]), strict=True):
            keys[i] = f"{t}/{key}"
    out = []
    for (where, row), task, key in zip(rows, tasks, keys, strict=True):
        pair = task == "consistency"
        qnames, pnames = ((Q1, Q2), (P1, P2)) if pair else ((QUESTION,), (PREDICTION,))
        questions = tuple(str(field(row, n, where)) for n in qnames) if full else ()
        answer = field(row, ANSWER, where, required=full)
        predictions = tuple(str(field(row, n, where)) for n in pnames) if preds else ()
        vid = field(row, VIDEO, where, required=video)
        answer = (answer[0] if answer else "") if isinstance(answer, list) else answer
        text = "" if answer is None else str(answer)
        out.append(VideoChatGPTItem(key, task, str(vid or ""), questions, text, predictions, where))
    return out


def _files(path: str | Path) -> list[Path]:
    """A file, or the ``.json``/``.jsonl`` files of a folder."""
    p = Path(path)
    if not p.is_dir():
        return [p]
    found = sorted(f for f in p.iterdir() if f.suffix in (".json", ".jsonl"))
    if not found:
        raise InputError(f"{p}: no .json or .jsonl file in the folder")
    return found


def _unique(items: Sequence[VideoChatGPTItem]) -> list[VideoChatGPTItem]:
    """The items with unique ids: an id met again (the same task from two files) gets ``#2``..."""
    ids = unique_ids(it.id for it in items)
    return [replace(it, id=i) for it, i in zip(items, ids, strict=True)]


def _hint(path: Path, default: str = "generic") -> str:
    """The task a file's name says (``temporal_qa.json``, ``consistency_pred.json``), else ``default``."""
    name = path.name.lower()
    return "consistency" if "consistency" in name else "temporal" if "temporal" in name else default


def load_videochatgpt(
    annotations: str | Path,
    *,
    temporal: str | None = None,
    consistency: str | None = None,
    need_video: bool = True,
) -> list[VideoChatGPTItem]:
    """The benchmark's questions, from Video-ChatGPT's files or ours (see the module docstring).

    Raises:
        InputError: a missing file or field (named with its file and line or index), or a bad ``task``.
    """
    root = Path(annotations)
    if root.is_dir():  # Video-ChatGPT's release: whichever of its three files the folder holds
        files = [(root / name, task) for task, name in GT_FILES.items() if (root / name).is_file()]
        if not files:
            raise InputError(f"{root}: none of {', '.join(GT_FILES.values())} in the folder")
    else:
        files = [(root, _hint(root))]
    files += [(Path(p), task) for p, task in ((temporal, "temporal"), (consistency, "consistency")) if p]
    return _unique(
        [
            it
            for f, task in files
            for it in _items(read_rows(f), task, full=True, preds=False, video=need_video)
        ]
    )


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
    (:class:`~polyrlaif.domains.video_lmm.videoqa.JudgeOptions`; a judge is required).

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
    ``judged_by``, ``judge_failures`` and ``judge_failures/<reason>``.
    """

    name: ClassVar[str] = "videochatgpt"
    Options: ClassVar[type] = VideoChatGPTOptions
    metrics: ClassVar[Mapping[str, Direction]] = {d: "higher" for d in DIMENSIONS}
    max_new_tokens: ClassVar[int] = 256

    def _predicted(self, opts: VideoChatGPTOptions, limit: int | None) -> list[VideoChatGPTItem]:
        """The predictions, joined to the annotations by task and id when those are given."""
        own = not (opts.annotations or opts.temporal or opts.consistency)  # self-contained rows
        preds = [
            it
            for f in _files(opts.predictions)  # type: ignore[arg-type]
            for it in _items(read_rows(f), _hint(f), full=own, preds=True, video=False)
        ]
        if own:
            return _first(_unique(preds), limit)
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
            replace(it, predictions=tuple(got[f"{it.id}#{j + 1}"] for j in range(len(it.questions))))
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
