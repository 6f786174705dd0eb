"""Open-domain QA metrics: SQuAD exact match and token F1, citation precision/recall, and their averages.

* :func:`normalize_answer` is SQuAD v1.1's normalisation (lower case, drop ASCII punctuation, drop the
  articles a/an/the, collapse whitespace), so scores compare with published numbers.
* :func:`exact_match` and :func:`f1` score one prediction against every gold answer and keep the best.
* :func:`citation_scores` compares the document ids an agent cites with the supporting ids.
* :func:`load_predictions` reads a predictions file (JSONL), one row per question::

      {"question": "...", "prediction": "...", "answers": ["...", ...],
       "citations": ["doc-id", ...], "supporting_ids": ["doc-id", ...], "tool_calls": 3, "id": "q1"}

  ``citations``, ``supporting_ids``, ``tool_calls`` and ``id`` are optional.
* :func:`qa_report` averages the per-row scores into a :class:`QAReport`.
"""

from __future__ import annotations

import os
import re
import string
from collections import Counter
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from polyrlaif.core.io import InputError, iter_jsonl

__all__ = [
    "QAPrediction",
    "QAReport",
    "citation_scores",
    "exact_match",
    "f1",
    "load_predictions",
    "normalize_answer",
    "qa_report",
    "score_prediction",
]

_PUNCTUATION = frozenset(string.punctuation)
_ARTICLES = re.compile(r"\b(a|an|the)\b")
_REQUIRED = ("question", "prediction", "answers")


def normalize_answer(text: str) -> str:
    """SQuAD v1.1's answer normalisation, step for step.

    Lower case; delete every ASCII punctuation character (deleted, not replaced by a space, so
    ``"412,000"`` becomes ``"412000"``); replace the whole words a, an and the by a space; collapse
    runs of whitespace to one space and strip the ends.
    """
    text = text.lower()
    text = "".join(ch for ch in text if ch not in _PUNCTUATION)
    text = _ARTICLES.sub(" ", text)
    return " ".join(text.split())


def _check_answers(answers: Sequence[str]) -> None:
    if isinstance(answers, str):  # a bare string would be scored character by character
        raise TypeError("answers must be a sequence of strings, not a string")
    if not answers:
        raise ValueError("answers is empty: a question without answers cannot be scored")


def exact_match(prediction: str, answers: Sequence[str]) -> float:
    """1.0 if the normalised prediction equals any normalised gold answer, else 0.0.

    Raises:
        ValueError: ``answers`` is empty.
        TypeError: ``answers`` is a string rather than a sequence of strings.
    """
    _check_answers(answers)
    pred = normalize_answer(prediction)
    return max(float(pred == normalize_answer(gold)) for gold in answers)


def _token_f1(prediction: str, gold: str) -> float:
    pred_tokens = normalize_answer(prediction).split()
    gold_tokens = normalize_answer(gold).split()
    if not pred_tokens or not gold_tokens:
        # SQuAD v2.0's convention: nothing predicted for nothing expected is right, otherwise wrong.
        return float(pred_tokens == gold_tokens)
    same = sum((Counter(pred_tokens) & Counter(gold_tokens)).values())
    if same == 0:
        return 0.0
    precision = same / len(pred_tokens)
    recall = same / len(gold_tokens)
    return 2 * precision * recall / (precision + recall)


def f1(prediction: str, answers: Sequence[str]) -> float:
    """SQuAD token F1 of the prediction against its best-matching gold answer.

    Tokens are the whitespace-separated words of the normalised strings, counted with multiplicity
    (the overlap is the multiset intersection). If both token lists are empty the score is 1.0; if
    only one is, 0.0.

    Raises:
        ValueError: ``answers`` is empty.
        TypeError: ``answers`` is a string rather than a sequence of strings.
    """
    _check_answers(answers)
    return max(_token_f1(prediction, gold) for gold in answers)


