"""Rows and images of the draw world's files, one function per kind of file.

Each item (an image, its prompt and its captions) draws from its own :class:`random.Random` stream
named by (seed, split, index), so a file never depends on another file or on the order of writing.
See :mod:`polyrlaif.datasets.draw.world` for the layout and the row formats.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import TYPE_CHECKING

from polyrlaif.datasets.draw.analogs import WORLD_AXES, PromptGroup, analogous, applicable_axes, prompt_groups
from polyrlaif.datasets.draw.renderer import render_png
from polyrlaif.datasets.draw.spec import PromptSpec, sample_spec, semantic_key

if TYPE_CHECKING:
    from polyrlaif.datasets.draw.world import DrawWorldConfig

__all__ = [
    "fresh_spec",
    "heldout_files",
    "image_rows",
    "item_rng",
    "prompt_rows",
    "wrong_analog",
]


def item_rng(cfg: DrawWorldConfig, split: str, i: int) -> random.Random:
    """The random stream of item ``i`` of ``split`` (prompt and captions; the image has its own seed)."""
    return random.Random(f"polyrlaif-draw/{cfg.seed}/{split}/{i}")


def fresh_spec(rng: random.Random, cfg: DrawWorldConfig, heldout: set[tuple]) -> PromptSpec:
    """A random prompt whose meaning is not held out."""
    for _ in range(1000):
        spec = sample_spec(rng, max_objects=cfg.max_objects, kind_weights=cfg.kind_weights)
        if semantic_key(spec) not in heldout:
            return spec
    raise RuntimeError("the held-out prompts leave no prompt to train on; lower heldout_prompts")


def wrong_analog(
    rng: random.Random, spec: PromptSpec, axes: Sequence[str], heldout: set[tuple]
) -> tuple[PromptSpec, str] | None:
    """An analogue along one of ``axes`` (that applies to ``spec``) outside ``heldout``, with its axis."""
    usable = [a for a in axes if a in applicable_axes(spec)]
    for _ in range(20 if usable else 0):
        axis = rng.choice(usable)
        other = analogous(spec, axis, rng)
        if semantic_key(other) not in heldout:
            return other, axis
    return None


def prompt_rows(groups: list[PromptGroup], prefix: str, limit: int) -> list[tuple[dict, PromptSpec]]:
    """The first ``limit`` prompts of ``groups`` as prompt rows, with their specs.

    Prompt ids are ``<prefix>_00001`` on, group ids ``<prefix>_g0001`` on (strings, as the domain's
    prompt loader expects).
    """
    members = [(g, k, s) for g in groups for k, s in enumerate(g)][:limit]
    return [
        (
            {
                "prompt_id": f"{prefix}_{i:05d}",
                "text": s.text,
                "group": f"{prefix}_g{g.group_id + 1:04d}",
                "axis": g.axis,
                "role": "analog" if k else "base",
            },
            s,
        )
        for i, (g, k, s) in enumerate(members, start=1)
    ]


def heldout_files(
    cfg: DrawWorldConfig, draw: dict
) -> tuple[set[tuple], list[dict], list[dict], dict[str, bytes]]:
    """Held-out prompts: their semantic keys, rows, reference rows and reference images."""
    n = cfg.heldout_prompts
    groups = prompt_groups(
        (n + 1) // 2,
        seed=f"{cfg.seed}/heldout",
        max_objects=cfg.max_objects,
        kind_weights=cfg.heldout_kind_weights,
    )
    keys = {semantic_key(s) for g in groups for s in g}  # a truncated group's analogue too
    rows, ref_rows, ref_images = [], [], {}
    for row, spec in prompt_rows(groups, "heldout", n):
        rows.append(row)
        for k in range(1, cfg.heldout_references + 1):
            name = f"{row['prompt_id']}_{k}.png"
            ref_images[name] = render_png(spec, seed=f"{cfg.seed}/heldout/{row['prompt_id']}/{k}", **draw)
            ref_rows.append(
                {"image": f"heldout_reference/{name}", "prompt_id": row["prompt_id"], "text": spec.text}
            )
    return keys, rows, ref_rows, ref_images


def image_rows(
    cfg: DrawWorldConfig, split: str, heldout: set[tuple], draw: dict, images: dict[str, bytes]
) -> list[dict]:
    """The rows of ``pretrain``, ``clip`` or ``clip_eval``; adds each split image to ``images``."""
    rows = []
    for i in range(1, getattr(cfg, split) + 1):
        rng = item_rng(cfg, split, i)
        spec = fresh_spec(rng, cfg, heldout)
        negative = wrong_analog(rng, spec, WORLD_AXES, heldout) if split == "clip_eval" else None
        while split == "clip_eval" and negative is None:  # every analogue held out: rare, draw again
            spec = fresh_spec(rng, cfg, heldout)
            negative = wrong_analog(rng, spec, WORLD_AXES, heldout)
        name = f"{split}_{i:05d}.png"
        images[name] = render_png(spec, seed=f"{cfg.seed}/{split}/{i}", **draw)
        image = f"images/{name}"
        if split == "pretrain":
            wrong = None
            if rng.random() < cfg.caption_error_rate:
                wrong = wrong_analog(rng, spec, cfg.caption_error_axes, heldout)
            caption, axis = (wrong[0].text, wrong[1]) if wrong else (spec.text, None)
            rows.append({"image": image, "caption": caption, "true_caption": spec.text, "wrong_axis": axis})
        elif split == "clip":
            rows.append({"image": image, "caption": spec.text})
        else:
            rows.append({"image": image, "caption": spec.text, "label": True, "axis": None})
            rows.append({"image": image, "caption": negative[0].text, "label": False, "axis": negative[1]})
    return rows
