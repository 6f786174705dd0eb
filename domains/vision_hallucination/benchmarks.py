"""Hallucination benchmarks of the `vision_hallucination` domain: CHAIR, POPE, AMBER and MMHal-style.

Each evaluator either scores a predictions file (``--predictions``) or, given a policy (``--model``), asks
it first: every (image, question) is answered once, greedily by default, in fixed batches appended to
``generations.jsonl`` (a :class:`~polyrlaif.core.io.StageWriter`), so an interrupted evaluation resumes
where it stopped. The metrics come from :mod:`polyrlaif.evaluation.hallucination`; every evaluator writes
``metrics.json``, ``metrics.md`` and per-item rows under its output directory.
"""

from __future__ import annotations

import sys
from collections.abc import Hashable, Sequence
from pathlib import Path
from typing import Any

from polyrlaif.core.io import InputError, StageWriter, atomic_write_jsonl, read_jsonl
from polyrlaif.core.protocols import Policy

__all__ = ["AmberEvaluator", "ChairEvaluator", "MMHalEvaluator", "PopeEvaluator", "answer_all"]

POPE_SUFFIX = " Answer yes or no."


def _say(name: str, msg: str) -> None:
    print(f"[polyrlaif {name}] {msg}", file=sys.stderr, flush=True)


def _image_root(image_root: str | None, anchor: str | Path) -> Path:
    """The given root, else ``<dir of anchor>/../images`` (the synthetic world's layout)."""
    return Path(image_root) if image_root else Path(anchor).resolve().parent.parent / "images"


def answer_all(
    policy: Policy,
    items: Sequence[tuple[str, str, str]],
    out_path: Path,
    *,
    max_new_tokens: int,
    temperature: float = 0.0,
    seed: int = 0,
    batch_size: int = 8,
    desc: str = "answer",
) -> dict[str, str]:
    """Ask ``policy`` each ``(key, image path, text)`` once; resumable through ``out_path``.

    Returns:
        key -> answer text.

    Raises:
        InputError: an image is missing or unreadable (naming it), or ``out_path`` holds answers made
            with other decoding settings (they are never silently mixed).
    """
    from tqdm.auto import tqdm

    settings = {"policy": policy.model_id, "temperature": temperature, "max_new_tokens": max_new_tokens}
    stage = StageWriter(out_path, key="key")
    for row in stage.rows():
        if row.get("settings") != settings:
            raise InputError(
                f"{out_path}: answers made with {row.get('settings')}, not {settings}; use another --output"
            )
        break
    if not stage.done:
        done = stage.finished_keys
        todo = [it for it in items if it[0] not in done]
        with tqdm(total=len(items), initial=len(items) - len(todo), desc=desc, unit="item") as bar:
            for start in range(0, len(todo), batch_size):
                chunk = todo[start : start + batch_size]
                convs = [
                    [
                        {
                            "role": "user",
                            "content": [{"type": "image", "path": img}, {"type": "text", "text": text}],
                        }
                    ]
                    for _, img, text in chunk
                ]
                outs = policy.generate(
                    convs, n=1, temperature=temperature, max_new_tokens=max_new_tokens, seed=seed + start
                )
                stage.append(
                    [
                        {"key": k, "answer": o[0].strip(), "settings": settings}
                        for (k, _, _), o in zip(chunk, outs, strict=True)
                    ]
                )
                bar.update(len(chunk))
        stage.finish(order=[it[0] for it in items])
    return {r["key"]: r["answer"] for r in stage.rows()}


def _write(output_dir: Path, title: str, metrics: dict[str, float], rows: list[dict[str, Any]]) -> None:
    from polyrlaif.evaluation.tables import write_metrics

    atomic_write_jsonl(output_dir / "rows.jsonl", rows)
    write_metrics(output_dir, metrics)
    _say(title, " ".join(f"{k}={v:.4g}" for k, v in metrics.items() if isinstance(v, float)))


