"""Open-domain QA question files (NQ, HotpotQA, 2Wiki, MuSiQue, Bamboogle, FlashRAG) as one record type.

:func:`load_qa` reads a question file in any of the common shapes and returns :class:`QAQuestion`
records, which have the attribute names of
:class:`~polyrlaif.datasets.qa.fictional.FictionalQuestion` (``id``, ``question``, ``answers``,
``supporting_ids``), so the search agent, its rewards and its evaluation take either. Files are JSON
Lines or one JSON array (how HotpotQA and 2WikiMultihopQA ship), optionally gzipped (``*.gz``).

=============  ==========================================================================================
format         row shape, and what it maps to
=============  ==========================================================================================
``fictional``  ``{id, question, answers: [...], supporting_ids?: [...]}`` (FictionalHot and our world)
``nq``         ``{question, answer: [...]}`` (NQ-open); id ``nq-<line>`` unless the row has one
``hotpotqa``   ``{_id, question, answer, supporting_facts: [[title, sent_idx], ...]}``; the supporting
               ids are the unique titles, in order. ``answer_aliases`` are accepted, and so are ``id``
               for ``_id`` and the Hugging Face form ``supporting_facts: {title: [...], sent_id: [...]}``
``2wiki``      2WikiMultihopQA: the HotpotQA shape (same mapping), often with ``answer_aliases``
``musique``    ``{id, question, answer, answer_aliases, paragraphs: [{idx, title, paragraph_text,
               is_supporting}], question_decomposition?}``; answers are the answer then its aliases,
               supporting ids the titles of the supporting paragraphs, in decomposition (reasoning) order
``bamboogle``  ``{Question, Answer}`` (the original CSV columns) or ``{question, answer}``; id
               ``bamboogle-<line>`` unless the row has one
``flashrag``   ``{id, question, golden_answers: [...], metadata?: {supporting_facts?}}``, FlashRAG's
               unified format, in which most of these datasets circulate for search-agent work
=============  ==========================================================================================

``auto`` (the default) picks the format from the keys of the file's first row, in this order:
``golden_answers`` → flashrag, ``paragraphs`` → musique, ``supporting_facts`` → hotpotqa (2wiki has
the same shape), ``answers`` → fictional, ``Question`` → bamboogle, a list ``answer`` → nq, any other
``answer`` → bamboogle (the generic ``{question, answer}`` shape).

Answers are stripped strings, deduplicated in order, the first canonical; JSON numbers become strings
(``1987`` → ``"1987"``). Rows with ``answerable: false`` (MuSiQue-full) have no valid answer: they are
skipped and counted in a log message, or refused with ``skip_unanswerable=False``. Errors are
:class:`~polyrlaif.core.io.InputError` naming ``file:line:field``; in a JSON array file the "line" is
the record's 1-based position in the array.

Example::

    from polyrlaif.datasets.qa.loaders import load_qa

    questions = load_qa("musique_ans_v1.0_dev.jsonl", limit=500)
    two_hop = [q for q in questions if q.hops == 2]
"""

from __future__ import annotations

import gzip
import json
import logging
import os
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from polyrlaif.core.io import InputError

__all__ = ["FORMATS", "QAQuestion", "detect_format", "load_qa"]

log = logging.getLogger(__name__)

FORMATS = ("auto", "fictional", "nq", "hotpotqa", "2wiki", "musique", "bamboogle", "flashrag")


@dataclass(frozen=True)
class QAQuestion:
    """One open-domain question.

    Attributes:
        id: unique question id.
        question: the question text.
        answers: accepted answers, stripped and without repeats; the first is canonical.
        supporting_ids: ids (for Wikipedia datasets, page titles) of the documents needed to answer,
            in reasoning order where the source gives one; empty when the source names none.
    """

    id: str
    question: str
    answers: tuple[str, ...]
    supporting_ids: tuple[str, ...] = ()

    @property
    def hops(self) -> int:
        """How many supporting documents the answer needs (0 when the source names none)."""
        return len(self.supporting_ids)


