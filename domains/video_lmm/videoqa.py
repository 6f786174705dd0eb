"""Open-ended video QA (MSVD-QA, MSRVTT-QA, ActivityNet-QA) judged the way Video-ChatGPT judges it.

Two ways in:

* ``polyrlaif eval --domain video_lmm --benchmark videoqa --predictions P.jsonl --annotations Q.json``
  scores answers already made.
* ``polyrlaif eval --domain video_lmm --benchmark videoqa --model M --videos DIR --annotations Q.json``
  asks the policy first: each ``(video, question)`` is answered once, greedily by default, through
  :func:`answer_videos` (resumable ``generations.jsonl``). A question whose video is missing or cannot be
  decoded is skipped with its reason in ``skipped.jsonl`` and counted.

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
of ``quantitative_evaluation/evaluate_activitynet_qa.py``, verbatim) and answers a dict ``{'pred':
'yes'|'no', 'score': 0-5}`` (:func:`parse_judge_reply`); an answer it does not give in that form is a
failure with its reason, counted in ``judge_failures`` and left out of both means. Without a judge
(``judge_backend=none``, the default), ``accuracy`` is the normalised exact match against the answer
(:func:`polyrlaif.evaluation.qa.normalize_answer`), there is no ``score``, and the metrics say
``judged_by: exact_match``.
"""

from __future__ import annotations

import ast
import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Literal, get_args

from polyrlaif.core.benchmarks import resolve_max_new_tokens, resolve_options
from polyrlaif.core.evidence import ITEMS_FILE
from polyrlaif.core.io import InputError, StageWriter, atomic_write_jsonl, iter_jsonl, read_json
from polyrlaif.core.judges.backends import JudgeBackend
from polyrlaif.core.judges.cache import JudgeCache
from polyrlaif.core.judges.modes import BaseJudge, snippet
from polyrlaif.core.log import get_logger
from polyrlaif.core.protocols import Direction, EvalRequest, Policy
from polyrlaif.evaluation.items import unique_ids

__all__ = [
    "ANSWER",
    "ID",
    "PREDICTION",
    "QA_PROMPT",
    "QUESTION",
    "SKIPPED_FILE",
    "VIDEO",
    "VIDEO_SUFFIXES",
    "JudgeOptions",
    "JudgePrompt",
    "JudgeReply",
    "Row",
    "VideoChatGPTJudge",
    "VideoQAEvaluator",
    "VideoQAItem",
    "VideoQAOptions",
    "answer_videos",
    "build_judges",
    "check_request",
    "check_video",
    "field",
    "judge_counts",
    "load_videoqa",
    "parse_judge_reply",
    "playable",
    "read_rows",
    "resolve_video",
    "row_keys",
    "video_conversation",
]

log = get_logger(__name__)

SKIPPED_FILE = "skipped.jsonl"
#: The containers Video-ChatGPT's inference scripts look for, in order, plus WebM.
VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".webm")
JudgeBackendName = Literal["none", "openai", "transformers"]

# Field names by format: ours first, then MSVD/MSRVTT-QA, ActivityNet-QA and Video-ChatGPT's.
QUESTION, ANSWER, PREDICTION = ("question", "Q"), ("answer", "A", "answers"), ("prediction", "pred")
VIDEO, ID = ("video", "video_name", "video_id", "video_path"), ("id", "question_id")

Row = tuple[str, dict[str, Any]]  # (where it is: "file:line" or "file: index i", the row)


def video_conversation(video_path: str | Path, question: str) -> list[dict[str, Any]]:
    """The conversation a video policy answers: one user turn, the video part before the question
    (the layout :func:`polyrlaif.core.media.with_images` gives images)."""
    parts = [{"type": "video", "path": str(video_path)}, {"type": "text", "text": question}]
    return [{"role": "user", "content": parts}]


