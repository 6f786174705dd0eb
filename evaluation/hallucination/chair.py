"""CHAIR: how many of the objects a caption names are not in the image (Rohrbach et al., 2018).

For each image the ground truth is the set of its annotated categories and, when reference captions
are given, the objects those captions name (the original CHAIR uses both, because instance annotations
miss objects that every annotator mentions). Objects are counted once per response, however often a
caption repeats them.

* ``CHAIR_s``: fraction of responses that name at least one object not in the ground truth;
* ``CHAIR_i``: hallucinated objects / mentioned objects, summed over responses;
* ``recall``: ground-truth objects mentioned / ground-truth objects, over the images with a prediction.

Every metric is a fraction in [0, 1]; a ratio with an empty denominator is 0.0 (no objects mentioned
means none hallucinated).
"""

from __future__ import annotations

import os
from collections.abc import Hashable, Iterable, Mapping
from dataclasses import asdict, dataclass

from polyrlaif.evaluation.hallucination.loaders import (
    load_chair_predictions,
    load_coco_captions,
    load_coco_instances,
)
from polyrlaif.evaluation.hallucination.vocab import ObjectVocab

__all__ = ["ChairResult", "ChairRow", "chair_from_files", "chair_scores"]


@dataclass(frozen=True)
class ChairRow:
    """One scored prediction.

    Attributes:
        image_id: the image.
        caption: the predicted caption.
        mentioned: categories the caption names, sorted.
        hallucinated: the mentioned categories that are not in ``gt``, sorted.
        gt: the image's ground-truth categories, sorted.
    """

    image_id: Hashable
    caption: str
    mentioned: tuple[str, ...]
    hallucinated: tuple[str, ...]
    gt: tuple[str, ...]


@dataclass(frozen=True)
class ChairResult:
    """CHAIR metrics over a set of predictions, with the counts behind them and one row per image."""

    chair_s: float
    chair_i: float
    recall: float
    n_images: int
    n_mentioned: int
    n_hallucinated: int
    n_gt: int
    n_gt_mentioned: int
    rows: tuple[ChairRow, ...]

    def metrics(self) -> dict[str, float]:
        """The headline numbers, for a results table."""
        return {
            "chair_s": self.chair_s,
            "chair_i": self.chair_i,
            "recall": self.recall,
            "n_images": float(self.n_images),
        }

    def to_dict(self) -> dict:
        """Everything, JSON-ready (rows as dicts with list fields)."""
        out = asdict(self)
        out["rows"] = [{k: list(v) if isinstance(v, tuple) else v for k, v in r.items()} for r in out["rows"]]
        return out


def _ratio(num: int, den: int) -> float:
    return num / den if den else 0.0


def _unknown_image(image_id: Hashable, known: Iterable[Hashable]) -> ValueError:
    known = set(known)
    hint = ""
    # Predictions often carry "42" for COCO's 42 (or the reverse); say so rather than just failing.
    alt = str(image_id) if isinstance(image_id, int) else image_id
    if isinstance(alt, str) and alt.isdigit() and int(alt) in known:
        hint = f" (the annotations have the integer id {int(alt)})"
    elif str(image_id) in known:
        hint = f" (the annotations have the string id {str(image_id)!r})"
    return ValueError(f"prediction for image id {image_id!r}, which has no annotation{hint}")


def chair_scores(
    predictions: Mapping[Hashable, str],
    gt_objects: Mapping[Hashable, Iterable[str]],
    vocab: ObjectVocab,
    captions: Mapping[Hashable, Iterable[str]] | None = None,
) -> ChairResult:
    """Score captions with CHAIR.

    Args:
        predictions: image id -> predicted caption.
        gt_objects: image id -> annotated category names (from the instances file).
        vocab: the object matcher; its categories must include every ground-truth name.
        captions: image id -> reference captions; the objects they name join the ground truth.

    Returns:
        The metrics, counts and per-image rows (in ``predictions`` order).

    Raises:
        ValueError: if ``predictions`` is empty, a prediction's image id is in neither ``gt_objects``
            nor ``captions`` (the message names the id), or a ground-truth name is not in ``vocab``.
    """
    if not predictions:
        raise ValueError("CHAIR needs at least one prediction")
    captions = captions or {}
    rows = []
    n_mentioned = n_hallucinated = n_gt = n_gt_mentioned = n_with_hallucination = 0
    for image_id, caption in predictions.items():
        if image_id not in gt_objects and image_id not in captions:
            raise _unknown_image(image_id, [*gt_objects, *captions])
        gt = set(gt_objects.get(image_id, ()))
        stray = gt - set(vocab.categories)
        if stray:
            raise ValueError(
                f"image id {image_id!r}: ground-truth categories {sorted(stray)} are not in the vocab"
            )
        for ref in captions.get(image_id, ()):
            gt |= vocab.objects(ref)
        mentioned = vocab.objects(caption)
        hallucinated = mentioned - gt
        n_mentioned += len(mentioned)
        n_hallucinated += len(hallucinated)
        n_gt += len(gt)
        n_gt_mentioned += len(mentioned & gt)
        n_with_hallucination += bool(hallucinated)
        rows.append(
            ChairRow(
                image_id, caption, tuple(sorted(mentioned)), tuple(sorted(hallucinated)), tuple(sorted(gt))
            )
        )
    return ChairResult(
        chair_s=_ratio(n_with_hallucination, len(rows)),
        chair_i=_ratio(n_hallucinated, n_mentioned),
        recall=_ratio(n_gt_mentioned, n_gt),
        n_images=len(rows),
        n_mentioned=n_mentioned,
        n_hallucinated=n_hallucinated,
        n_gt=n_gt,
        n_gt_mentioned=n_gt_mentioned,
        rows=tuple(rows),
    )


def chair_from_files(
    predictions_path: str | os.PathLike,
    instances_path: str | os.PathLike,
    captions_path: str | os.PathLike | None = None,
    vocab: ObjectVocab | None = None,
) -> ChairResult:
    """CHAIR of a predictions JSONL against COCO instance (and optionally caption) annotations.

    Args:
        predictions_path: JSONL of ``{"image_id", "caption"}``.
        instances_path: a COCO instances JSON.
        captions_path: a COCO captions JSON, whose objects join the ground truth.
        vocab: the matcher; by default built from the instances file's categories.

    Raises:
        InputError: if a file is missing or malformed.
        ValueError: as :func:`chair_scores`.
    """
    instances = load_coco_instances(instances_path)
    captions = load_coco_captions(captions_path) if captions_path is not None else None
    vocab = vocab or ObjectVocab.from_categories(instances.categories)
    return chair_scores(load_chair_predictions(predictions_path), instances.objects, vocab, captions)
