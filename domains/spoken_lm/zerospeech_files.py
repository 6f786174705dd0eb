"""ZeroSpeech 2021's files: gold files, submissions and the audio folder, read with errors that name the
file, the line and the field (see :mod:`polyrlaif.domains.spoken_lm.zerospeech` for the scoring)."""

from __future__ import annotations

import csv
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from polyrlaif.core.io import InputError

__all__ = [
    "AUDIO_SUFFIXES",
    "FREQUENCY_BANDS",
    "GOLD_COLUMNS",
    "SCORE_KEYS",
    "SKIPPED_FILE",
    "GoldPair",
    "ScoreKind",
    "check_same_files",
    "find_audio",
    "frequency_band",
    "pair_outcome",
    "read_gold",
    "read_submission",
]

#: Files left out (unreadable audio and the like), one JSON object each with its ``reason``.
SKIPPED_FILE = "skipped.jsonl"
#: Suffixes an audio file of a gold ``filename`` may have, tried in this order.
AUDIO_SUFFIXES = (".wav", ".flac")
#: The columns each gold file must have (ZeroSpeech 2021's ``gold.csv``).
GOLD_COLUMNS = {
    "swuggy": ("id", "filename", "voice", "frequency", "word", "phones", "correct"),
    "sblimp": ("id", "voice", "type", "subtype", "transcription", "filename", "correct"),
}
#: sWUGGY's frequency bands: ``(label, low, high)``, a word seen ``low <= f < high`` times in LibriSpeech.
FREQUENCY_BANDS = (
    ("oov", 0, 1),
    ("1-5", 1, 5),
    ("6-20", 5, 20),
    ("21-100", 20, 100),
    (">100", 100, math.inf),
)
#: How an utterance is scored: summed log-probability of its units, or their mean (length-normalised).
ScoreKind = Literal["sum", "mean"]

_TRUE, _FALSE = {"1", "1.0", "true"}, {"0", "0.0", "false"}
SCORE_KEYS = ("score", "score_sum", "score_mean")


@dataclass(frozen=True)
class GoldPair:
    """The correct and the incorrect file of one id spoken by one voice.

    Attributes:
        id: the gold ``id`` (the item).
        voice: the gold ``voice``.
        correct_file: the correct row's ``filename``.
        incorrect_file: the incorrect row's ``filename``.
        info: what the tables show: ``word``, ``non_word``, ``frequency``, ``band`` (and ``length`` when
            the gold has it) for sWUGGY; ``type``, ``subtype``, ``sentence``, ``non_sentence`` for sBLIMP.
    """

    id: str
    voice: str
    correct_file: str
    incorrect_file: str
    info: dict[str, Any] = field(default_factory=dict, compare=False)


def pair_outcome(correct: float, incorrect: float) -> float:
    """1 when the correct item scores higher, 0.5 on a tie, 0 otherwise (ZeroSpeech's rule)."""
    return 0.5 * (correct == incorrect) + float(correct > incorrect)


def frequency_band(frequency: int | None) -> str | None:
    """sWUGGY's frequency band of a word seen ``frequency`` times (``None``: no frequency, no band).

    Examples:
        ``0 -> "oov"``, ``4 -> "1-5"``, ``5 -> "6-20"``, ``100 -> ">100"``: ZeroSpeech's intervals.
    """
    if frequency is None:
        return None
    for label, low, high in FREQUENCY_BANDS:
        if low <= frequency < high:
            return label
    return None  # negative: outside every band, as in pandas.cut


def _parse_correct(raw: str, where: str) -> bool:
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise InputError(f"{where}: column 'correct' must be 1/0 or True/False, got {raw!r}")


def _parse_frequency(raw: str, where: str) -> int | None:
    value = raw.strip()
    if not value:
        return None
    try:
        number = float(value)
    except ValueError:
        raise InputError(f"{where}: column 'frequency' must be a count, got {raw!r}") from None
    if not number.is_integer():
        raise InputError(f"{where}: column 'frequency' must be a whole count, got {raw!r}")
    return int(number)


def _read_gold_rows(path: Path, kind: str) -> tuple[list[str], list[tuple[int, dict[str, str]]]]:
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    with path.open(encoding="utf-8-sig", newline="") as fh:
        reader = csv.DictReader(fh)
        header = [h.strip() for h in reader.fieldnames or []]
        if not header:
            raise InputError(
                f"{path}: empty; a {kind} gold file starts with the header {','.join(GOLD_COLUMNS[kind])}"
            )
        for column in GOLD_COLUMNS[kind]:
            if column not in header:
                raise InputError(
                    f"{path}: column {column!r} missing; a {kind} gold file has the columns "
                    f"{','.join(GOLD_COLUMNS[kind])} (found {','.join(header)})"
                )
        reader.fieldnames = header
        rows = [
            (line, {k: (v or "") for k, v in row.items() if k}) for line, row in enumerate(reader, start=2)
        ]
    if not rows:
        raise InputError(f"{path}: header only, no rows")
    return header, rows


