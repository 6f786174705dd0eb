"""Hallucination benchmarks of the `vision_hallucination` domain: CHAIR, POPE and AMBER (MMHal-style in
:mod:`~polyrlaif.domains.vision_hallucination.mmhal`).

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

from polyrlaif.core.io import InputError, StageWriter, atomic_write_jsonl
from polyrlaif.core.protocols import Policy

__all__ = [
    "AmberEvaluator",
    "ChairEvaluator",
    "PopeEvaluator",
    "VisionBenchmark",
    "answer_all",
]

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


Item = tuple[Hashable, str, str]  # (key, image path, text the policy is asked)


class VisionBenchmark:
    """The flow every vision benchmark shares: answers from ``--predictions`` or from the policy (resumably,
    through :func:`answer_all`), then :meth:`score`; writes ``rows.jsonl`` and the metrics.

    Subclasses say which items to ask (:meth:`items`), how to read a predictions file (:meth:`read`) and
    how to score answers (:meth:`score`); all three get the resolved annotations path.
    """

    name = "vision"
    title = "vision"

    def items(self, annotations: str | None, image_root: str | None, limit: int | None) -> list[Item]:
        """What the policy is asked."""
        raise NotImplementedError

    def read(self, predictions: str, annotations: str | None, limit: int | None) -> dict[Hashable, str]:
        """Answers from a predictions file, by key."""
        raise NotImplementedError

    def score(
        self, answers: dict[Hashable, str], annotations: str | None, output_dir: Path
    ) -> tuple[dict[str, float], list[dict[str, Any]]]:
        """Metrics and per-item rows."""
        raise NotImplementedError

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
        """Read or generate the answers, score them and write the results under ``output_dir``."""
        output_dir = Path(output_dir)
        if predictions and policy is not None:
            raise ValueError(f"{self.name}: give a model or predictions, not both")
        if predictions:
            answers = self.read(predictions, annotations, limit)
        elif policy is not None:
            items = self.items(annotations, image_root, limit)
            got = answer_all(
                policy, items, output_dir / "generations.jsonl", max_new_tokens=max_new_tokens,
                temperature=temperature, seed=seed, batch_size=batch_size, desc=f"{self.name} answers",
            )  # fmt: skip
            answers = {key: got[key] for key, _, _ in items}
        else:
            raise ValueError(f"{self.name} needs --model or --predictions")
        metrics, rows = self.score(answers, annotations, output_dir)
        _write(output_dir, self.title, metrics, rows)
        return metrics


class ChairEvaluator(VisionBenchmark):
    """CHAIR (Object HalBench): ``chair_s``, ``chair_i`` and ``recall`` of captions against COCO-format
    instance annotations (plus captions when given), objects matched by
    :class:`~polyrlaif.evaluation.hallucination.vocab.ObjectVocab` (COCO synonyms, or the categories'
    own ``synonyms``). Also ``mean_words`` and ``mean_objects``, where a collapse of the captions shows.

    Args:
        annotations: COCO instances JSON (``--annotations``).
        captions: COCO captions JSON whose objects join the ground truth.
        image_root: directory of the images (default ``<annotations dir>/../images``).
        instruction: what the policy is asked.
    """

    name, title = "chair", "CHAIR"

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

    def _annotations(self, annotations: str | None) -> str:
        path = annotations or self.annotations
        if not path:
            raise ValueError("chair needs --annotations (a COCO instances JSON)")
        return path

    def items(self, annotations: str | None, image_root: str | None, limit: int | None) -> list[Item]:
        """One caption request per image of the instances file."""
        import json

        path = self._annotations(annotations)
        try:
            images = json.loads(Path(path).read_text())["images"][: limit or None]
        except (OSError, ValueError, KeyError) as exc:
            raise InputError(f"{path}: not a COCO instances file with 'images': {exc}") from None
        root = _image_root(image_root or self.image_root, path)
        return [(im["id"], str(root / im["file_name"]), self.instruction) for im in images]

    def read(self, predictions: str, annotations: str | None, limit: int | None) -> dict[Hashable, str]:
        """``{"image_id", "caption"}`` rows."""
        from polyrlaif.evaluation.hallucination.loaders import load_chair_predictions

        return dict(list(load_chair_predictions(predictions).items())[: limit or None])

    def score(
        self, answers: dict[Hashable, str], annotations: str | None, output_dir: Path
    ) -> tuple[dict[str, float], list[dict[str, Any]]]:
        """CHAIR over the captions; the captions are also written as ``predictions.jsonl``."""
        from polyrlaif.evaluation.hallucination.chair import chair_scores
        from polyrlaif.evaluation.hallucination.loaders import load_coco_captions, load_coco_instances
        from polyrlaif.evaluation.hallucination.vocab import ObjectVocab

        instances = load_coco_instances(self._annotations(annotations))
        captions = load_coco_captions(self.captions) if self.captions else None
        vocab = ObjectVocab.from_categories(instances.categories)
        result = chair_scores(answers, instances.objects, vocab, captions)
        metrics = result.metrics()
        metrics["mean_words"] = sum(len(c.split()) for c in answers.values()) / len(answers)
        metrics["mean_objects"] = result.n_mentioned / result.n_images
        preds = [{"image_id": k, "caption": v} for k, v in answers.items()]
        atomic_write_jsonl(output_dir / "predictions.jsonl", preds)
        return metrics, result.to_dict()["rows"]


class PopeEvaluator(VisionBenchmark):
    """POPE: yes/no object probing; accuracy, precision, recall, F1 and yes-ratio, per split and overall.
    As POPE's own script, only an explicit "no" is a no; ``unparsed`` counts answers with no yes/no word.

    Args:
        questions: one POPE JSONL, or several (e.g. the random, popular and adversarial files);
            ``--annotations`` names one instead.
        image_root: directory of the images (default ``<questions dir>/../images``).
    """

    name, title = "pope", "POPE"

    def __init__(self, *, questions: str | list[str] | None = None, image_root: str | None = None) -> None:
        self.questions = [questions] if isinstance(questions, str) else list(questions or [])
        self.image_root = image_root
        self._asked: list[dict[str, Any]] = []

    def _questions(self, annotations: str | None, limit: int | None) -> list[dict[str, Any]]:
        from polyrlaif.evaluation.hallucination.loaders import load_pope_questions

        files = [annotations] if annotations else self.questions
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

    def items(self, annotations: str | None, image_root: str | None, limit: int | None) -> list[Item]:
        """One question per row, with the instruction to answer yes or no."""
        questions = self._questions(annotations, limit)
        root = _image_root(image_root or self.image_root, self._files[0])
        return [(q["question_id"], str(root / q["image"]), q["text"] + POPE_SUFFIX) for q in questions]

    def read(self, predictions: str, annotations: str | None, limit: int | None) -> dict[Hashable, str]:
        """``{"question_id", "answer"}`` rows (or LLaVA's ``"text"``); one file may cover several splits."""
        from polyrlaif.evaluation.hallucination.loaders import load_pope_answers

        questions = self._questions(annotations, None)
        answers = load_pope_answers(predictions)
        if limit:
            self._asked = [q for q in questions if q["question_id"] in answers][:limit]
        asked = {q["question_id"] for q in self._asked}
        return {k: v for k, v in answers.items() if k in asked}

    def score(
        self, answers: dict[Hashable, str], annotations: str | None, output_dir: Path
    ) -> tuple[dict[str, float], list[dict[str, Any]]]:
        """POPE metrics overall, plus accuracy and F1 per split when there are several."""
        from polyrlaif.evaluation.hallucination.pope import attach_answers, pope_scores

        rows = attach_answers(self._asked, answers)
        result = pope_scores(rows, unparsed_as="yes")  # POPE's script: only an explicit "no" is a no
        metrics = {k: float(v) for k, v in result.overall.to_dict().items() if isinstance(v, (int, float))}
        if len(result.splits) > 1:
            for split, m in result.splits.items():
                metrics.update({f"{split}/{k}": float(getattr(m, k)) for k in ("accuracy", "f1")})
        return metrics, rows


class AmberEvaluator(VisionBenchmark):
    """AMBER's generative metrics (CHAIR, Cover, Hal) and, for discriminative queries, accuracy and F1.

    Args:
        queries: AMBER query JSON (``[{"id", "image", "query"}]``), for ``--model``.
        annotations: AMBER annotation JSON (``--annotations`` also works).
        image_root: directory of the images (default ``<queries dir>/../images``).
    """

    name, title = "amber", "AMBER"

    def __init__(
        self, *, queries: str | None = None, annotations: str | None = None, image_root: str | None = None
    ) -> None:
        self.queries, self.annotations, self.image_root = queries, annotations, image_root

    def items(self, annotations: str | None, image_root: str | None, limit: int | None) -> list[Item]:
        """One request per AMBER query."""
        from polyrlaif.evaluation.hallucination.loaders import load_amber_queries

        if not self.queries:
            raise ValueError("amber with --model needs the queries option (AMBER query JSON)")
        queries = load_amber_queries(self.queries)[: limit or None]
        root = _image_root(image_root or self.image_root, self.queries)
        return [(q["id"], str(root / q["image"]), q["query"]) for q in queries]

    def read(self, predictions: str, annotations: str | None, limit: int | None) -> dict[Hashable, str]:
        """AMBER responses (``[{"id", "response"}]``, JSON or JSONL)."""
        from polyrlaif.evaluation.hallucination.loaders import load_amber_responses

        return dict(list(load_amber_responses(predictions).items())[: limit or None])

    def score(
        self, answers: dict[Hashable, str], annotations: str | None, output_dir: Path
    ) -> tuple[dict[str, float], list[dict[str, Any]]]:
        """AMBER's metrics against its annotation file."""
        from polyrlaif.evaluation.hallucination.amber import amber_scores
        from polyrlaif.evaluation.hallucination.loaders import load_amber_annotations

        path = annotations or self.annotations
        if not path:
            raise ValueError("amber needs --annotations (AMBER annotation JSON)")
        result = amber_scores(answers, load_amber_annotations(path))
        return result.metrics(), [{"id": k, "response": v} for k, v in answers.items()]