class ChairEvaluator:
    """CHAIR (Object HalBench): ``chair_s``, ``chair_i`` and ``recall`` of captions against COCO-format
    instance annotations (plus captions when given), objects matched by
    :class:`~polyrlaif.evaluation.hallucination.vocab.ObjectVocab` (COCO synonyms, or the categories'
    own ``synonyms``).

    Args:
        annotations: COCO instances JSON (``--annotations``).
        captions: COCO captions JSON whose objects join the ground truth.
        image_root: directory of the images (default ``<annotations dir>/../images``).
        instruction: what the policy is asked.
    """

    name = "chair"

    def __init__(
        self,
        *,
        annotations: str | None = None,
        captions: str | None = None,
        image_root: str | None = None,
        instruction: str = "Describe the image.",
    ) -> None:
        self.annotations, self.captions = annotations, captions
        self.image_root, self.instruction = image_root, instruction

    def evaluate(
        self,
        policy: Policy | None,
        *,
        output_dir: Path,
        limit: int | None = None,
        samples: int = 1,
        temperature: float = 0.0,
        max_new_tokens: int = 64,
        seed: int = 0,
        batch_size: int = 8,
        predictions: str | None = None,
        annotations: str | None = None,
        image_root: str | None = None,
    ) -> dict[str, float]:
        """Caption (or read captions), then score them; writes ``predictions.jsonl`` when generating."""
        import json

        from polyrlaif.evaluation.hallucination.chair import chair_scores
        from polyrlaif.evaluation.hallucination.loaders import (
            load_chair_predictions,
            load_coco_captions,
            load_coco_instances,
        )
        from polyrlaif.evaluation.hallucination.vocab import ObjectVocab

        ann_path = annotations or self.annotations
        if not ann_path:
            raise ValueError("chair needs --annotations (a COCO instances JSON)")
        output_dir = Path(output_dir)
        instances = load_coco_instances(ann_path)
        if predictions:
            preds = load_chair_predictions(predictions)
            if limit is not None:
                preds = dict(list(preds.items())[:limit])
        elif policy is not None:
            root = _image_root(image_root or self.image_root, ann_path)
            images = json.loads(Path(ann_path).read_text())["images"][: limit or None]
            items = [(str(im["id"]), str(root / im["file_name"]), self.instruction) for im in images]
            got = answer_all(
                policy, items, output_dir / "generations.jsonl", max_new_tokens=max_new_tokens,
                temperature=temperature, seed=seed, batch_size=batch_size, desc="chair captions",
            )  # fmt: skip
            preds = {im["id"]: got[str(im["id"])] for im in images}
            atomic_write_jsonl(
                output_dir / "predictions.jsonl", [{"image_id": k, "caption": v} for k, v in preds.items()]
            )
        else:
            raise ValueError("chair needs --model or --predictions")
        captions = load_coco_captions(self.captions) if self.captions else None
        result = chair_scores(
            preds, instances.objects, ObjectVocab.from_categories(instances.categories), captions
        )
        metrics = result.metrics()
        metrics["mean_words"] = sum(len(c.split()) for c in preds.values()) / len(
            preds
        )  # a collapse shows here
        metrics["mean_objects"] = result.n_mentioned / result.n_images
        _write(output_dir, "CHAIR", metrics, result.to_dict()["rows"])
        return metrics


class PopeEvaluator:
    """POPE: yes/no object probing; accuracy, precision, recall, F1 and yes-ratio, per split and overall.

    Args:
        questions: one POPE JSONL, or several (e.g. the random, popular and adversarial files).
        image_root: directory of the images (default ``<questions dir>/../images``).
    """

    name = "pope"

    def __init__(self, *, questions: str | list[str] | None = None, image_root: str | None = None) -> None:
        self.questions = [questions] if isinstance(questions, str) else list(questions or [])
        self.image_root = image_root

    def evaluate(
        self,
        policy: Policy | None,
        *,
        output_dir: Path,
        limit: int | None = None,
        samples: int = 1,
        temperature: float = 0.0,
        max_new_tokens: int = 8,
        seed: int = 0,
        batch_size: int = 8,
        predictions: str | None = None,
        annotations: str | None = None,
        image_root: str | None = None,
    ) -> dict[str, float]:
        """Answer (or read answers to) the questions, then score them."""
        from polyrlaif.evaluation.hallucination.loaders import load_pope_answers, load_pope_questions
        from polyrlaif.evaluation.hallucination.pope import attach_answers, pope_scores

        files = [annotations] if annotations else self.questions
        if not files:
            raise ValueError("pope needs questions (--annotations POPE.jsonl, or the questions option)")
        output_dir = Path(output_dir)
        questions = []
        for f in files:
            rows = load_pope_questions(f)[: limit or None]
            if len(files) > 1:  # ids restart per file: keep them apart
                rows = [
                    {**r, "question_id": f"{r['split'] or Path(f).stem}:{r['question_id']}"} for r in rows
                ]
            questions += rows
        if predictions:
            answers: dict[Hashable, str] = load_pope_answers(predictions)
            if limit:
                questions = [q for q in questions if q["question_id"] in answers]
            asked = {q["question_id"] for q in questions}  # one answers file may cover several splits
            answers = {k: v for k, v in answers.items() if k in asked}
        elif policy is not None:
            root = _image_root(image_root or self.image_root, files[0])
            items = [
                (str(q["question_id"]), str(root / q["image"]), q["text"] + POPE_SUFFIX) for q in questions
            ]
            got = answer_all(
                policy, items, output_dir / "generations.jsonl", max_new_tokens=max_new_tokens,
                temperature=temperature, seed=seed, batch_size=batch_size, desc="pope answers",
            )  # fmt: skip
            answers = {q["question_id"]: got[str(q["question_id"])] for q in questions}
        else:
            raise ValueError("pope needs --model or --predictions")
        rows = attach_answers(questions, answers)
        result = pope_scores(rows, unparsed_as="yes")  # POPE's script: only an explicit "no" is a no
        metrics = {k: float(v) for k, v in result.overall.to_dict().items() if isinstance(v, (int, float))}
        for split, m in result.splits.items():
            if len(result.splits) > 1:
                metrics.update(
                    {f"{split}/{k}": float(v) for k, v in m.to_dict().items() if k in ("accuracy", "f1")}
                )
        _write(output_dir, "POPE", metrics, rows)
        return metrics