def read_gold(path: str | Path, kind: Literal["swuggy", "sblimp"]) -> list[GoldPair]:
    """The pairs of a ZeroSpeech 2021 gold file, in the order their first row appears.

    Args:
        path: ``gold.csv`` of the lexical (``kind="swuggy"``) or syntactic (``kind="sblimp"``) task.
        kind: which task's columns to expect (:data:`GOLD_COLUMNS`).

    Raises:
        InputError: a missing file or column (naming the file and the column), an empty file, a bad
            ``correct`` or ``frequency`` value, a repeated filename, or an (id, voice) without exactly one
            correct and one incorrect row (naming file, line and pair).
    """
    path = Path(path)
    header, rows = _read_gold_rows(path, kind)
    seen_files: dict[str, int] = {}
    flags = [_parse_correct(row["correct"], f"{path}:{line}") for line, row in rows]
    groups: dict[tuple[str, str], dict[bool, tuple[int, dict[str, str]]]] = {}
    for (line, row), correct in zip(rows, flags, strict=True):
        filename = row["filename"].strip()
        if not filename:
            raise InputError(f"{path}:{line}: column 'filename' is empty")
        if filename in seen_files:
            raise InputError(f"{path}:{line}: filename {filename!r} repeats line {seen_files[filename]}")
        seen_files[filename] = line
        key = (row["id"].strip(), row["voice"].strip())
        group = groups.setdefault(key, {})
        if correct in group:
            which = "correct" if correct else "incorrect"
            raise InputError(
                f"{path}:{line}: id {key[0]!r}, voice {key[1]!r} has a second {which} row "
                f"(line {group[correct][0]})"
            )
        group[correct] = (line, row)
    # ZeroSpeech shows the phones of every item when no non-word has a spelling
    use_phones = kind == "swuggy" and not any(
        row["word"].strip() for (_, row), correct in zip(rows, flags, strict=True) if not correct
    )
    pairs = []
    for (pid, voice), group in groups.items():
        if len(group) != 2:
            line = next(iter(group.values()))[0]
            missing = "incorrect" if True in group else "correct"
            raise InputError(f"{path}:{line}: id {pid!r}, voice {voice!r} has no {missing} row")
        (cline, crow), (_, irow) = group[True], group[False]
        if kind == "swuggy":
            frequency = _parse_frequency(crow["frequency"], f"{path}:{cline}")
            text = "phones" if use_phones else "word"
            info: dict[str, Any] = {
                "word": crow[text],
                "non_word": irow[text],
                "frequency": frequency,
                "band": frequency_band(frequency),
            }
            if "length" in header:
                length = crow["length"].strip()
                info["length"] = int(length) if length.isdigit() else (length or None)
        else:
            info = {
                "type": crow["type"],
                "subtype": crow["subtype"],
                "sentence": crow["transcription"],
                "non_sentence": irow["transcription"],
            }
        pairs.append(GoldPair(pid, voice, crow["filename"].strip(), irow["filename"].strip(), info))
    return pairs


def read_submission(path: str | Path) -> dict[str, float]:
    """A ZeroSpeech submission: ``filename score`` per line (no header) -> ``{filename: score}``.

    Blank lines are ignored. Scores may be any float but NaN (``-inf``, a log-probability of zero, is a
    score).

    Raises:
        InputError: a missing or empty file, a line without exactly two fields, a score that is not a
            number or is NaN, or a repeated filename (naming file and line).
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    scores: dict[str, float] = {}
    lines: dict[str, int] = {}
    with path.open(encoding="utf-8") as fh:
        for lineno, raw in enumerate(fh, start=1):
            fields = raw.split()
            if not fields:
                continue
            if len(fields) != 2:
                raise InputError(f"{path}:{lineno}: expected '<filename> <score>', got {raw.strip()!r}")
            name, value = fields
            try:
                score = float(value)
            except ValueError:
                raise InputError(f"{path}:{lineno}: score {value!r} is not a number") from None
            if math.isnan(score):
                raise InputError(f"{path}:{lineno}: score of {name!r} is NaN")
            if name in scores:
                raise InputError(f"{path}:{lineno}: filename {name!r} repeats line {lines[name]}")
            scores[name], lines[name] = score, lineno
    if not scores:
        raise InputError(f"{path}: no '<filename> <score>' lines")
    return scores


def _names(names: Sequence[str], limit: int = 5) -> str:
    shown = ", ".join(repr(n) for n in names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def check_same_files(
    expected: Iterable[str], scores: Mapping[str, Any], *, gold: Any, submission: Any
) -> None:
    """Insist that the submission scores exactly the gold's files.

    Raises:
        InputError: naming the files the submission lacks and those the gold does not list.
    """
    expected = list(expected)
    wanted = set(expected)
    missing = [f for f in expected if f not in scores]
    extra = [f for f in scores if f not in wanted]
    problems = []
    if missing:
        problems.append(f"no score for {len(missing)} file(s) of {gold}: {_names(missing)}")
    if extra:
        problems.append(f"{len(extra)} file(s) not in {gold}: {_names(extra)}")
    if problems:
        raise InputError(f"{submission}: " + "; ".join(problems))


def find_audio(audio_dir: str | Path, names: Iterable[str]) -> dict[str, Path]:
    """``{name: path}`` of ``<audio_dir>/<name><suffix>`` for each name (suffixes :data:`AUDIO_SUFFIXES`).

    Raises:
        InputError: the folder is missing, or files are (naming them).
    """
    root = Path(audio_dir)
    if not root.is_dir():
        raise InputError(f"{root}: no such folder (--audio)")
    found, missing = {}, []
    for name in names:
        path = next((p for s in AUDIO_SUFFIXES if (p := root / f"{name}{s}").is_file()), None)
        if path is None:
            missing.append(name)
        else:
            found[name] = path
    if missing:
        raise InputError(
            f"{root}: no audio file for {len(missing)} name(s): {_names(missing)} "
            f"(looked for {' or '.join(AUDIO_SUFFIXES)})"
        )
    return found
