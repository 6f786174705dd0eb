"""Rows and documents of the shape world's files, built from its scenes.

Pure functions: a list of :class:`Scene` (one split) in, the JSON-ready content of one file out. Each
image's randomness comes from :func:`image_rng`, one stream per (seed, split, image, purpose), so a file
never depends on another file, another split or the order things are written in.
See :mod:`polyrlaif.datasets.shapes` for the public API and the file format.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from polyrlaif.datasets.shapes.draw import (
    CATEGORIES,
    DEFAULT_COOCCURRENCE,
    SYNONYMS,
    SceneObject,
    measure_object,
)
from polyrlaif.datasets.shapes.text import (
    CAPTION_TEMPLATES,
    INSTRUCTIONS,
    labeler_questions,
    make_caption,
    policy_caption,
    pope_negatives,
    question,
)

__all__ = [
    "AMBER_QUERY",
    "Scene",
    "amber_annotations",
    "amber_queries",
    "coco_captions",
    "coco_instances",
    "image_file_name",
    "image_rng",
    "labeler_rows",
    "policy_rows",
    "pope_rows",
    "prompt_rows",
]

AMBER_QUERY = "Describe this image."
"""AMBER's generative query, asked of every image."""

_COOCCURRENCE: Mapping[str, Sequence[str]] = DEFAULT_COOCCURRENCE


def image_rng(seed: int, split: str, image_id: int, stream: str) -> random.Random:
    """The random stream of one image for one purpose (``scene``, ``caption``, ``policy``, ...).

    A string seed is hashed with SHA-512 by :class:`random.Random`, identically on every platform.
    """
    return random.Random(f"polyrlaif-shapes/{seed}/{split}/{image_id}/{stream}")


def image_file_name(split: str, image_id: int) -> str:
    """``<split>_<image_id:05d>.png``, the image's path relative to ``images/``."""
    return f"{split}_{image_id:05d}.png"


@dataclass(frozen=True)
class Scene:
    """One image of a split: its 1-based id, file name (relative to ``images/``) and objects."""

    image_id: int
    file_name: str
    objects: tuple[SceneObject, ...]

    @property
    def pairs(self) -> list[tuple[str, str]]:
        """The ``(color, category)`` pairs, in drawing order."""
        return [(o.color, o.category) for o in self.objects]

    @property
    def categories(self) -> list[str]:
        """The categories present, in drawing order (distinct)."""
        return [o.category for o in self.objects]


def coco_instances(scenes: Sequence[Scene], image_size: int, info: Mapping[str, object]) -> dict:
    """COCO instances document: images, one annotation per object (with ``color``), categories (with
    ``synonyms``). Boxes and areas are measured on the drawn masks, so they are exact."""
    images, annotations = [], []
    for scene in scenes:
        images.append(
            {"id": scene.image_id, "file_name": scene.file_name, "width": image_size, "height": image_size}
        )
        for obj in scene.objects:
            bbox, area = measure_object(obj)
            annotations.append(
                {
                    "id": len(annotations) + 1,
                    "image_id": scene.image_id,
                    "category_id": CATEGORIES.index(obj.category) + 1,
                    "bbox": bbox,
                    "area": area,
                    "iscrowd": 0,
                    "color": obj.color,
                }
            )
    categories = [
        {"id": i + 1, "name": name, "supercategory": "shape", "synonyms": list(SYNONYMS[name])}
        for i, name in enumerate(CATEGORIES)
    ]
    return {"info": dict(info), "images": images, "annotations": annotations, "categories": categories}


def coco_captions(scenes: Sequence[Scene], seed: int, split: str, info: Mapping[str, object]) -> dict:
    """COCO captions document with one truthful caption per image (objects in random order)."""
    images, annotations = [], []
    for scene in scenes:
        rng = image_rng(seed, split, scene.image_id, "caption")
        pairs = scene.pairs
        rng.shuffle(pairs)
        caption = make_caption(pairs, rng.randrange(len(CAPTION_TEMPLATES)))
        images.append({"id": scene.image_id, "file_name": scene.file_name})
        annotations.append({"id": scene.image_id, "image_id": scene.image_id, "caption": caption})
    return {"info": dict(info), "images": images, "annotations": annotations}