# ---------------------------------------------------------------- field helpers


def _field(row: Mapping[str, Any], name: str, where: str) -> Any:
    if name not in row:
        raise InputError(f"{where}:{name}: missing field")
    return row[name]


def _text(row: Mapping[str, Any], name: str, where: str) -> str:
    value = _field(row, name, where)
    if not isinstance(value, str) or not value.strip():
        raise InputError(f"{where}:{name}: expected a non-empty string, got {value!r}")
    return value.strip()


def _id(row: Mapping[str, Any], name: str, where: str, default: str | None = None) -> str:
    if name not in row and default is not None:
        return default
    value = _field(row, name, where)
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)  # some exports number their questions
    if not isinstance(value, str) or not value.strip():
        raise InputError(f"{where}:{name}: expected a non-empty string, got {value!r}")
    return value.strip()


def _answer_text(value: Any, where: str, label: str) -> str:
    if isinstance(value, str):
        return value.strip()
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InputError(f"{where}:{label}: expected a string or a number, got {value!r}")
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # 1987.0 is the year 1987
    return str(value)


def _answers(row: Mapping[str, Any], where: str, main: str, aliases: str | None = None) -> tuple[str, ...]:
    """``row[main]`` (one value or a list) then ``row[aliases]``, stripped, non-empty and unique."""
    names = [main] + ([aliases] if aliases is not None and aliases in row else [])
    found: list[str] = []
    for name in names:
        value = _field(row, name, where)
        if isinstance(value, list):
            found += [_answer_text(v, where, f"{name}[{i}]") for i, v in enumerate(value)]
        else:
            found.append(_answer_text(value, where, name))
    answers = tuple(dict.fromkeys(a for a in found if a))
    if not answers:
        raise InputError(f"{where}:{main}: no non-empty answer in {row[main]!r}")
    return answers


def _titles(value: Any, where: str, name: str) -> tuple[str, ...]:
    """Unique titles, in order, from ``[[title, idx], ...]`` or ``{"title": [...], ...}``."""
    if isinstance(value, Mapping):
        items, label = value.get("title", []), f"{name}.title"
    elif isinstance(value, list):
        items = [f[0] if isinstance(f, list) and f else f for f in value]
        label = name
    else:
        raise InputError(f"{where}:{name}: expected a list of [title, index] pairs, got {value!r}")
    if not isinstance(items, list):
        raise InputError(f"{where}:{label}: expected a list of titles, got {items!r}")
    for i, title in enumerate(items):
        if not isinstance(title, str) or not title.strip():
            raise InputError(f"{where}:{label}[{i}]: expected a non-empty title, got {title!r}")
    return tuple(dict.fromkeys(t.strip() for t in items))


# ---------------------------------------------------------------- one mapping per format


def _from_fictional(row: Mapping[str, Any], where: str, number: int) -> QAQuestion:
    support = row.get("supporting_ids", [])
    if not isinstance(support, list) or not all(isinstance(s, str) and s.strip() for s in support):
        raise InputError(f"{where}:supporting_ids: expected a list of non-empty strings, got {support!r}")
    return QAQuestion(
        id=_id(row, "id", where),
        question=_text(row, "question", where),
        answers=_answers(row, where, "answers"),
        supporting_ids=tuple(dict.fromkeys(s.strip() for s in support)),
    )


def _from_nq(row: Mapping[str, Any], where: str, number: int) -> QAQuestion:
    return QAQuestion(
        id=_id(row, "id", where, default=f"nq-{number}"),
        question=_text(row, "question", where),
        answers=_answers(row, where, "answer"),
    )


def _from_hotpotqa(row: Mapping[str, Any], where: str, number: int) -> QAQuestion:
    facts = row.get("supporting_facts")
    return QAQuestion(
        id=_id(row, "_id" if "_id" in row or "id" not in row else "id", where),
        question=_text(row, "question", where),
        answers=_answers(row, where, "answer", "answer_aliases"),
        supporting_ids=_titles(facts, where, "supporting_facts") if facts is not None else (),
    )


