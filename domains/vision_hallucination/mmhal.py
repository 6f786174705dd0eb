"""MMHal-style evaluation: a judge model rates each answer 0-6 against the image content and the
standard answer (MMHal-Bench's rubric), through the core judge layer."""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from polyrlaif.core.io import InputError, read_jsonl
from polyrlaif.domains.vision_hallucination.benchmarks import (
    Item,
    Rows,
    Scored,
    VisionBenchmark,
    VisionOptions,
    image_root_for,
)
from polyrlaif.domains.vision_hallucination.prompts import MMHAL_CRITERION
from polyrlaif.evaluation.items import unique_ids

__all__ = ["MMHalEvaluator", "MMHalOptions"]


@dataclass
class MMHalOptions(VisionOptions):
    """MMHal's options.

    Attributes:
        annotations: the MMHal rows; when given they are used instead of ``questions``.
        questions: the MMHal rows.
        image_root: directory of the images (default ``<questions dir>/../images``).
        judge_backend: ``openai`` or ``transformers``.
        judge_model: the judge model.
        base_url: the OpenAI-compatible endpoint.
        cache: judge cache file (default ``<output_dir>/judge_cache.sqlite``).
    """

    questions: str | None = None
    judge_backend: str = "openai"
    judge_model: str = "gpt-4o-mini"
    base_url: str = "http://127.0.0.1:8000/v1"
    cache: str | None = None


class MMHalEvaluator(VisionBenchmark):
    """MMHal-style judge score: a judge model rates each answer 0-6 given the image content and the
    standard answer (MMHal-Bench's rubric); reports the mean rating and the hallucination rate
    (ratings below 3). The rating goes through the core judge layer (cached, failures counted).

    Rows (JSONL or MMHal's JSON list): ``{"image", "question", "gt_answer", "image_content": [...]}``;
    a predictions file adds ``model_answer``. Options: :class:`MMHalOptions`.

    ``items.jsonl``: per question (``id``: the row's ``id`` if it has one, else its position in the
    file), the judge's ``rating`` (``None`` when the judge failed).
    """

    name, title = "mmhal", "MMHal"
    Options = MMHalOptions
    metrics = {"mmhal_score": "higher", "hallucination_rate": "lower"}

    def __init__(self) -> None:
        self._rows: list[dict[str, Any]] = []

    def _load(self, path: str | None, limit: int | None) -> list[dict[str, Any]]:
        import json

        if not path:
            raise ValueError("mmhal needs the questions (--annotations) or --predictions with model_answer")
        p = Path(path)
        try:
            rows = json.loads(p.read_text()) if p.suffix == ".json" else read_jsonl(p)
        except (OSError, ValueError) as exc:
            raise InputError(f"{p}: {exc}") from None
        for i, r in enumerate(rows):
            missing = [f for f in ("image", "question", "gt_answer") if f not in r]
            if missing:
                raise InputError(f"{p}: row {i + 1} is missing field(s) {', '.join(map(repr, missing))}")
        self._rows = rows[: limit or None]
        return self._rows

    def items(self, opts: MMHalOptions, limit: int | None) -> list[Item]:
        """One request per MMHal question."""
        src = opts.annotations or opts.questions
        rows = self._load(src, limit)
        root = image_root_for(opts.image_root, str(src))
        return [(i, str(root / r["image"]), r["question"]) for i, r in enumerate(rows)]

    def read(self, opts: MMHalOptions, limit: int | None) -> dict[Hashable, str]:
        """MMHal rows that carry ``model_answer``."""
        rows = self._load(opts.predictions, limit)
        if any("model_answer" not in r for r in rows):
            raise InputError(f"{opts.predictions}: every row needs 'model_answer'")
        return {i: r["model_answer"] for i, r in enumerate(rows)}

    def score(self, answers: dict[Hashable, str], opts: MMHalOptions, output_dir: Path) -> Scored:
        """The judge's 0-6 ratings: their mean, the share below 3, and the failures."""
        from polyrlaif.core.config import JudgeConfig
        from polyrlaif.core.judges.backends import build_backend
        from polyrlaif.core.judges.cache import JudgeCache
        from polyrlaif.core.judges.pointwise import PointwiseJudge, Rubric
        from polyrlaif.core.records import Candidate, PromptRecord

        rows = [{**r, "model_answer": answers[i]} for i, r in enumerate(self._rows)]
        cfg = JudgeConfig(backend=opts.judge_backend, model=opts.judge_model, base_url=opts.base_url)
        rubric = Rubric("mmhal", (MMHAL_CRITERION,), scale_min=0, scale_max=6)
        cache = JudgeCache(opts.cache or output_dir / "judge_cache.sqlite")
        judge = PointwiseJudge(build_backend(cfg), rubric, cache=cache)
        prompts = {str(i): PromptRecord(prompt_id=str(i), text=r["question"]) for i, r in enumerate(rows)}
        cands = [
            Candidate(candidate_id=str(i), prompt_id=str(i), text=r["model_answer"])
            for i, r in enumerate(rows)
        ]
        contexts = [
            {
                "image content": ", ".join(map(str, r.get("image_content", []))) or "(not given)",
                "standard answer": r["gt_answer"],
            }
            for r in rows
        ]
        judgments = judge.judge(prompts, cands, contexts)
        ratings = [j.scores.get("faithfulness") if j.failure is None else None for j in judgments]
        valid = [float(x) for x in ratings if x is not None]
        metrics = {
            "mmhal_score": sum(valid) / len(valid) if valid else float("nan"),
            "hallucination_rate": sum(x < 3 for x in valid) / len(valid) if valid else float("nan"),
            "n_rated": float(len(valid)),
            "judge_failures": float(len(rows) - len(valid)),
        }
        out = zip(rows, ratings, judgments, strict=True)
        ids = unique_ids(r.get("id", i) for i, r in enumerate(rows))
        items = [{"id": k, "rating": x} for k, x in zip(ids, ratings, strict=True)]
        return metrics, [{**r, "rating": x, "failure": j.failure} for r, x, j in out], items

    @staticmethod
    def aggregate(rows: Rows) -> dict[str, float]:
        """The mean rating and the share of ratings below 3, over the rated rows (NaN when none was
        rated); ``n_rated``."""
        valid = [float(r["rating"]) for r in rows if r["rating"] is not None]
        return {
            "mmhal_score": sum(valid) / len(valid) if valid else float("nan"),
            "hallucination_rate": sum(x < 3 for x in valid) / len(valid) if valid else float("nan"),
            "n_rated": float(len(valid)),
        }