def _split_counts(scenes: Sequence[Scene]) -> tuple[Counter, Counter]:
    """Images per category, and images per ordered pair of distinct categories."""
    frequency: Counter = Counter()
    cocount: Counter = Counter()
    for scene in scenes:
        present = scene.categories
        frequency.update(present)
        cocount.update((a, b) for a in present for b in present if a != b)
    return frequency, cocount


def pope_rows(scenes: Sequence[Scene], variant: str, seed: int, split: str, k: int) -> list[dict]:
    """POPE rows ``{"question_id", "image", "text", "label"}`` of one variant.

    Per image, as POPE lays them out: up to ``k`` present objects ("yes") and then as many absent ones
    ("no"), chosen by :func:`pope_negatives`, so the labels are balanced. The positives are the same
    in every variant; only the way negatives are chosen differs.
    """
    frequency, cocount = _split_counts(scenes)
    rows: list[dict] = []
    for scene in scenes:
        present = scene.categories
        positives = image_rng(seed, split, scene.image_id, "pope").sample(present, min(k, len(present)))
        rng = image_rng(seed, split, scene.image_id, f"pope-{variant}")
        negatives = pope_negatives(variant, rng, present, len(positives), frequency, cocount, _COOCCURRENCE)
        for name, label in [(n, "yes") for n in positives] + [(n, "no") for n in negatives]:
            rows.append(
                {
                    "question_id": len(rows) + 1,
                    "image": scene.file_name,
                    "text": question(name),
                    "label": label,
                }
            )
    return rows


def amber_queries(scenes: Sequence[Scene]) -> list[dict]:
    """AMBER generative queries ``[{"id", "image", "query"}]``; ``id`` is the image id."""
    return [{"id": s.image_id, "image": s.file_name, "query": AMBER_QUERY} for s in scenes]


def amber_annotations(scenes: Sequence[Scene]) -> list[dict]:
    """AMBER annotations ``[{"id", "type": "generative", "truth", "hallu"}]``: present and absent
    category names (every absent category is a possible hallucination)."""
    return [
        {
            "id": s.image_id,
            "type": "generative",
            "truth": [c for c in CATEGORIES if c in s.categories],
            "hallu": [c for c in CATEGORIES if c not in s.categories],
        }
        for s in scenes
    ]


def policy_rows(scenes: Sequence[Scene], seed: int, split: str, rate: float) -> list[dict]:
    """SFT rows for the policy ``{"image", "image_id", "prompt", "caption", "hallucinated"}``: a prompt
    from :data:`INSTRUCTIONS` and a caption that names one absent object with probability ``rate``."""
    rows = []
    for scene in scenes:
        rng = image_rng(seed, split, scene.image_id, "policy")
        prompt = rng.choice(INSTRUCTIONS)
        caption, hallucinated = policy_caption(rng, scene.pairs, rate, _COOCCURRENCE)
        rows.append(
            {
                "image": scene.file_name,
                "image_id": scene.image_id,
                "prompt": prompt,
                "caption": caption,
                "hallucinated": hallucinated,
            }
        )
    return rows


def labeler_rows(scenes: Sequence[Scene], seed: int, split: str, k: int) -> list[dict]:
    """SFT rows for the labeler ``{"image", "image_id", "question", "answer", "kind"}``: at most ``k``
    yes/no questions per image, as many "no" as "yes"."""
    rows = []
    for scene in scenes:
        rng = image_rng(seed, split, scene.image_id, "labeler")
        for text, answer, kind in labeler_questions(rng, scene.pairs, k, _COOCCURRENCE):
            rows.append(
                {
                    "image": scene.file_name,
                    "image_id": scene.image_id,
                    "question": text,
                    "answer": answer,
                    "kind": kind,
                }
            )
    return rows


def prompt_rows(scenes: Sequence[Scene], seed: int, split: str) -> list[dict]:
    """RLAIF prompts ``{"prompt_id", "image", "image_id", "instruction"}``; ``prompt_id`` is the image's
    file stem (``<split>_<image_id:05d>``)."""
    rows = []
    for scene in scenes:
        instruction = image_rng(seed, split, scene.image_id, "prompt").choice(INSTRUCTIONS)
        rows.append(
            {
                "prompt_id": scene.file_name.removesuffix(".png"),
                "image": scene.file_name,
                "image_id": scene.image_id,
                "instruction": instruction,
            }
        )
    return rows
