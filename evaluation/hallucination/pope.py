"""POPE: polling questions "Is there a <object> in the image?" scored as binary classification.

Answers are free text. :func:`parse_yes_no` takes the first yes/no word ("yes"; "no", "not" or a
"n't" contraction). An answer with none is *unparsed*: it is counted separately and scored as
``unparsed_as`` ("no" by default, the conservative choice that never rewards a non-answer). Note that
POPE's reference script (and LLaVA's ``eval_pope.py``) maps every answer whose first sentence lacks
"no"/"not" to "yes"; pass ``unparsed_as="yes"`` to reproduce numbers computed that way.

The positive class is "yes". Metrics are reported per split (random / popular / adversarial, or
whatever ``split`` the rows carry) and over all rows.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Literal

from polyrlaif.evaluation.hallucination.vocab import tokenize

__all__ = ["PopeMetrics", "PopeResult", "attach_answers", "binary_metrics", "parse_yes_no", "pope_scores"]

_NO_WORDS = frozenset({"no", "not"})


def parse_yes_no(text: str) -> Literal["yes", "no"] | None:
    """The first yes/no word of ``text``: ``"yes"``, ``"no"`` (also "not", "isn't", ...), or ``None``.

    Examples:
        ``"Yes, there is a dog."`` -> ``"yes"``; ``"There isn't a dog."`` -> ``"no"``;
        ``"A dog."`` -> ``None``.
    """
    for word in tokenize(text):
        if word == "yes":
            return "yes"
        if word in _NO_WORDS or word.endswith("n't"):
            return "no"
    return None


@dataclass(frozen=True)
class PopeMetrics:
    """Binary-classification metrics of one split (all fractions in [0, 1]; 0.0 for an empty ratio)."""

    n: int
    accuracy: float
    precision: float
    recall: float
    f1: float
    yes_ratio: float
    unparsed: int
    tp: int
    fp: int
    tn: int
    fn: int

    def to_dict(self) -> dict:
        """The fields as a plain dict."""
        return asdict(self)


@dataclass(frozen=True)
class PopeResult:
    """POPE metrics over all rows and per split."""

    overall: PopeMetrics
    splits: dict[str, PopeMetrics]

    def to_dict(self) -> dict:
        """JSON-ready: ``{"overall": {...}, "splits": {name: {...}}}``."""
        return {"overall": self.overall.to_dict(), "splits": {k: v.to_dict() for k, v in self.splits.items()}}


def binary_metrics(
    labels: Sequence[str], predictions: Sequence[str], positive: str = "yes", unparsed: int = 0
) -> PopeMetrics:
    """Accuracy, precision, recall, F1 and the predicted-yes ratio of yes/no predictions.

    Args:
        labels: gold ``"yes"``/``"no"``.
        predictions: predicted ``"yes"``/``"no"`` (already parsed), aligned with ``labels``.
        positive: the positive class (POPE: "yes"; AMBER's discriminative F1 uses "no").
        unparsed: how many predictions were defaulted; carried into the result for reporting.

    Raises:
        ValueError: if the sequences differ in length or hold anything but yes/no.
    """
    if len(labels) != len(predictions):
        raise ValueError(f"{len(labels)} labels but {len(predictions)} predictions")
    bad = {*labels, *predictions} - {"yes", "no"}
    if bad:
        raise ValueError(f"labels and predictions must be 'yes' or 'no', got {sorted(map(repr, bad))}")
    pairs = list(zip(labels, predictions, strict=True))
    tp = sum(g == positive and p == positive for g, p in pairs)
    fp = sum(g != positive and p == positive for g, p in pairs)
    fn = sum(g == positive and p != positive for g, p in pairs)
    tn = len(pairs) - tp - fp - fn
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    return PopeMetrics(
        n=len(pairs),
        accuracy=(tp + tn) / len(pairs) if pairs else 0.0,
        precision=precision,
        recall=recall,
        f1=2 * precision * recall / (precision + recall) if precision + recall else 0.0,
        yes_ratio=sum(p == "yes" for p in predictions) / len(pairs) if pairs else 0.0,
        unparsed=unparsed,
        tp=tp,
        fp=fp,
        tn=tn,
        fn=fn,
    )


def _score(rows: Sequence[Mapping], unparsed_as: str) -> PopeMetrics:
    labels, preds, unparsed = [], [], 0
    for i, row in enumerate(rows):
        for key in ("label", "answer"):
            if key not in row:
                qid = row.get("question_id")
                raise ValueError(f"POPE row {i} (question_id {qid!r}): missing field {key!r}")
        label = str(row["label"]).strip().lower()
        if label not in ("yes", "no"):
            raise ValueError(f"POPE row {i}: field 'label' must be 'yes' or 'no', got {row['label']!r}")
        parsed = parse_yes_no(str(row["answer"]))
        if parsed is None:
            unparsed += 1
            parsed = unparsed_as
        labels.append(label)
        preds.append(parsed)
    return binary_metrics(labels, preds, positive="yes", unparsed=unparsed)


def pope_scores(rows: Iterable[Mapping], unparsed_as: Literal["yes", "no"] = "no") -> PopeResult:
    """Score POPE answers.

    Args:
        rows: mappings with ``label`` (gold yes/no), ``answer`` (the model's free text) and, optionally,
            ``split`` (rows with none, or ``None``, count only in ``overall``).
        unparsed_as: the prediction an answer without a yes/no word counts as.

    Returns:
        Overall metrics and one :class:`PopeMetrics` per split, splits in order of first appearance.

    Raises:
        ValueError: if there are no rows, or a row lacks ``label``/``answer`` or has a bad label.
    """
    if unparsed_as not in ("yes", "no"):
        raise ValueError(f"unparsed_as must be 'yes' or 'no', got {unparsed_as!r}")
    rows = list(rows)
    if not rows:
        raise ValueError("POPE needs at least one answered question")
    by_split: dict[str, list[Mapping]] = {}
    for row in rows:
        if row.get("split") is not None:
            by_split.setdefault(str(row["split"]), []).append(row)
    return PopeResult(
        overall=_score(rows, unparsed_as),
        splits={name: _score(split_rows, unparsed_as) for name, split_rows in by_split.items()},
    )


def attach_answers(questions: Sequence[Mapping], answers: Mapping[Hashable, str]) -> list[dict]:
    """Join POPE questions with answers by ``question_id``, ready for :func:`pope_scores`.

    Raises:
        ValueError: if a question has no answer or an answer has no question (ids named).
    """
    ids = [q["question_id"] for q in questions]
    missing = [q for q in ids if q not in answers]
    if missing:
        raise ValueError(f"{len(missing)} question(s) have no answer, e.g. question_id {missing[0]!r}")
    extra = set(answers) - set(ids)
    if extra:
        raise ValueError(f"answers for unknown question_id(s) {sorted(map(repr, extra))[:5]}")
    return [{**q, "answer": answers[q["question_id"]]} for q in questions]
