"""A small invented world for testing search agents: a corpus and questions about it.

``fictional_corpus.jsonl`` (beside this file) holds 62 short documents (``{"id", "title", "text"}``)
about the Republic of Veshan and its neighbour Aldmere: places, people, organisations, events, dates and
numbers that exist nowhere else, so a model can only answer by retrieving. Some documents are deliberate
distractors with near-identical names (Orrindel / Orrindale, Marta Solvey / Marta Solveig, Brassmoor /
Brassmere Observatory, Vel Marrow / Vel Morrow, ...).

``fictional_questions.jsonl`` holds 45 questions
``{"id", "question", "answers": [...], "supporting_ids": [...]}``: single-hop questions (one
supporting document) and two-hop questions (two, where the first leads to the second). Answers are
short (names, years, numbers); the first is canonical and the rest are aliases. Every answer string
appears verbatim in a supporting document.

Example::

    from polyrlaif.datasets.qa.fictional import corpus_path, load_questions

    questions = [q for q in load_questions() if q.hops == 1]
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from polyrlaif.core.io import InputError, iter_jsonl

__all__ = ["QUESTION_FIELDS", "FictionalQuestion", "corpus_path", "load_questions", "questions_path"]

_DATA = Path(__file__).parent
QUESTION_FIELDS = ("id", "question", "answers", "supporting_ids")


@dataclass(frozen=True)
class FictionalQuestion:
    """One question about the fictional corpus.

    Attributes:
        id: unique question id.
        question: the question text.
        answers: accepted answers; the first is canonical, the others are aliases.
        supporting_ids: ids of the corpus documents needed to answer, in reasoning order.
    """

    id: str
    question: str
    answers: tuple[str, ...]
    supporting_ids: tuple[str, ...]

    @property
    def hops(self) -> int:
        """How many documents the answer needs (1 for single-hop, 2 for two-hop)."""
        return len(self.supporting_ids)


def corpus_path() -> Path:
    """Path of the packaged fictional corpus (JSONL)."""
    return _DATA / "fictional_corpus.jsonl"


def questions_path() -> Path:
    """Path of the packaged fictional questions (JSONL)."""
    return _DATA / "fictional_questions.jsonl"


def _string(row: dict, name: str, where: str) -> str:
    value = row[name]
    if not isinstance(value, str) or not value.strip():
        raise InputError(f"{where}:{name}: expected a non-empty string, got {value!r}")
    return value


def _strings(row: dict, name: str, where: str) -> tuple[str, ...]:
    value = row[name]
    if not isinstance(value, list) or not value:
        raise InputError(f"{where}:{name}: expected a non-empty list of strings, got {value!r}")
    for i, item in enumerate(value):
        if not isinstance(item, str) or not item.strip():
            raise InputError(f"{where}:{name}[{i}]: expected a non-empty string, got {item!r}")
    return tuple(value)


def load_questions(path: str | os.PathLike | None = None) -> list[FictionalQuestion]:
    """Read and validate a questions file.

    Args:
        path: JSONL file; defaults to the packaged :func:`questions_path`.

    Raises:
        InputError: a missing file or field, a non-string or empty value, a question without answers or
            supporting ids, a repeated question id, or no questions at all. The message reads
            ``file:line:field: what is wrong``.
    """
    path = Path(path) if path is not None else questions_path()
    questions: list[FictionalQuestion] = []
    first_seen: dict[str, int] = {}
    for lineno, row in iter_jsonl(path):
        where = f"{path}:{lineno}"
        for name in QUESTION_FIELDS:
            if name not in row:
                raise InputError(f"{where}:{name}: missing field")
        question = FictionalQuestion(
            id=_string(row, "id", where),
            question=_string(row, "question", where),
            answers=_strings(row, "answers", where),
            supporting_ids=_strings(row, "supporting_ids", where),
        )
        if question.id in first_seen:
            raise InputError(
                f"{where}:id: duplicate id {question.id!r} (first on line {first_seen[question.id]})"
            )
        first_seen[question.id] = lineno
        questions.append(question)
    if not questions:
        raise InputError(f"{path}: no questions")
    return questions
