"""Annotation and prediction files of the video_lmm benchmarks, and the videos they name.

Row formats: :mod:`~polyrlaif.domains.video_lmm.videoqa` and :mod:`~polyrlaif.domains.video_lmm.videochatgpt`.
A missing field is an :class:`~polyrlaif.core.io.InputError` naming the file, line or index, and field;
a video is found by the names the benchmarks use (:func:`resolve_video`) and checked to decode
(:func:`playable`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from polyrlaif.core.io import InputError, iter_jsonl, read_json
from polyrlaif.core.log import get_logger
from polyrlaif.evaluation.items import unique_ids

__all__ = [
    "ANSWER",
    "GT_FILES",
    "ID",
    "PREDICTION",
    "QUESTION",
    "SKIPPED_FILE",
    "TASKS",
    "VIDEO",
    "VIDEO_SUFFIXES",
    "Row",
    "VideoChatGPTItem",
    "VideoQAItem",
    "check_video",
    "field",
    "load_videochatgpt",
    "load_videoqa",
    "playable",
    "read_rows",
    "read_videochatgpt_predictions",
    "resolve_video",
    "row_keys",
    "unique_items",
    "video_conversation",
]

log = get_logger(__name__)

SKIPPED_FILE = "skipped.jsonl"
#: The containers Video-ChatGPT's inference scripts look for, in order, plus WebM.
VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".webm")

# Field names by format: ours first, then MSVD/MSRVTT-QA, ActivityNet-QA and Video-ChatGPT's.
QUESTION, ANSWER, PREDICTION = ("question", "Q"), ("answer", "A", "answers"), ("prediction", "pred")
VIDEO, ID = ("video", "video_name", "video_id", "video_path"), ("id", "question_id")

Row = tuple[str, dict[str, Any]]  # (where it is: "file:line" or "file: index i", the row)

#: Video-ChatGPT's three question sets (the ``videochatgpt`` benchmark).
TASKS = ("generic", "temporal", "consistency")
#: Video-ChatGPT's ground-truth file of each task, as a folder given to ``--annotations`` holds them.
GT_FILES = {
    "generic": "generic_qa.json",
    "temporal": "temporal_qa.json",
    "consistency": "consistency_qa.json",
}
Q1, Q2, P1, P2 = ("question1", "Q1"), ("question2", "Q2"), ("prediction1", "pred1"), ("prediction2", "pred2")


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
    """Read a video QA annotation file (any format of :mod:`~polyrlaif.domains.video_lmm.videoqa`).

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


def unique_items(items: Sequence[VideoChatGPTItem]) -> list[VideoChatGPTItem]:
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
    """The benchmark's questions, from Video-ChatGPT's files or ours
    (:mod:`~polyrlaif.domains.video_lmm.videochatgpt`).

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
    return unique_items(
        [
            it
            for f, task in files
            for it in _items(read_rows(f), task, full=True, preds=False, video=need_video)
        ]
    )


def read_videochatgpt_predictions(path: str | Path, *, full: bool) -> list[VideoChatGPTItem]:
    """The prediction rows of a file or of a folder's ``.json``/``.jsonl`` files (a name may say the task:
    ``temporal_pred.json``) as items, with questions and answer when ``full`` (self-contained rows).

    Raises:
        InputError: an empty folder, or a missing field (file, line or index, and field).
    """
    return [
        it for f in _files(path) for it in _items(read_rows(f), _hint(f), full=full, preds=True, video=False)
    ]
