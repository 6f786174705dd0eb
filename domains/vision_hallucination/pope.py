"""POPE (Li et al., 2023) as a benchmark of the domain: yes/no object probing, scored by
:mod:`polyrlaif.evaluation.hallucination.pope`."""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from polyrlaif.domains.vision_hallucination.benchmarks import (
    Item,
    Rows,
    Scored,
    VisionBenchmark,
    VisionOptions,
    image_root_for,
)
from polyrlaif.evaluation.items import binary_counts_metrics, confusion, unique_ids

__all__ = ["POPE_SUFFIX", "PopeEvaluator", "PopeOptions"]

#: What follows each POPE question, as in the benchmark's own prompts.
POPE_SUFFIX = " Answer yes or no."


@dataclass
class PopeOptions(VisionOptions):
    """POPE's options.

    Attributes:
        annotations: one POPE questions JSONL; when given it is used instead of ``questions``.
        questions: one POPE JSONL, or several (e.g. the random, popular and adversarial files).
        image_root: directory of the images (default ``<questions dir>/../images``).
    """

    questions: str | list[str] | None = None


class PopeEvaluator(VisionBenchmark):
    """POPE: yes/no object probing; accuracy, precision, recall, F1 and yes-ratio, per split and overall.
    As POPE's own script, only an explicit "no" is a no; ``unparsed`` counts answers with no yes/no word.
    With several question files, ``<split>/accuracy`` and ``<split>/f1`` too. Options: :class:`PopeOptions`.
    ``items.jsonl``: per question (``id``: its question id), the gold ``label``, the ``prediction`` scored
    (yes/no) and its ``split``.
    """

    name, title = "pope", "POPE"
    Options = PopeOptions
    metrics = {"accuracy": "higher", "f1": "higher"}

    def __init__(self) -> None:
        self._asked: list[dict[str, Any]] = []
        self._files: list[str] = []

    def _questions(self, opts: PopeOptions, limit: int | None) -> list[dict[str, Any]]:
        from polyrlaif.evaluation.hallucination.loaders import load_pope_questions

        questions = [opts.questions] if isinstance(opts.questions, str) else list(opts.questions or [])
        files = [opts.annotations] if opts.annotations else questions
        if not files:
            raise ValueError("pope needs questions (--annotations POPE.jsonl, or the questions option)")
        out = []
        for f in files:
            rows = load_pope_questions(f)[: limit or None]
            if len(files) > 1:  # ids restart per file: keep them apart
                tag = lambda r, f=f: f"{r['split'] or Path(f).stem}:{r['question_id']}"  # noqa: E731
                rows = [{**r, "question_id": tag(r)} for r in rows]
            out += rows
        self._asked, self._files = out, files
        return out

    def items(self, opts: PopeOptions, limit: int | None) -> list[Item]:
        """One question per row, with the instruction to answer yes or no."""
        questions = self._questions(opts, limit)
        root = image_root_for(opts.image_root, self._files[0])
        return [(q["question_id"], str(root / q["image"]), q["text"] + POPE_SUFFIX) for q in questions]

    def read(self, opts: PopeOptions, limit: int | None) -> dict[Hashable, str]:
        """``{"question_id", "answer"}`` rows (or LLaVA's ``"text"``); one file may cover several splits."""
        from polyrlaif.evaluation.hallucination.loaders import load_pope_answers

        assert opts.predictions is not None
        questions = self._questions(opts, None)
        answers = load_pope_answers(opts.predictions)
        if limit:
            self._asked = [q for q in questions if q["question_id"] in answers][:limit]
        asked = {q["question_id"] for q in self._asked}
        return {k: v for k, v in answers.items() if k in asked}

    def score(self, answers: dict[Hashable, str], opts: PopeOptions, output_dir: Path) -> Scored:
        """POPE metrics overall, plus accuracy and F1 per split when there are several."""
        from polyrlaif.evaluation.hallucination.pope import attach_answers, parse_yes_no, pope_scores

        rows = attach_answers(self._asked, answers)
        unparsed_as = "yes"  # POPE's script: only an explicit "no" is a no
        result = pope_scores(rows, unparsed_as=unparsed_as)
        metrics = {k: float(v) for k, v in result.overall.to_dict().items() if isinstance(v, (int, float))}
        if len(result.splits) > 1:
            for split, m in result.splits.items():
                metrics.update({f"{split}/{k}": float(getattr(m, k)) for k in ("accuracy", "f1")})
        items = [
            {
                "id": item_id,
                "label": str(r["label"]).strip().lower(),
                "prediction": parse_yes_no(str(r["answer"])) or unparsed_as,
                "split": None if r.get("split") is None else str(r["split"]),
            }
            for item_id, r in zip(unique_ids(r["question_id"] for r in rows), rows, strict=True)
        ]
        return metrics, rows, items

    @staticmethod
    def aggregate(rows: Rows) -> dict[str, float]:
        """Accuracy, precision, recall, F1 (from the confusion counts of ``rows``; "yes" is positive) and
        yes-ratio; with several splits, ``<split>/accuracy`` and ``<split>/f1`` too."""
        if not rows:
            return {}
        pairs: dict[str | None, list[tuple[bool, bool]]] = {}  # split -> (gold yes, predicted yes)
        for r in rows:
            pairs.setdefault(r.get("split"), []).append((r["label"] == "yes", r["prediction"] == "yes"))
        counts = {split: confusion(p) for split, p in pairs.items()}
        tp, fp, tn, fn = (sum(c[i] for c in counts.values()) for i in range(4))
        out = {**binary_counts_metrics(tp, fp, tn, fn), "yes_ratio": (tp + fp) / len(rows)}
        splits = {k: v for k, v in counts.items() if k is not None}
        if len(splits) > 1:
            for split, c in splits.items():
                m = binary_counts_metrics(*c)
                out.update({f"{split}/accuracy": m["accuracy"], f"{split}/f1": m["f1"]})
        return out