def citation_scores(cited_ids: Collection[str], supporting_ids: Collection[str]) -> tuple[float, float]:
    """Precision and recall of the cited document ids against the supporting ones.

    Both are computed on sets: citing a document twice counts once. Conventions for empty sets, the
    same as :func:`f1`'s: if neither side has an id, ``(1.0, 1.0)`` (nothing needed, nothing cited);
    if exactly one side is empty, ``(0.0, 0.0)``: citing nothing earns no precision, and citations for
    a question that needs none are all unsupported.

    Returns:
        ``(precision, recall)``: the share of distinct cited ids that are supporting, and the share of
        supporting ids that are cited.
    """
    cited, gold = set(cited_ids), set(supporting_ids)
    if not cited or not gold:
        value = float(not cited and not gold)
        return value, value
    hits = len(cited & gold)
    return hits / len(cited), hits / len(gold)


@dataclass(frozen=True)
class QAPrediction:
    """One row of a predictions file.

    Attributes:
        question: the question asked.
        prediction: the model's final answer (may be empty: no answer scores 0 against real answers).
        answers: the gold answers, at least one.
        citations: document ids the model cited, or ``None`` when the row does not say.
        supporting_ids: document ids that support the answer, or ``None`` when the row does not say.
        tool_calls: tool calls the model made for this question, or ``None`` when the row does not say.
        id: the question id, when given.
        line: line number in the file (0 for rows not read from a file).
    """

    question: str
    prediction: str
    answers: tuple[str, ...]
    citations: tuple[str, ...] | None = None
    supporting_ids: tuple[str, ...] | None = None
    tool_calls: int | None = None
    id: str | None = None
    line: int = 0


def _str_list(row: dict, name: str, where: str, *, non_empty: bool) -> tuple[str, ...]:
    value = row[name]
    if not isinstance(value, list):
        raise InputError(f"{where}:{name}: expected a list of strings, got {type(value).__name__}")
    if non_empty and not value:
        raise InputError(f"{where}:{name}: empty list: a question without answers cannot be scored")
    for i, item in enumerate(value):
        if not isinstance(item, str):
            raise InputError(f"{where}:{name}[{i}]: expected a string, got {type(item).__name__} {item!r}")
        if non_empty and not item.strip():
            raise InputError(f"{where}:{name}[{i}]: empty answer")
    return tuple(value)


def _str(row: dict, name: str, where: str) -> str:
    value = row[name]
    if not isinstance(value, str):
        raise InputError(f"{where}:{name}: expected a string, got {type(value).__name__} {value!r}")
    return value


def _parse_row(row: dict, where: str, lineno: int) -> QAPrediction:
    for name in _REQUIRED:
        if name not in row:
            raise InputError(f"{where}:{name}: missing field")
    tool_calls = row.get("tool_calls")
    # JSON true/false load as bool, a subclass of int: never accept them as a count.
    if tool_calls is not None and (
        isinstance(tool_calls, bool) or not isinstance(tool_calls, int) or tool_calls < 0
    ):
        raise InputError(f"{where}:tool_calls: expected a non-negative integer, got {tool_calls!r}")
    opt = {k: _str_list(row, k, where, non_empty=False) for k in ("citations", "supporting_ids") if k in row}
    if "citations" in opt and "supporting_ids" not in opt:
        raise InputError(f"{where}:supporting_ids: missing field (needed to score 'citations')")
    return QAPrediction(
        question=_str(row, "question", where),
        prediction=_str(row, "prediction", where),
        answers=_str_list(row, "answers", where, non_empty=True),
        citations=opt.get("citations"),
        supporting_ids=opt.get("supporting_ids"),
        tool_calls=tool_calls,
        id=_str(row, "id", where) if "id" in row else None,
        line=lineno,
    )


def load_predictions(path: str | os.PathLike) -> list[QAPrediction]:
    """Read and validate a QA predictions file (JSONL; see the module docstring for the row format).

    Unknown fields are ignored. ``supporting_ids`` without ``citations`` is accepted (the row's
    citations are then not scored); ``citations`` without ``supporting_ids`` is an error.

    Raises:
        InputError: a missing file, malformed JSON, a missing field, ``answers`` that is not a list, is
            empty or holds a non-string or blank item, ``citations``/``supporting_ids`` that is not a
            list of strings, a ``tool_calls`` that is not a non-negative integer, or no rows at all.
            The message reads ``file:line:field: what is wrong``.
    """
    path = Path(path)
    rows = [_parse_row(row, f"{path}:{lineno}", lineno) for lineno, row in iter_jsonl(path)]
    if not rows:
        raise InputError(f"{path}: no predictions")
    return rows