class AmberEvaluator:
    """AMBER's generative metrics (CHAIR, Cover, Hal) and, for discriminative queries, accuracy and F1.

    Args:
        queries: AMBER query JSON (``[{"id", "image", "query"}]``).
        annotations: AMBER annotation JSON (``--annotations``).
        image_root: directory of the images (default ``<queries dir>/../images``).
    """

    name = "amber"

    def __init__(
        self, *, queries: str | None = None, annotations: str | None = None, image_root: str | None = None
    ) -> None:
        self.queries, self.annotations, self.image_root = queries, annotations, image_root

    def evaluate(
        self,
        policy: Policy | None,
        *,
        output_dir: Path,
        limit: int | None = None,
        samples: int = 1,
        temperature: float = 0.0,
        max_new_tokens: int = 64,
        seed: int = 0,
        batch_size: int = 8,
        predictions: str | None = None,
        annotations: str | None = None,
        image_root: str | None = None,
    ) -> dict[str, float]:
        """Answer (or read responses to) the queries, then score them."""
        from polyrlaif.evaluation.hallucination.amber import amber_scores
        from polyrlaif.evaluation.hallucination.loaders import (
            load_amber_annotations,
            load_amber_queries,
            load_amber_responses,
        )

        ann_path = annotations or self.annotations
        if not ann_path:
            raise ValueError("amber needs --annotations (AMBER annotation JSON)")
        output_dir = Path(output_dir)
        anns = load_amber_annotations(ann_path)
        if predictions:
            responses = load_amber_responses(predictions)
            if limit is not None:
                responses = dict(list(responses.items())[:limit])
        elif policy is not None:
            if not self.queries:
                raise ValueError("amber with --model needs the queries option (AMBER query JSON)")
            queries = load_amber_queries(self.queries)[: limit or None]
            root = _image_root(image_root or self.image_root, self.queries)
            items = [(str(q["id"]), str(root / q["image"]), q["query"]) for q in queries]
            got = answer_all(
                policy, items, output_dir / "generations.jsonl", max_new_tokens=max_new_tokens,
                temperature=temperature, seed=seed, batch_size=batch_size, desc="amber responses",
            )  # fmt: skip
            responses = {q["id"]: got[str(q["id"])] for q in queries}
            atomic_write_jsonl(
                output_dir / "responses.jsonl", [{"id": k, "response": v} for k, v in responses.items()]
            )
        else:
            raise ValueError("amber needs --model or --predictions")
        result = amber_scores(responses, anns)
        metrics = result.metrics()
        _write(output_dir, "AMBER", metrics, [{"id": k, "response": v} for k, v in responses.items()])
        return metrics


MMHAL_CRITERION = (
    "faithfulness",
    "MMHal-Bench's rating of the response against the image content and the standard answer: 6 = very "
    "informative with good analysis or reasoning, no hallucination; 5 = very informative, no hallucination; "
    "4 = somewhat informative, no hallucination; 3 = not informative, no hallucination; 2 = very "
    "informative, with hallucination; 1 = somewhat informative, with hallucination; 0 = not informative, "
    "with hallucination",
)