def read_rows(path: str | Path) -> list[Row]:
    """The rows of a JSONL file, a JSON list, or a JSON object of rows (its keys become missing ids).

    Raises:
        InputError: a missing or malformed file, or an entry that is not an object (named by line/index).
    """
    p = Path(path)
    if p.suffix == ".jsonl":
        return [(f"{p}:{n}", row) for n, row in iter_jsonl(p)]
    data = read_json(p)
    if isinstance(data, dict):
        pairs: list[tuple[str, Any]] = [(f"{p}: item {k!r}", v) for k, v in data.items()]
        keys = list(data)
    elif isinstance(data, list):
        pairs, keys = [(f"{p}: index {i}", v) for i, v in enumerate(data)], []
    else:
        raise InputError(f"{p}: expected a JSON list of rows, got {type(data).__name__}")
    for where, row in pairs:
        if not isinstance(row, dict):
            raise InputError(f"{where}: expected a JSON object, got {type(row).__name__}")
    if keys:
        return [(w, {"id": k, **r}) for (w, r), k in zip(pairs, keys, strict=True)]
    return pairs


def field(row: Mapping[str, Any], names: Sequence[str], where: str, *, required: bool = True) -> Any:
    """The value of the first of ``names`` the row has (``None`` counts as absent).

    Raises:
        InputError: none is there and ``required``; names the place and the field.
    """
    for name in names:
        if row.get(name) is not None:
            return row[name]
    if required:
        alt = f" (or {', '.join(map(repr, names[1:]))})" if len(names) > 1 else ""
        raise InputError(f"{where}: missing field {names[0]!r}{alt}")
    return None