def score_prediction(pred: QAPrediction) -> dict[str, Any]:
    """Per-row details: the row's fields and its scores.

    Returns:
        ``line``, ``id`` (if given), ``question``, ``prediction``, ``answers``, ``exact_match`` and
        ``f1``; ``citations``, ``supporting_ids``, ``citation_precision`` and ``citation_recall`` when
        both id lists are given; ``tool_calls`` when given.
    """
    out: dict[str, Any] = {"line": pred.line}
    if pred.id is not None:
        out["id"] = pred.id
    out.update(
        question=pred.question,
        prediction=pred.prediction,
        answers=list(pred.answers),
        exact_match=exact_match(pred.prediction, pred.answers),
        f1=f1(pred.prediction, pred.answers),
    )
    if pred.citations is not None and pred.supporting_ids is not None:
        precision, recall = citation_scores(pred.citations, pred.supporting_ids)
        out.update(
            citations=list(pred.citations),
            supporting_ids=list(pred.supporting_ids),
            citation_precision=precision,
            citation_recall=recall,
        )
    if pred.tool_calls is not None:
        out["tool_calls"] = pred.tool_calls
    return out


def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


@dataclass(frozen=True)
class QAReport:
    """Averages over a predictions set.

    Attributes:
        exact_match: mean exact match over all rows, in [0, 1].
        f1: mean token F1 over all rows, in [0, 1].
        citation_precision: mean over the rows with both ``citations`` and ``supporting_ids``;
            ``None`` when no row has them.
        citation_recall: as ``citation_precision``.
        tool_calls_per_question: mean ``tool_calls`` over the rows that give it; ``None`` when none do.
        n_questions: rows scored.
        n_with_citations: rows whose citations were scored.
        n_with_tool_calls: rows that give ``tool_calls``.
        rows: the per-row details of :func:`score_prediction`, in input order.
    """

    exact_match: float
    f1: float
    citation_precision: float | None
    citation_recall: float | None
    tool_calls_per_question: float | None
    n_questions: int
    n_with_citations: int
    n_with_tool_calls: int
    rows: tuple[dict[str, Any], ...] = ()

    def metrics(self) -> dict[str, float]:
        """The averages and counts as a flat dict; the averages no row could give are left out.

        Counts of the optional fields are included only with their averages, so a partial coverage
        (``n_with_citations < n_questions``) is visible next to the number it qualifies.
        """
        out: dict[str, float] = {"exact_match": self.exact_match, "f1": self.f1}
        if self.citation_precision is not None and self.citation_recall is not None:
            out["citation_precision"] = self.citation_precision
            out["citation_recall"] = self.citation_recall
        if self.tool_calls_per_question is not None:
            out["tool_calls_per_question"] = self.tool_calls_per_question
        out["n_questions"] = self.n_questions
        if self.citation_precision is not None:
            out["n_with_citations"] = self.n_with_citations
        if self.tool_calls_per_question is not None:
            out["n_with_tool_calls"] = self.n_with_tool_calls
        return out


def qa_report(predictions: Sequence[QAPrediction]) -> QAReport:
    """Score every prediction and average.

    Raises:
        ValueError: ``predictions`` is empty (an average over nothing is not a score).
    """
    if not predictions:
        raise ValueError("no predictions to score")
    rows = [score_prediction(p) for p in predictions]
    cited = [r for r in rows if "citation_precision" in r]
    tools = [float(r["tool_calls"]) for r in rows if "tool_calls" in r]
    return QAReport(
        exact_match=sum(r["exact_match"] for r in rows) / len(rows),
        f1=sum(r["f1"] for r in rows) / len(rows),
        citation_precision=_mean([r["citation_precision"] for r in cited]),
        citation_recall=_mean([r["citation_recall"] for r in cited]),
        tool_calls_per_question=_mean(tools),
        n_questions=len(rows),
        n_with_citations=len(cited),
        n_with_tool_calls=len(tools),
        rows=tuple(rows),
    )