class MMHalEvaluator:
    """MMHal-style judge score: a judge model rates each answer 0-6 given the image content and the
    standard answer (MMHal-Bench's rubric); reports the mean rating and the hallucination rate
    (ratings below 3). The rating goes through the core judge layer (cached, failures counted).

    Rows (JSONL or MMHal's JSON list): ``{"image", "question", "gt_answer", "image_content": [...]}``;
    a predictions file adds ``model_answer``.

    Args:
        questions: the MMHal rows (``--annotations`` also works).
        image_root: directory of the images (default ``<questions dir>/../images``).
        judge_backend: ``openai`` or ``transformers``.
        judge_model: the judge model.
        base_url: the OpenAI-compatible endpoint.
        cache: judge cache file (default ``<output_dir>/judge_cache.sqlite``).
    """

    name = "mmhal"

    def __init__(
        self,
        *,
        questions: str | None = None,
        image_root: str | None = None,
        judge_backend: str = "openai",
        judge_model: str = "gpt-4o-mini",
        base_url: str = "http://127.0.0.1:8000/v1",
        cache: str | None = None,
    ) -> None:
        self.questions, self.image_root, self.cache = questions, image_root, cache
        self.judge_backend, self.judge_model, self.base_url = judge_backend, judge_model, base_url

    def _rows(self, path: str) -> list[dict[str, Any]]:
        import json

        p = Path(path)
        rows = json.loads(p.read_text()) if p.suffix == ".json" else read_jsonl(p)
        for i, r in enumerate(rows):
            missing = [f for f in ("image", "question", "gt_answer") if f not in r]
            if missing:
                raise InputError(f"{p}: row {i + 1} is missing field(s) {', '.join(map(repr, missing))}")
        return rows

    def evaluate(
        self,
        policy: Policy | None,
        *,
        output_dir: Path,
        limit: int | None = None,
        samples: int = 1,
        temperature: float = 0.0,
        max_new_tokens: int = 128,
        seed: int = 0,
        batch_size: int = 8,
        predictions: str | None = None,
        annotations: str | None = None,
        image_root: str | None = None,
    ) -> dict[str, float]:
        """Answer (or read answers), have the judge rate them; report the mean and the hallucination rate."""
        from polyrlaif.core.config import JudgeConfig
        from polyrlaif.core.judges.backends import build_backend
        from polyrlaif.core.judges.cache import JudgeCache
        from polyrlaif.core.judges.pointwise import PointwiseJudge, Rubric
        from polyrlaif.core.records import Candidate, PromptRecord

        output_dir = Path(output_dir)
        src = predictions or annotations or self.questions
        if not src:
            raise ValueError("mmhal needs the questions (--annotations) or --predictions with model_answer")
        rows = self._rows(src)[: limit or None]
        if predictions:
            if any("model_answer" not in r for r in rows):
                raise InputError(f"{predictions}: every row needs 'model_answer'")
        elif policy is not None:
            root = _image_root(image_root or self.image_root, src)
            items = [(str(i), str(root / r["image"]), r["question"]) for i, r in enumerate(rows)]
            got = answer_all(
                policy, items, output_dir / "generations.jsonl", max_new_tokens=max_new_tokens,
                temperature=temperature, seed=seed, batch_size=batch_size, desc="mmhal answers",
            )  # fmt: skip
            rows = [{**r, "model_answer": got[str(i)]} for i, r in enumerate(rows)]
        else:
            raise ValueError("mmhal needs --model or --predictions")
        backend = build_backend(
            JudgeConfig(backend=self.judge_backend, model=self.judge_model, base_url=self.base_url)
        )
        rubric = Rubric("mmhal", (MMHAL_CRITERION,), scale_min=0, scale_max=6)
        judge = PointwiseJudge(
            backend, rubric, cache=JudgeCache(self.cache or output_dir / "judge_cache.sqlite")
        )
        prompts = {str(i): PromptRecord(prompt_id=str(i), text=r["question"]) for i, r in enumerate(rows)}
        cands = [
            Candidate(candidate_id=str(i), prompt_id=str(i), text=r["model_answer"])
            for i, r in enumerate(rows)
        ]
        ctx = [
            {
                "image content": ", ".join(map(str, r.get("image_content", []))) or "(not given)",
                "standard answer": r["gt_answer"],
            }
            for r in rows
        ]
        judgments = judge.judge(prompts, cands, ctx)
        ratings = [j.scores.get("faithfulness") if j.failure is None else None for j in judgments]
        valid = [float(x) for x in ratings if x is not None]
        metrics = {
            "mmhal_score": sum(valid) / len(valid) if valid else float("nan"),
            "hallucination_rate": sum(x < 3 for x in valid) / len(valid) if valid else float("nan"),
            "n_rated": float(len(valid)),
            "judge_failures": float(len(rows) - len(valid)),
        }
        out_rows = [
            {**r, "rating": x, "failure": j.failure}
            for r, x, j in zip(rows, ratings, judgments, strict=True)
        ]
        _write(output_dir, "MMHal", metrics, out_rows)
        return metrics
