"""Spoken StoryCloze (sSC) and Topic-StoryCloze (tSC) as a benchmark of the `spoken_lm` domain.

Each story is spoken twice, with its correct and with an incorrect fifth sentence (sSC: StoryCloze's own
negative ending; tSC: an ending drawn from another story). The model scores both whole recordings by the
log-likelihood of their units; a story counts 1 when the correct one scores higher, 0.5 on a tie, 0
otherwise, and ``accuracy`` is the mean over stories (TWIST, Hassid et al. 2023; the slp-rl release,
https://github.com/slp-rl/SpokenStoryCloze).

Two layouts are read:

- the release's folder (``--audio DIR`` alone): ``<story>_correct.wav`` beside ``<story>_incorrect.wav``,
  in ``DIR`` or its subfolders; the story's id is ``<story>`` (with its subfolder). This is how slp-rl's
  own evaluation code finds the pairs (``slp-rl/slamkit`` at ``388b402``,
  ``slamkit/metric/cross_modal_metric.py``); its speech-only loader (``modelling_metric.py``) instead
  sorts the files by their numeric prefix and takes them two by two, the first as the correct one. The
  release archives themselves (Google Drive) could not be opened from here, so this naming is taken from
  that code, not checked against the archives. A folder of the cross-modal variant (``<story>_mutual.wav``
  holding the shared prompt, the endings apart) is refused: here each file must hold the whole story;
- an index (``--annotations index.csv``): a CSV with the header ``id,correct_file,incorrect_file``, file
  paths relative to ``--audio DIR`` (default: the index's folder), for any other naming.

Scores come from the model (``--model M --opt units=UNIT_TOKENIZER_DIR``; the summed and the per-unit
mean log-probability both reported, ``--opt score=sum|mean`` picks the headline) or from a predictions
file in ZeroSpeech's submission format (``--predictions P.txt``: ``name score`` lines, the name being a
file's path relative to the audio folder, or as written in the index, without its extension, e.g.
``12_correct``). Audio that cannot be read is skipped with its reason in ``skipped.jsonl`` and counted;
its story is left out and counted.
"""

from __future__ import annotations

import csv
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, ClassVar, get_args

from polyrlaif.core.benchmarks import resolve_options
from polyrlaif.core.evidence import ITEMS_FILE
from polyrlaif.core.io import InputError, atomic_write_jsonl
from polyrlaif.core.log import get_logger
from polyrlaif.core.protocols import Direction, EvalRequest
from polyrlaif.domains.spoken_lm.zerospeech import (
    AUDIO_SUFFIXES,
    SKIPPED_FILE,
    ScoreKind,
    check_same_files,
    pair_outcome,
    read_submission,
    score_audio,
    write_submission,
)

__all__ = [
    "INDEX_COLUMNS",
    "StoryClozeEvaluator",
    "TopicStoryClozeEvaluator",
    "StoryClozeOptions",
    "StoryPair",
    "load_stories",
    "read_story_index",
    "scan_story_folder",
    "score_stories",
]

log = get_logger(__name__)

#: The columns of a StoryCloze index CSV.
INDEX_COLUMNS = ("id", "correct_file", "incorrect_file")
_SUFFIXES = {"correct": "_correct", "incorrect": "_incorrect", "mutual": "_mutual"}


@dataclass(frozen=True)
class StoryPair:
    """One story's two recordings.

    Attributes:
        id: the story's id, stable across runs.
        correct: the correct recording's name (its path without extension; a predictions file's key).
        incorrect: the incorrect recording's name.
        correct_path: the correct recording's file.
        incorrect_path: the incorrect recording's file.
    """

    id: str
    correct: str
    incorrect: str
    correct_path: Path
    incorrect_path: Path


def _natural_key(text: str) -> list[Any]:
    """``"10_x"`` after ``"9_x"``: digit runs compare as numbers (the release's ids are numbers)."""
    return [(0, int(part), "") if part.isdigit() else (1, 0, part) for part in re.split(r"(\d+)", text)]