def _musique_support(row: Mapping[str, Any], where: str) -> tuple[str, ...]:
    paragraphs = row.get("paragraphs", [])
    if not isinstance(paragraphs, list) or not all(isinstance(p, Mapping) for p in paragraphs):
        raise InputError(f"{where}:paragraphs: expected a list of objects")
    supporting = {p.get("idx", i): (i, p) for i, p in enumerate(paragraphs) if p.get("is_supporting") is True}
    # The decomposition lists the paragraph each hop reads: that is the reasoning order.
    steps = row.get("question_decomposition") or []
    order = [s.get("paragraph_support_idx") for s in steps if isinstance(s, Mapping)]
    ordered = [supporting[k] for k in dict.fromkeys(order) if k in supporting]
    ordered += [v for v in supporting.values() if v not in ordered]
    titles = []
    for i, paragraph in ordered:
        title = paragraph.get("title")
        if not isinstance(title, str) or not title.strip():
            raise InputError(f"{where}:paragraphs[{i}].title: expected a non-empty title, got {title!r}")
        titles.append(title.strip())
    return tuple(dict.fromkeys(titles))


def _from_musique(row: Mapping[str, Any], where: str, number: int) -> QAQuestion:
    return QAQuestion(
        id=_id(row, "id", where),
        question=_text(row, "question", where),
        answers=_answers(row, where, "answer", "answer_aliases"),
        supporting_ids=_musique_support(row, where),
    )


def _from_bamboogle(row: Mapping[str, Any], where: str, number: int) -> QAQuestion:
    upper = "Question" in row
    return QAQuestion(
        id=_id(row, "id", where, default=f"bamboogle-{number}"),
        question=_text(row, "Question" if upper else "question", where),
        answers=_answers(row, where, "Answer" if upper else "answer"),
    )


def _from_flashrag(row: Mapping[str, Any], where: str, number: int) -> QAQuestion:
    metadata = row.get("metadata")
    facts = metadata.get("supporting_facts") if isinstance(metadata, Mapping) else None
    return QAQuestion(
        id=_id(row, "id", where),
        question=_text(row, "question", where),
        answers=_answers(row, where, "golden_answers"),
        supporting_ids=_titles(facts, where, "metadata.supporting_facts") if facts is not None else (),
    )


_Mapper = Callable[[Mapping[str, Any], str, int], QAQuestion]
_MAPPERS: dict[str, _Mapper] = {
    "fictional": _from_fictional,
    "nq": _from_nq,
    "hotpotqa": _from_hotpotqa,
    "2wiki": _from_hotpotqa,  # 2WikiMultihopQA kept HotpotQA's row shape
    "musique": _from_musique,
    "bamboogle": _from_bamboogle,
    "flashrag": _from_flashrag,
}


def detect_format(row: Mapping[str, Any]) -> str | None:
    """The format a row's keys identify (see the module docstring for the order), or None."""
    if "golden_answers" in row:
        return "flashrag"
    if "paragraphs" in row:
        return "musique"
    if "supporting_facts" in row:
        return "hotpotqa"
    if "answers" in row:
        return "fictional"
    if "Question" in row:
        return "bamboogle"
    if "answer" in row:
        return "nq" if isinstance(row["answer"], list) else "bamboogle"
    return None


# ---------------------------------------------------------------- reading files


def _open(path: Path) -> IO[str]:
    # utf-8-sig: Bamboogle and friends are often converted from spreadsheets that write a BOM.
    if path.suffix == ".gz":
        return gzip.open(path, "rt", encoding="utf-8-sig")
    return path.open("r", encoding="utf-8-sig")


