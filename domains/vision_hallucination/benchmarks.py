"""Hallucination benchmarks of the `vision_hallucination` domain: CHAIR and POPE (AMBER in
:mod:`~polyrlaif.domains.vision_hallucination.amber`, MMHal-style in
:mod:`~polyrlaif.domains.vision_hallucination.mmhal`).

Each evaluator either scores a predictions file (the ``predictions`` option, ``--predictions``) or, given
a policy (``--model``), asks it first: every (image, question) is answered once, greedily by default, in
fixed batches appended to ``generations.jsonl`` (a :class:`~polyrlaif.core.io.StageWriter`), so an
interrupted evaluation resumes where it stopped. The metrics come from
:mod:`polyrlaif.evaluation.hallucination`; every evaluator writes ``metrics.json``, ``metrics.md``,
per-item details (``rows.jsonl``) and ``items.jsonl``: one row per item, with a stable ``id`` and the
numbers from which its ``aggregate(rows)`` recomputes the metrics (:mod:`polyrlaif.core.evidence`).
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from polyrlaif.core.benchmarks import resolve_max_new_tokens, resolve_options
from polyrlaif.core.evidence import ITEMS_FILE
from polyrlaif.core.io import InputError, StageWriter, atomic_write_jsonl
from polyrlaif.core.log import get_logger
from polyrlaif.core.protocols import Direction, EvalRequest, Policy
from polyrlaif.evaluation.items import ratio, unique_ids

__all__ = [
    "ChairEvaluator",
    "ChairOptions",
    "VisionBenchmark",
    "VisionOptions",
    "answer_all",
    "image_root_for",
]

log = get_logger(__name__)



def _say(name: str, msg: str) -> None:
    log.info(f"{name}: {msg}")


def image_root_for(image_root: str | None, anchor: str | Path) -> Path:
    """Where a benchmark's image paths are relative to: ``image_root`` if given, else
    ``<dir of anchor>/../images`` (the synthetic world's layout), ``anchor`` being its questions or
    annotations file."""
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


Item = tuple[Hashable, str, str]  # (key, image path, text the policy is asked)
#: :meth:`VisionBenchmark.score`'s result: metrics, per-item details (``rows.jsonl``), ``items.jsonl`` rows.
Scored = tuple[dict[str, float], list[dict[str, Any]], list[dict[str, Any]]]
Rows = Sequence[Mapping[str, Any]]


def _write(output_dir: Path, title: str, scored: Scored) -> None:
    from polyrlaif.evaluation.tables import write_metrics

    metrics, rows, items = scored
    atomic_write_jsonl(output_dir / "rows.jsonl", rows)
    write_metrics(output_dir, metrics)
    atomic_write_jsonl(output_dir / ITEMS_FILE, items)
    _say(title, " ".join(f"{k}={v:.4g}" for k, v in metrics.items() if isinstance(v, float)))


@dataclass
class VisionOptions:
    """The files every vision benchmark takes (``--predictions``, ``--annotations``, ``--images``).

    Attributes:
        predictions: score this predictions file instead of asking a policy.
        annotations: the ground truth the benchmark reads (its format is the benchmark's).
        image_root: directory of the images (default ``<annotations dir>/../images``, the synthetic
            world's layout; see :func:`image_root_for`).
    """

    predictions: str | None = None
    annotations: str | None = None
    image_root: str | None = None


class VisionBenchmark:
    """The flow every vision benchmark shares: answers from ``predictions`` or from the policy (resumably,
    through :func:`answer_all`), then :meth:`score`; writes ``rows.jsonl``, ``items.jsonl`` and the metrics.

    Subclasses declare their ``Options`` (a :class:`VisionOptions` subclass), ``metrics`` and ``name``, and
    say which items to ask (:meth:`items`), how to read a predictions file (:meth:`read`) and how to score
    answers (:meth:`score`); all three get the resolved options. Their static :meth:`aggregate` turns
    ``items.jsonl`` rows back into the metrics.
    """

    name: ClassVar[str] = "vision"
    title: ClassVar[str] = "vision"
    Options: ClassVar[type[VisionOptions]] = VisionOptions
    metrics: ClassVar[dict[str, Direction]] = {}
    max_new_tokens: ClassVar[int] = 64

    def items(self, opts: Any, limit: int | None) -> list[Item]:
        """What the policy is asked."""
        raise NotImplementedError

    def read(self, opts: Any, limit: int | None) -> dict[Hashable, str]:
        """Answers from the predictions file ``opts.predictions``, by key."""
        raise NotImplementedError

    def score(self, answers: dict[Hashable, str], opts: Any, output_dir: Path) -> Scored:
        """Metrics, per-item details and ``items.jsonl`` rows (a unique, stable ``id`` each)."""
        raise NotImplementedError

    @staticmethod
    def aggregate(rows: Rows) -> dict[str, float]:
        """The metrics of ``items.jsonl`` rows, as :meth:`score` computed them on all of them."""
        raise NotImplementedError

    def evaluate(self, policy: Policy | None, request: EvalRequest) -> dict[str, float]:
        """Read or generate the answers, score them and write the results under ``request.output_dir``.

        Args:
            policy: the model to ask, or ``None`` to score ``options.predictions``.
            request: the run; ``max_new_tokens`` ``None`` means :attr:`max_new_tokens`, ``options`` an
                instance of this benchmark's ``Options`` (``None``: its defaults). ``samples`` is not
                used: every item is answered once.

        Raises:
            ValueError: both or neither of a policy and ``options.predictions``.
        """
        opts = resolve_options(self, request.options)
        output_dir = Path(request.output_dir)
        if opts.predictions and policy is not None:
            raise ValueError(f"{self.name}: give a model or predictions, not both")
        if opts.predictions:
            answers = self.read(opts, request.limit)
        elif policy is not None:
            items = self.items(opts, request.limit)
            got = answer_all(
                policy, items, output_dir / "generations.jsonl",
                max_new_tokens=resolve_max_new_tokens(self, request.max_new_tokens),
                temperature=request.temperature, seed=request.seed, batch_size=request.batch_size,
                desc=f"{self.name} answers",
            )  # fmt: skip
            answers = {key: got[key] for key, _, _ in items}
        else:
            raise ValueError(f"{self.name} needs --model or --predictions")
        scored = self.score(answers, opts, output_dir)
        _write(output_dir, self.title, scored)
        return scored[0]


@dataclass
class ChairOptions(VisionOptions):
    """CHAIR's options.

    Attributes:
        annotations: COCO instances JSON (required).
        captions: COCO captions JSON whose objects join the ground truth.
        instruction: what the policy is asked.
    """

    captions: str | None = None
    instruction: str = "Describe the image."


class ChairEvaluator(VisionBenchmark):
    """CHAIR (Object HalBench): ``chair_s``, ``chair_i`` and ``recall`` of captions against COCO-format
    instance annotations (plus captions when given), objects matched by
    :class:`~polyrlaif.evaluation.hallucination.vocab.ObjectVocab` (COCO synonyms, or the categories'
    own ``synonyms``). Also ``mean_words`` and ``mean_objects``, where a collapse of the captions shows.
    Options: :class:`ChairOptions`. ``items.jsonl``: per image (``id``: its image id), the objects its
    caption names (``n_mentioned``), those not in the ground truth (``n_hallucinated``), the ground-truth
    objects (``n_gt``) and those the caption names (``n_recalled``).
    """

    name, title = "chair", "CHAIR"
    Options = ChairOptions
    metrics = {"chair_s": "lower", "chair_i": "lower", "recall": "higher"}

    @staticmethod
    def _annotations(opts: ChairOptions) -> str:
        if not opts.annotations:
            raise ValueError("chair needs --annotations (a COCO instances JSON)")
        return opts.annotations

    def items(self, opts: ChairOptions, limit: int | None) -> list[Item]:
        """One caption request per image of the instances file."""
        import json

        path = self._annotations(opts)
        try:
            images = json.loads(Path(path).read_text())["images"][: limit or None]
        except (OSError, ValueError, KeyError) as exc:
            raise InputError(f"{path}: not a COCO instances file with 'images': {exc}") from None
        root = image_root_for(opts.image_root, path)
        return [(im["id"], str(root / im["file_name"]), opts.instruction) for im in images]

    def read(self, opts: ChairOptions, limit: int | None) -> dict[Hashable, str]:
        """``{"image_id", "caption"}`` rows."""
        from polyrlaif.evaluation.hallucination.loaders import load_chair_predictions

        assert opts.predictions is not None
        return dict(list(load_chair_predictions(opts.predictions).items())[: limit or None])

    def score(self, answers: dict[Hashable, str], opts: ChairOptions, output_dir: Path) -> Scored:
        """CHAIR over the captions; the captions are also written as ``predictions.jsonl``."""
        from polyrlaif.evaluation.hallucination.chair import chair_scores
        from polyrlaif.evaluation.hallucination.loaders import load_coco_captions, load_coco_instances
        from polyrlaif.evaluation.hallucination.vocab import ObjectVocab

        instances = load_coco_instances(self._annotations(opts))
        captions = load_coco_captions(opts.captions) if opts.captions else None
        vocab = ObjectVocab.from_categories(instances.categories)
        result = chair_scores(answers, instances.objects, vocab, captions)
        metrics = result.metrics()
        metrics["mean_words"] = sum(len(c.split()) for c in answers.values()) / len(answers)
        metrics["mean_objects"] = result.n_mentioned / result.n_images
        preds = [{"image_id": k, "caption": v} for k, v in answers.items()]
        atomic_write_jsonl(output_dir / "predictions.jsonl", preds)
        ids = unique_ids(r.image_id for r in result.rows)
        items = [
            {
                "id": item_id,
                "n_mentioned": len(r.mentioned),
                "n_hallucinated": len(r.hallucinated),
                "n_gt": len(r.gt),
                "n_recalled": len(set(r.mentioned) & set(r.gt)),
            }
            for item_id, r in zip(ids, result.rows, strict=True)
        ]
        return metrics, result.to_dict()["rows"], items

    @staticmethod
    def aggregate(rows: Rows) -> dict[str, float]:
        """``chair_s`` (share of captions with a hallucinated object), and ``chair_i`` and ``recall`` as
        ratios of the summed counts, not means of per-image ratios; NaN where a sum is 0. Also
        ``mean_objects`` and ``n_images``."""
        if not rows:
            return {}
        mentioned, gt = sum(r["n_mentioned"] for r in rows), sum(r["n_gt"] for r in rows)
        return {
            "chair_s": sum(r["n_hallucinated"] > 0 for r in rows) / len(rows),
            "chair_i": ratio(sum(r["n_hallucinated"] for r in rows), mentioned),
            "recall": ratio(sum(r["n_recalled"] for r in rows), gt),
            "mean_objects": mentioned / len(rows),
            "n_images": float(len(rows)),
        }