def _name(relative: str) -> str:
    path = PurePosixPath(relative.replace("\\", "/"))
    return str(path.with_suffix("")) if path.suffix.lower() in AUDIO_SUFFIXES else str(path)


def read_story_index(path: str | Path, audio_dir: str | Path | None = None) -> list[StoryPair]:
    """The stories of an index CSV (``id,correct_file,incorrect_file``), in file order.

    Args:
        path: the index.
        audio_dir: the folder its file paths are relative to; ``None``: the index's folder.

    Raises:
        InputError: a missing file or column (named), no rows, an empty field or a repeated id (naming
            file and line).
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    root = Path(audio_dir) if audio_dir else path.parent
    with path.open(encoding="utf-8-sig", newline="") as fh:
        reader = csv.DictReader(fh)
        header = [h.strip() for h in reader.fieldnames or []]
        for column in INDEX_COLUMNS:
            if column not in header:
                raise InputError(
                    f"{path}: column {column!r} missing; a StoryCloze index has the columns "
                    f"{','.join(INDEX_COLUMNS)} (found {','.join(header) or 'nothing'})"
                )
        reader.fieldnames = header
        stories, lines = [], {}
        for line, row in enumerate(reader, start=2):
            values = {k: (row.get(k) or "").strip() for k in INDEX_COLUMNS}
            for column, value in values.items():
                if not value:
                    raise InputError(f"{path}:{line}: column {column!r} is empty")
            if values["id"] in lines:
                raise InputError(f"{path}:{line}: id {values['id']!r} repeats line {lines[values['id']]}")
            lines[values["id"]] = line
            stories.append(
                StoryPair(
                    id=values["id"],
                    correct=_name(values["correct_file"]),
                    incorrect=_name(values["incorrect_file"]),
                    correct_path=root / values["correct_file"],
                    incorrect_path=root / values["incorrect_file"],
                )
            )
    if not stories:
        raise InputError(f"{path}: header only, no stories")
    return stories


def scan_story_folder(audio_dir: str | Path) -> list[StoryPair]:
    """The stories of a release folder: each ``<story>_correct.wav`` with its ``<story>_incorrect.wav``.

    Files are looked for in ``audio_dir`` and its subfolders; stories come in natural order of their id
    (``2`` before ``10``).

    Raises:
        InputError: no such folder, no stories, a recording without its partner (named), or a cross-modal
            folder (``_mutual`` prompts).
    """
    root = Path(audio_dir)
    if not root.is_dir():
        raise InputError(f"{root}: no such folder (--audio)")
    found: dict[str, dict[str, Path]] = {}
    for path in root.rglob("*"):
        if path.suffix.lower() not in AUDIO_SUFFIXES or not path.is_file():
            continue
        rel = str(PurePosixPath(path.relative_to(root).as_posix()).with_suffix(""))
        for role, suffix in _SUFFIXES.items():
            if rel.endswith(suffix):
                found.setdefault(rel[: -len(suffix)], {})[role] = path
    mutual = sorted(base for base, files in found.items() if "mutual" in files)
    if mutual:
        raise InputError(
            f"{root}: holds cross-modal prompts ({mutual[0]}_mutual...): this benchmark scores recordings of "
            "whole stories, <story>_correct.wav and <story>_incorrect.wav"
        )
    if not found:
        raise InputError(
            f"{root}: no <story>_correct.wav / <story>_incorrect.wav recordings; for another naming give "
            f"an index: --annotations index.csv with the columns {','.join(INDEX_COLUMNS)}"
        )
    for base, files in sorted(found.items()):
        for role, other in (("correct", "incorrect"), ("incorrect", "correct")):
            if role not in files:
                raise InputError(f"{files[other]}: no {base}_{role} recording beside it")
    return [
        StoryPair(
            id=base,
            correct=f"{base}_correct",
            incorrect=f"{base}_incorrect",
            correct_path=files["correct"],
            incorrect_path=files["incorrect"],
        )
        for base, files in sorted(found.items(), key=lambda kv: _natural_key(kv[0]))
    ]


def load_stories(annotations: str | None, audio: str | None) -> list[StoryPair]:
    """The stories of an index (``annotations``, paths relative to ``audio``) or of a release folder.

    Raises:
        ValueError: neither given.
        InputError: as :func:`read_story_index` and :func:`scan_story_folder`.
    """
    if annotations:
        return read_story_index(annotations, audio)
    if audio:
        return scan_story_folder(audio)
    raise ValueError(
        "storycloze needs its recordings: --audio DIR (<story>_correct.wav / <story>_incorrect.wav), "
        f"or an index --annotations index.csv ({','.join(INDEX_COLUMNS)})"
    )


def score_stories(
    stories: Sequence[StoryPair], scores: Mapping[str, Mapping[str, float]]
) -> tuple[list[dict[str, Any]], list[StoryPair]]:
    """Per story, the outcome of every score variant both recordings have.

    Args:
        stories: the stories.
        scores: recording name -> ``{"score": x}`` or ``{"score", "score_sum", "score_mean"}``.

    Returns:
        ``(rows, left_out)``: one row per story whose two recordings have scores (``id``, the names,
        ``correct_score``, ``incorrect_score`` and the outcome per variant), and the stories without.
    """
    rows, left_out = [], []
    for s in stories:
        c, i = scores.get(s.correct), scores.get(s.incorrect)
        if c is None or i is None:
            left_out.append(s)
            continue
        row: dict[str, Any] = {
            "id": s.id,
            "correct_file": s.correct,
            "incorrect_file": s.incorrect,
            "correct_score": c["score"],
            "incorrect_score": i["score"],
        }
        row.update(
            {k: pair_outcome(c[k], i[k]) for k in ("score", "score_sum", "score_mean") if k in c and k in i}
        )
        rows.append(row)
    return rows, left_out


@dataclass
class StoryClozeOptions:
    """Spoken StoryCloze's options.

    Attributes:
        annotations: an index CSV (``id,correct_file,incorrect_file``); ``None``: scan ``audio``.
        audio: the folder of the recordings (``--audio``).
        units: the UnitTokenizer folder that turns audio into units (with ``--model``).
        score: ``"sum"`` or ``"mean"`` log-probability of the units as the headline; both are reported.
        batch_size: utterances per scoring call; ``None``: the request's (``--batch-size``).
        predictions: scores to read instead of a model's: ``name score`` lines (ZeroSpeech's format).
    """

    annotations: str | None = None
    audio: str | None = None
    units: str | None = None
    score: ScoreKind = "sum"
    batch_size: int | None = None
    predictions: str | None = None

    def __post_init__(self) -> None:
        if self.score not in get_args(ScoreKind):
            raise ValueError(f"score must be one of {', '.join(get_args(ScoreKind))}, got {self.score!r}")
        if self.batch_size is not None and self.batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {self.batch_size}")


class StoryClozeEvaluator:
    """Spoken StoryCloze / Topic-StoryCloze: how often the correct ending is the likelier recording.

    Options: :class:`StoryClozeOptions`. ``items.jsonl``: per story, ``id``, the two recordings' names
    and scores, and ``score`` (1, 0.5 or 0; with ``--model`` also ``score_sum`` and ``score_mean``).
    Returns ``accuracy``, ``accuracy_sum``/``accuracy_mean`` with ``--model``, ``n`` (stories scored),
    ``skipped`` (recordings) and ``skipped_stories``.
    """

    name: ClassVar[str] = "storycloze"
    Options: ClassVar[type] = StoryClozeOptions
    metrics: ClassVar[Mapping[str, Direction]] = {"accuracy": "higher"}
    max_new_tokens: ClassVar[int] = 0  # scores likelihoods, generates nothing

    def _scores(
        self, opts: StoryClozeOptions, policy: Any, all_stories: list[StoryPair], stories: list[StoryPair],
        out: Path, batch_size: int,
    ) -> tuple[dict[str, dict[str, float]], list[dict[str, Any]]]:  # fmt: skip
        if opts.predictions:
            scores = read_submission(opts.predictions)
            names = [n for s in all_stories for n in (s.correct, s.incorrect)]
            where = opts.annotations or opts.audio
            check_same_files(names, scores, gold=where, submission=opts.predictions)
            return {name: {"score": v} for name, v in scores.items()}, []
        paths = {
            n: p for s in stories for n, p in ((s.correct, s.correct_path), (s.incorrect, s.incorrect_path))
        }
        missing = [str(p) for p in paths.values() if not p.is_file()]
        if missing:  # before the unit tokenizer loads
            shown = ", ".join(missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
            raise InputError(
                f"{opts.annotations or opts.audio}: {len(missing)} recording(s) not found: {shown}"
            )
        scores, utterances, skipped = score_audio(
            paths, units=opts.units, policy=policy, score=opts.score, batch_size=batch_size
        )
        atomic_write_jsonl(out / "utterances.jsonl", utterances)
        write_submission(out / "submission_sum.txt", scores, "score_sum")
        write_submission(out / "submission_mean.txt", scores, "score_mean")
        return scores, skipped

    def evaluate(self, policy: Any, request: EvalRequest) -> dict[str, float]:
        """Score the stories (the model's likelihoods, or a predictions file) and write the results.

        Raises:
            ValueError: both or neither of a model and predictions; no recordings given.
            InputError: a bad index, folder or predictions file, a name in one but not the other, or
                recordings missing: all before the unit tokenizer loads.
        """
        from polyrlaif.evaluation.tables import write_metrics

        opts = resolve_options(self, request.options)
        out = Path(request.output_dir)
        if opts.predictions and policy is not None:
            raise ValueError("storycloze: give a model or predictions, not both")
        if not opts.predictions and policy is None:
            raise ValueError(
                "storycloze needs --predictions P.txt, or --model M with --opt units=UNIT_TOKENIZER_DIR"
            )
        all_stories = load_stories(opts.annotations, opts.audio)
        stories = all_stories[: request.limit or None]
        scores, skipped = self._scores(
            opts, policy, all_stories, stories, out, opts.batch_size or request.batch_size
        )
        items, left_out = score_stories(stories, scores)
        story_of = {n: s.id for s in left_out for n in (s.correct, s.incorrect)}
        skipped = [{**row, "id": story_of[row["filename"]]} for row in skipped]
        atomic_write_jsonl(out / ITEMS_FILE, items)
        atomic_write_jsonl(out / SKIPPED_FILE, skipped)
        metrics = {
            **self.aggregate(items),
            "skipped": float(len(skipped)),
            "skipped_stories": float(len(left_out)),
        }
        metrics.setdefault("accuracy", math.nan)
        metrics.setdefault("n", 0.0)
        write_metrics(out, metrics)
        if skipped:
            log.warning(
                f"storycloze: {len(skipped)} recording(s) skipped, {len(left_out)} stories left out; "
                f"reasons in {out / SKIPPED_FILE}"
            )
        log.info(f"{self.name}: accuracy {metrics['accuracy']:.4f} over {len(items)} stories")
        return metrics

    @staticmethod
    def aggregate(rows: Sequence[Mapping[str, Any]]) -> dict[str, float]:
        """``accuracy`` (mean outcome over stories), ``accuracy_sum``/``accuracy_mean`` when the rows have
        them, and ``n``."""
        if not rows:
            return {}
        out = {"accuracy": sum(float(r["score"]) for r in rows) / len(rows)}
        for variant in ("sum", "mean"):
            if all(f"score_{variant}" in r for r in rows):
                out[f"accuracy_{variant}"] = sum(float(r[f"score_{variant}"]) for r in rows) / len(rows)
        out["n"] = float(len(rows))
        return out


class TopicStoryClozeEvaluator(StoryClozeEvaluator):
    """Topic-StoryCloze (tSC): the same scoring over an index whose incorrect endings come from another
    story, so the ending is off-topic rather than subtly wrong; Align-SLM reports both."""

    name: ClassVar[str] = "topic_storycloze"