def _iter_rows(path: Path) -> Iterator[tuple[int, dict]]:
    """``(line, row)`` from JSON Lines, or ``(position, row)`` from a file holding one JSON array."""
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    try:
        with _open(path) as fh:
            first = next((line for line in fh if line.strip()), "")
            fh.seek(0)
            if first.lstrip().startswith("["):
                try:
                    records = json.load(fh)
                except json.JSONDecodeError as exc:
                    raise InputError(
                        f"{path}:{exc.lineno}: malformed JSON ({exc.msg} at column {exc.colno})"
                    ) from None
                numbered: Iterator[tuple[int, Any]] = enumerate(records, start=1)
            else:
                numbered = _jsonl(fh, path)
            for number, row in numbered:
                if not isinstance(row, dict):
                    raise InputError(f"{path}:{number}: expected a JSON object, got {type(row).__name__}")
                yield number, row
    except (OSError, UnicodeDecodeError) as exc:  # a truncated or non-gzip .gz, a binary file
        raise InputError(f"{path}: cannot read ({exc})") from None


def _jsonl(fh: IO[str], path: Path) -> Iterator[tuple[int, Any]]:
    # core.io.iter_jsonl reads plain files only; this is the same loop over any text handle.
    for lineno, line in enumerate(fh, start=1):
        if not line.strip():
            continue
        try:
            yield lineno, json.loads(line)
        except json.JSONDecodeError as exc:
            raise InputError(f"{path}:{lineno}: malformed JSON ({exc.msg} at column {exc.colno})") from None


def load_qa(
    path: str | os.PathLike,
    format: str = "auto",
    *,
    limit: int | None = None,
    skip_unanswerable: bool = True,
) -> list[QAQuestion]:
    """Read and validate a question file.

    Args:
        path: a JSON Lines file, or a file holding one JSON array of rows; either may be gzipped.
        format: one of :data:`FORMATS`; ``"auto"`` decides from the keys of the first row.
        limit: keep the first ``limit`` questions and stop reading (later rows are not checked).
        skip_unanswerable: skip rows with ``answerable: false`` (MuSiQue-full), logging how many;
            when False such a row is an error.

    Returns:
        The questions, in file order.

    Raises:
        InputError: a missing or unreadable file, malformed JSON, a row of unknown shape, a missing
            field, a question without a non-empty answer, a repeated id, an unanswerable row (when
            not skipped), or no questions at all. The message reads ``file:line:field: what is wrong``.
        ValueError: an unknown ``format`` or a ``limit`` below 1.
    """
    if format not in FORMATS:
        raise ValueError(f"unknown QA format {format!r}; expected one of {', '.join(FORMATS)}")
    if limit is not None and limit < 1:
        raise ValueError(f"limit must be >= 1 or None, got {limit}")
    path = Path(path)
    mapper = _MAPPERS.get(format)
    questions: list[QAQuestion] = []
    first_seen: dict[str, int] = {}
    skipped = 0
    for number, row in _iter_rows(path):
        where = f"{path}:{number}"
        if mapper is None:
            detected = detect_format(row)
            if detected is None:
                raise InputError(
                    f"{where}: cannot tell the question format from the keys {sorted(row)}; "
                    f"pass format= one of {', '.join(FORMATS[1:])}"
                )
            mapper = _MAPPERS[detected]
        if row.get("answerable") is False:
            if skip_unanswerable:
                skipped += 1
                continue
            raise InputError(f"{where}:answerable: the question is marked unanswerable")
        question = mapper(row, where, number)
        if question.id in first_seen:
            raise InputError(
                f"{where}:id: duplicate id {question.id!r} (first on line {first_seen[question.id]})"
            )
        first_seen[question.id] = number
        questions.append(question)
        if limit is not None and len(questions) >= limit:
            break
    if skipped:
        log.info("%s: skipped %d question(s) marked unanswerable", path, skipped)
    if not questions:
        extra = f" ({skipped} unanswerable skipped)" if skipped else ""
        raise InputError(f"{path}: no questions{extra}")
    return questions