def row_keys(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    """Each row's id: its ``id``/``question_id``, else ``<video>_<k>`` as Video-ChatGPT keys its files,
    else its position; repeats suffixed ``#2``... (:func:`~polyrlaif.evaluation.items.unique_ids`)."""
    per_video: dict[str, int] = {}
    keys = []
    for i, row in enumerate(rows):
        explicit, video = field(row, ID, "", required=False), field(row, VIDEO, "", required=False)
        if explicit is not None:
            keys.append(str(explicit))
        elif video is not None:
            k = per_video[str(video)] = per_video.get(str(video), -1) + 1
            keys.append(f"{video}_{k}")
        else:
            keys.append(str(i))
    return unique_ids(keys)


@dataclass(frozen=True)
class VideoQAItem:
    """One question: its stable ``id``, video reference, question, gold answer and, once known, the
    prediction."""

    id: str
    video: str
    question: str
    answer: str
    prediction: str | None = None


def _answers_file(path: Path, answers: str | None, rows: Sequence[Row]) -> Path | None:
    if answers:
        return Path(answers)
    sibling = path.with_name(path.name.removesuffix("_q.json") + "_a.json")
    needs = any(field(r, ANSWER, w, required=False) is None for w, r in rows)
    return sibling if needs and path.name.endswith("_q.json") and sibling.is_file() else None


def load_videoqa(
    path: str | Path, *, answers: str | None = None, need_video: bool = True
) -> list[VideoQAItem]:
    """Read a video QA annotation file in any of the module's formats.

    Args:
        path: the annotations.
        answers: ActivityNet-QA's answers file (``{"question_id", "answer"}`` rows) for a questions file
            without answers; default: ``<name>_a.json`` beside a ``<name>_q.json`` that needs it.
        need_video: every row must name its video (false when only predictions are scored).

    Raises:
        InputError: a missing field, naming the file, line or index, and the field.
    """
    path = Path(path)
    rows = read_rows(path)
    extra: dict[str, str] = {}
    if (afile := _answers_file(path, answers, rows)) is not None:
        extra = {str(field(r, ID, w)): str(field(r, ANSWER, w)) for w, r in read_rows(afile)}
        log.info(f"answers of {path} from {afile}")
    items = []
    for (where, row), key in zip(rows, row_keys([r for _, r in rows]), strict=True):
        question = field(row, QUESTION, where)
        video = field(row, VIDEO, where, required=need_video)
        answer = field(row, ANSWER, where, required=not extra)
        if answer is None:
            qid = str(field(row, ID, where))
            if qid not in extra:
                raise InputError(f"{where}: no answer for question_id {qid!r} in {afile}")
            answer = extra[qid]
        if isinstance(answer, list):  # several accepted answers: the first is the reference shown
            answer = answer[0] if answer else ""
        items.append(VideoQAItem(key, "" if video is None else str(video), str(question), str(answer)))
    return items


def resolve_video(video: str, root: str | Path) -> Path | None:
    """The file of ``video`` under ``root``: the name as given, ``<name><suffix>``, MSRVTT's
    ``video<id>``, MSVD's ``vid<id>`` and ActivityNet's ``v_<name>`` (each with the suffixes of
    :data:`VIDEO_SUFFIXES`); ``None`` when none exists."""
    root = Path(root)
    given = root / video
    if given.is_file():
        return given
    for stem in (video, f"video{video}", f"vid{video}", f"v_{video}"):
        for suffix in VIDEO_SUFFIXES:
            if (candidate := root / f"{stem}{suffix}").is_file():
                return candidate
    return None


def check_video(path: str | Path) -> str | None:
    """``None`` when a frame of the video decodes (:func:`polyrlaif.core.media.sample_frames`, the reader
    the domain's policies use), else the reason (``unreadable: ...``)."""
    from polyrlaif.core.media import sample_frames

    try:
        sample_frames(path, 1, num_threads=1)
    except InputError as exc:
        return f"unreadable: {exc}"
    return None


def playable(items: Sequence[Any], videos: str | None, bench: str) -> tuple[dict[str, Path], list[dict]]:
    """Video file by item id for the items whose video exists and decodes, and a skipped row (with its
    reason) for each of the others. Videos shared by several questions are checked once.

    Raises:
        ValueError: no ``videos`` folder.
    """
    if not videos:
        raise ValueError(f"{bench}: generating answers needs the videos: --videos DIR")
    found: dict[str, Path] = {}
    skipped: list[dict[str, Any]] = []
    checked: dict[str, str | None] = {}
    for it in items:
        path = resolve_video(it.video, videos)
        if path is None:
            skipped.append({"id": it.id, "video": it.video, "reason": f"missing: no file for video "
                            f"{it.video!r} under {videos}"})  # fmt: skip
            continue
        if str(path) not in checked:
            checked[str(path)] = check_video(path)
        if reason := checked[str(path)]:
            skipped.append({"id": it.id, "video": it.video, "reason": reason})
        else:
            found[it.id] = path
    return found, skipped


def answer_videos(
    policy: Policy,
    asks: Sequence[tuple[str, Path, str]],
    out_path: Path,
    *,
    max_new_tokens: int,
    temperature: float = 0.0,
    seed: int = 0,
    batch_size: int = 8,
) -> dict[str, str]:
    """Ask ``policy`` each ``(key, video file, question)`` once, in :func:`video_conversation` form;
    resumable through ``out_path`` (a :class:`~polyrlaif.core.io.StageWriter`).

    Raises:
        InputError: ``out_path`` holds answers made with other decoding settings.
    """
    settings = {"policy": policy.model_id, "temperature": temperature, "max_new_tokens": max_new_tokens}
    stage = StageWriter(out_path, key="key")
    if stage.done and not {a[0] for a in asks} <= stage.finished_keys:
        stage.path.replace(stage.partial)  # questions a finished run skipped (a video since fixed): reopen
        stage = StageWriter(out_path, key="key")
    for row in stage.rows():
        if row.get("settings") != settings:
            raise InputError(
                f"{out_path}: answers made with {row.get('settings')}, not {settings}; use another --output"
            )
        break
    if not stage.done:
        from tqdm.auto import tqdm

        todo = [a for a in asks if a[0] not in stage.finished_keys]
        bar = tqdm(total=len(asks), initial=len(asks) - len(todo), desc="answer", unit="question")
        for start in range(0, len(todo), batch_size):
            chunk = todo[start : start + batch_size]
            outs = policy.generate(
                [video_conversation(path, q) for _, path, q in chunk],
                n=1, temperature=temperature, max_new_tokens=max_new_tokens, seed=seed + start,
            )  # fmt: skip
            stage.append(
                [
                    {"key": k, "answer": o[0].strip(), "settings": settings}
                    for (k, _, _), o in zip(chunk, outs, strict=True)
                ]
            )
            bar.update(len(chunk))
        bar.close()
        stage.finish(order=[a[0] for a in asks])
    return {r["key"]: r["answer"] for r in stage.rows()}


@dataclass(frozen=True)
class JudgePrompt:
    """A Video-ChatGPT judge prompt: the system turn and the user template (``str.format`` slots among
    ``question``, ``answer``, ``prediction``, ``question1``, ``question2``, ``prediction1``,
    ``prediction2``). ``with_pred``: the reply carries a yes/no ``pred`` besides the ``score``."""

    name: str
    system: str
    user: str
    with_pred: bool = False


#: Video-ChatGPT's zero-shot QA judge, verbatim (``quantitative_evaluation/evaluate_activitynet_qa.py``,
#: typos included, so that scores stay comparable with published ones).
QA_PROMPT = JudgePrompt(
    name="qa",
    system=(
        "You are an intelligent chatbot designed for evaluating the correctness of generative outputs for "
        "question-answer pairs. "
        "Your task is to compare the predicted answer with the correct answer and determine if they match "
        "meaningfully. Here's how you can accomplish the task:"
        "------"
        "##INSTRUCTIONS: "
        "- Focus on the meaningful match between the predicted answer and the correct answer.\n"
        "- Consider synonyms or paraphrases as valid matches.\n"
        "- Evaluate the correctness of the prediction compared to the answer."
    ),
    user=(
        "Please evaluate the following video-based question-answer pair:\n\n"
        "Question: {question}\n"
        "Correct Answer: {answer}\n"
        "Predicted Answer: {prediction}\n\n"
        "Provide your evaluation only as a yes/no and score where the score is an integer value between 0 "
        "and 5, with 5 indicating the highest meaningful match. "
        "Please generate the response in the form of a Python dictionary string with keys 'pred' and "
        "'score', where value of 'pred' is  a string of 'yes' or 'no' and value of 'score' is in INTEGER, "
        "not STRING."
        "DO NOT PROVIDE ANY OTHER OUTPUT TEXT OR EXPLANATION. Only provide the Python dictionary string. "
        "For example, your response should look like this: {{'pred': 'yes', 'score': 4.8}}."
    ),
    with_pred=True,
)


@dataclass(frozen=True)
class JudgeReply:
    """A judge's verdict: ``pred`` (yes/no, where asked) and the 0-5 ``score``, or why there is none."""

    pred: bool | None
    score: int | None
    failure: str | None = None


def _literal(text: str) -> Any:
    for load in (ast.literal_eval, json.loads):
        try:
            return load(text)
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            continue
    return None


def _found(text: str) -> dict[str, Any]:
    """``pred`` and ``score`` from the first dict literal that has a score, else from ``key: value``."""
    for m in re.finditer(r"\{[^{}]*\}", text):
        obj = _literal(m.group(0))
        if isinstance(obj, dict):
            low = {str(k).strip().lower(): v for k, v in obj.items()}
            if "score" in low:
                return low
    out: dict[str, Any] = {}
    if m := re.search(r"""['"]?\bscore['"]?\s*[:=]\s*['"]?(-?\d+(?:\.\d+)?)""", text, re.IGNORECASE):
        out["score"] = m.group(1)
    if m := re.search(r"""['"]?\bpred['"]?\s*[:=]\s*['"]?\s*([A-Za-z]+)""", text, re.IGNORECASE):
        out["pred"] = m.group(1)
    return out


def parse_judge_reply(text: str | None, *, with_pred: bool) -> JudgeReply:
    """Read Video-ChatGPT's ``{'pred': 'yes', 'score': 4}`` from a judge's answer; never raises.

    The dict may be a Python or JSON literal, sit in a code fence or among other words, or be cut short
    (then ``'score': 4`` is read from the text). As Video-ChatGPT reads them: ``pred`` is yes when it
    contains "yes", else no when it contains "no"; the score is ``int(score)`` (4.8 counts 4).

    Returns:
        The reply; ``failure`` (``"unparseable: ..."`` or ``"out_of_range: ..."``) when there is no
        usable score, or no yes/no where ``with_pred``.
    """
    if not text or not text.strip():
        return JudgeReply(None, None, "unparseable: (empty answer)")
    found = _found(text)
    raw = found.get("score")
    if raw is None:
        return JudgeReply(None, None, f"unparseable: no score in {snippet(text)}")
    try:
        value = float(raw) if not isinstance(raw, bool) else math.nan
    except (TypeError, ValueError):
        value = math.nan
    if math.isnan(value):
        return JudgeReply(None, None, f"unparseable: score {raw!r} is not a number")
    if not 0 <= value <= 5:
        return JudgeReply(None, None, f"out_of_range: score {value:g} not in [0, 5]")
    pred = None
    if with_pred:
        word = found.get("pred")
        word = ("yes" if word else "no") if isinstance(word, bool) else str(word or "").lower()
        pred = True if "yes" in word else False if "no" in word else None
        if pred is None:
            return JudgeReply(None, None, f"unparseable: no yes/no pred in {snippet(text)}")
    return JudgeReply(pred, int(value))


class VideoChatGPTJudge(BaseJudge):
    """A core judge mode for one :class:`JudgePrompt`: system plus user turn, answers cached per
    ``(judge_id, prompt)``, parsed by :func:`parse_judge_reply`, failures counted by reason in ``stats``.

    Args:
        backend: the judge model.
        prompt: which Video-ChatGPT prompt.
        cache: optional answer cache.
        max_new_tokens: room for the dict.
        batch_size: prompts per backend call.
    """

    mode = "video_chatgpt"
    kind = "pointwise"
    required_fields = frozenset({"answer"})
    allowed_fields = frozenset(
        {"question", "answer", "prediction", "question1", "question2", "prediction1", "prediction2"}
    )

    def __init__(
        self,
        backend: JudgeBackend,
        prompt: JudgePrompt,
        *,
        cache: JudgeCache | None = None,
        max_new_tokens: int = 64,
        batch_size: int = 32,
    ) -> None:
        self.prompt, self.max_new_tokens = prompt, max_new_tokens
        super().__init__(backend, template=prompt.user, cache=cache, batch_size=batch_size, progress=False)

    def _spec(self) -> dict[str, Any]:
        return {"system": self.prompt.system, "max_new_tokens": self.max_new_tokens}

    @property
    def judge_id(self) -> str:
        """``video_chatgpt[<prompt name>]:<backend>:<hash of the prompts and settings>``."""
        return super().judge_id.replace("video_chatgpt:", f"video_chatgpt[{self.prompt.name}]:", 1)

    def grade(self, rows: Sequence[Mapping[str, str]]) -> list[JudgeReply]:
        """One reply per row of template fields, in order (greedy judging)."""
        system = {"role": "system", "content": self.prompt.system}

        def call(convs: list[list[dict[str, Any]]]) -> list[dict[str, Any] | str]:
            outs = self.backend.complete(
                [[system, *c] for c in convs], max_new_tokens=self.max_new_tokens, temperature=0.0
            )
            return [{"text": o.text} if o.ok else (o.error or "backend_error: no text") for o in outs]

        replies = []
        for ans in self._ask([self.template.format(**r) for r in rows], call):
            if ans.raw is None:
                reply = JudgeReply(None, None, ans.error or "backend_error: no text")
            else:
                reply = parse_judge_reply(ans.raw.get("text"), with_pred=self.prompt.with_pred)
            if reply.failure:
                self.stats.fail(reply.failure)
            replies.append(reply)
        self.stats.judgments += len(replies)
        return replies


@dataclass
class JudgeOptions:
    """The judge fields every video benchmark takes (``--opt judge_backend=openai`` ...).

    Attributes:
        judge_backend: ``none`` (no judge), ``openai`` or ``transformers``.
        judge_model: the judge model (the server's name for it, or a path for ``transformers``); the
            default is the model Video-ChatGPT's scripts call.
        judge_base_url: the OpenAI-compatible endpoint (its API key, if any, from ``OPENAI_API_KEY``).
        judge_cache: judge cache file (default ``<output_dir>/judge_cache.sqlite``).
        judge_max_new_tokens: room for the judge's dict.
    """

    judge_backend: JudgeBackendName = "none"
    judge_model: str = "gpt-3.5-turbo"
    judge_base_url: str = "http://127.0.0.1:8000/v1"
    judge_cache: str | None = None
    judge_max_new_tokens: int = 64

    def __post_init__(self) -> None:
        if self.judge_backend not in get_args(JudgeBackendName):
            valid = ", ".join(get_args(JudgeBackendName))
            raise ValueError(f"judge_backend must be one of {valid}, got {self.judge_backend!r}")


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


def build_judges(
    opts: JudgeOptions, prompts: Sequence[JudgePrompt], output_dir: Path
) -> list[VideoChatGPTJudge] | None:
    """One judge per prompt on the one backend ``opts`` names, sharing one cache; ``None`` for
    ``judge_backend=none``. Nothing loads and nothing is sent until a judge is asked."""
    if opts.judge_backend == "none":
        return None
    from polyrlaif.core.config import JudgeConfig
    from polyrlaif.core.judges.backends import build_backend

    cfg = JudgeConfig(backend=opts.judge_backend, model=opts.judge_model, base_url=opts.judge_base_url)
    backend = build_backend(cfg)
    cache = JudgeCache(opts.judge_cache or output_dir / "judge_cache.sqlite")
    return [
        VideoChatGPTJudge(backend, p, cache=cache, max_new_tokens=opts.judge_max_new_tokens) for p in prompts
    ]


def judge_counts(judges: Sequence[VideoChatGPTJudge | None]) -> dict[str, float]:
    """``judge_failures`` and ``judge_failures/<reason>`` summed over the judges."""
    out: dict[str, float] = {"judge_failures": 0.0}
    for j in filter(None, judges):
        for reason, n in sorted(j.stats.failures.items()):
            out["judge_failures"] += n
            out[f"judge_failures/{reason}"] = out.get(f"judge_failures/{reason}", 0.0) + n
    return out


def check_request(bench: str, policy: Policy | None, opts: Any, request: EvalRequest) -> None:
    """Refuse a run that cannot be one: both or neither of a policy and predictions, several samples.

    Raises:
        ValueError: naming what to give instead.
    """
    if opts.predictions and policy is not None:
        raise ValueError(f"{bench}: give a model or predictions, not both")
    if not opts.predictions and policy is None:
        raise ValueError(f"{bench} needs --predictions P.jsonl, or --model M --videos DIR --annotations Q")
    if request.samples != 1:
        raise ValueError(f"{bench}: one answer per question; got samples={request.samples}")


def _answer_text(value: Any) -> str:
    if isinstance(value, list):  # several accepted answers: the first is the reference shown
        return str(value[0]) if value else ""
    return str(value)


class VideoQAEvaluator:
    """Open-ended video QA: ``accuracy`` and the mean 0-5 ``score`` of Video-ChatGPT's judge (module
    docstring). Options: :class:`VideoQAOptions`.

    Writes ``items.jsonl`` (per question: ``id``, ``correct`` (bool, ``None`` when the judge failed),
    ``score`` (``None`` without a judge or when it failed), ``failure``), ``rows.jsonl`` (the same with
    question, answer and prediction), ``skipped.jsonl``, ``metrics.json`` and ``metrics.md``; with a policy
    also ``generations.jsonl``. Metrics: ``accuracy``, ``score``, ``n_scored`` (questions with a verdict),
    ``n_questions``, ``skipped``, ``judged_by`` (the judge's id, or ``exact_match``) and, with a judge,
    ``judge_failures`` and ``judge_failures/<reason>``.
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
            ValueError: both or neither of a policy and predictions; ``samples != 1``; no ``videos`` or
                ``annotations`` to generate from.
            InputError: a bad annotations or predictions file (file, line or index, field), before any
                judge or generation starts.
        """
        from polyrlaif.evaluation.tables import write_metrics

        opts: VideoQAOptions = resolve_options(self, request.options)
        out = Path(request.output_dir)
        check_request(self.name, policy, opts, request)
        skipped: list[dict[str, Any]] = []
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
                temperature=request.temperature, seed=request.seed, batch_size=request.batch_size,
            )  # fmt: skip
            items = [
                VideoQAItem(it.id, it.video, it.question, it.answer, got[it.id])
                for it in items
                if it.id in files
            ]
        judge = (build_judges(opts, [QA_PROMPT], out) or [None])[0]
        rows = self._judge(items, judge)
        per_item = [{k: r[k] for k in ("id", "correct", "score", "failure")} for r in rows]
        metrics: dict[str, Any] = {"accuracy": math.nan, **self.aggregate(per_item)}
        metrics.update(n_questions=float(len(items)), skipped=float(len(skipped)))
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
