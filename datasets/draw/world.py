"""The draw world on disk: training images with (partly wrong) captions, judge data and prompt sets.

:func:`generate_world` writes, from one seed (``<id>`` is 1-based and zero-padded to 5 digits)::

    images/<split>_<id>.png         split in pretrain, clip, clip_eval; RGB, image_size x image_size
    pretrain.jsonl                  {"image", "caption", "true_caption", "wrong_axis"}: caption is
                                    true_caption, or with rate caption_error_rate an analogue that is
                                    wrong along wrong_axis (colour, count or spatial; else null)
    clip.jsonl                      {"image", "caption"}: true captions, for a tiny CLIP judge
    clip_eval.jsonl                 {"image", "caption", "label", "axis"}: per image one true caption
                                    (label true, axis null) and one hard negative, an analogue along
                                    axis (label false)
    rlaif_prompts.jsonl             {"prompt_id", "text", "group", "axis", "role"}: analogous groups
                                    (role "base" then "analog"), prompts only; prompt_id
                                    "rlaif_00001", group "rlaif_g0001" (strings)
    heldout_prompts.jsonl           the same format; no caption or prompt of the other files has the
                                    meaning of a held-out prompt (compared by semantic_key)
    heldout_reference/<prompt_id>_<k>.png   heldout_references rendered images per held-out prompt
    heldout_reference.jsonl         {"image", "prompt_id", "text"}
    world.json                      {"format", "config", "config_hash", "counts", "vocabulary"}
    DONE                            the config hash; written last

Every ``image`` field is a path relative to the world's directory. Each item draws from its own
:class:`random.Random` stream named by (seed, split, index), so one file never depends on another.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

from polyrlaif.core.io import (
    atomic_dir,
    atomic_write_json,
    atomic_write_jsonl,
    atomic_write_text,
    check_world_dir,
    sha256_text,
)
from polyrlaif.datasets.draw import files
from polyrlaif.datasets.draw.analogs import WORLD_AXES, prompt_groups
from polyrlaif.datasets.draw.spec import (
    BACKGROUND_RGB,
    DEFAULT_KIND_WEIGHTS,
    KINDS,
    PALETTE,
    SHAPES,
)

__all__ = ["WORLD_FORMAT", "DrawWorldConfig", "DrawWorldManifest", "generate_world", "load_world"]

log = logging.getLogger(__name__)

WORLD_FORMAT = 1
"""Version of the generator and the layout; part of the config hash, bumped when outputs change."""


@dataclass
class DrawWorldConfig:
    """Everything that determines a draw world; the same config always gives the same bytes.

    Attributes:
        seed: root of every random stream.
        image_size: side of the square images in pixels.
        size_range: smallest and largest object box side in pixels.
        pretrain: images in ``pretrain.jsonl`` (diffusion pretraining).
        clip: images in ``clip.jsonl`` (CLIP judge training).
        clip_eval: images in ``clip_eval.jsonl`` (two rows each: true caption and hard negative).
        rlaif_groups: analogous groups in ``rlaif_prompts.jsonl`` (two prompts each).
        heldout_prompts: prompts in ``heldout_prompts.jsonl``.
        heldout_references: reference images rendered per held-out prompt (for FID).
        caption_error_rate: share of pretraining captions that are wrong along one axis.
        caption_error_axes: the axes a wrong caption may be wrong along.
        rlaif_axes: the axes the RLAIF groups vary, in turn.
        max_objects: most objects in a sampled prompt (analogues along ``count`` may add two).
        kind_weights: weight of each prompt kind (single, pair, relation) in the training files.
        heldout_kind_weights: weight of each kind among held-out bases. Low for ``single``: there
            are only 36 single-object prompts, and each one held out is never trained on.
    """

    seed: int = 0
    image_size: int = 32
    size_range: tuple[int, int] = (6, 10)
    pretrain: int = 4000
    clip: int = 2000
    clip_eval: int = 500
    rlaif_groups: int = 200
    heldout_prompts: int = 100
    heldout_references: int = 5
    caption_error_rate: float = 0.3
    caption_error_axes: tuple[str, ...] = ("colour", "count", "spatial")
    rlaif_axes: tuple[str, ...] = WORLD_AXES
    max_objects: int = 4
    kind_weights: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_KIND_WEIGHTS))
    heldout_kind_weights: dict[str, float] = field(
        default_factory=lambda: {"single": 0.05, "pair": 0.45, "relation": 0.5}
    )

    def validate(self) -> None:
        """Check every field.

        Raises:
            ValueError: naming the field and what is wrong with it.
        """
        lo, hi = self.size_range
        if not 5 <= lo <= hi or 4 * lo > self.image_size or 3 * hi > self.image_size:
            raise ValueError(
                f"DrawWorldConfig.size_range: {lo}-{hi} px does not suit a {self.image_size} px image "
                "(need 5 <= smallest, 4 * smallest <= image_size and 3 * largest <= image_size)"
            )
        for name in ("pretrain", "clip", "clip_eval", "rlaif_groups", "heldout_prompts"):
            if int(getattr(self, name)) < 0:
                raise ValueError(f"DrawWorldConfig.{name}: {getattr(self, name)} is negative")
        if self.heldout_references < 1:
            raise ValueError(f"DrawWorldConfig.heldout_references: {self.heldout_references} is not >= 1")
        if not 0.0 <= self.caption_error_rate <= 1.0:
            raise ValueError(
                f"DrawWorldConfig.caption_error_rate: {self.caption_error_rate} is not in [0, 1]"
            )
        for name in ("caption_error_axes", "rlaif_axes"):
            axes = tuple(getattr(self, name))
            if not axes or any(a not in WORLD_AXES for a in axes):
                raise ValueError(f"DrawWorldConfig.{name}: {axes} must be a non-empty subset of {WORLD_AXES}")
        if not 2 <= self.max_objects <= 6:
            raise ValueError(f"DrawWorldConfig.max_objects: {self.max_objects} is not within 2-6")
        for name in ("kind_weights", "heldout_kind_weights"):
            weights = getattr(self, name)
            if set(weights) != set(KINDS) or min(weights.values()) < 0 or sum(weights.values()) <= 0:
                raise ValueError(f"DrawWorldConfig.{name}: need a weight >= 0 for each of {KINDS}, not all 0")

    def normalized(self) -> dict:
        """The config as plain JSON types, as stored in ``world.json``.

        Raises:
            ValueError: naming the first invalid field.
        """
        self.validate()
        return {
            "seed": int(self.seed),
            "image_size": int(self.image_size),
            "size_range": [int(x) for x in self.size_range],
            "pretrain": int(self.pretrain),
            "clip": int(self.clip),
            "clip_eval": int(self.clip_eval),
            "rlaif_groups": int(self.rlaif_groups),
            "heldout_prompts": int(self.heldout_prompts),
            "heldout_references": int(self.heldout_references),
            "caption_error_rate": float(self.caption_error_rate),
            "caption_error_axes": [str(a) for a in self.caption_error_axes],
            "rlaif_axes": [str(a) for a in self.rlaif_axes],
            "max_objects": int(self.max_objects),
            "kind_weights": {k: float(self.kind_weights[k]) for k in KINDS},
            "heldout_kind_weights": {k: float(self.heldout_kind_weights[k]) for k in KINDS},
        }

    def config_hash(self) -> str:
        """SHA-256 of the normalised config and :data:`WORLD_FORMAT` (16 hex digits)."""
        return sha256_text(json.dumps({"format": WORLD_FORMAT, "config": self.normalized()}, sort_keys=True))[
            :16
        ]


@dataclass(frozen=True)
class DrawWorldManifest:
    """Where a generated draw world's files are and how many rows each holds.

    Attributes:
        data_dir: the world's root; every ``image`` field is relative to it.
        config_hash: :meth:`DrawWorldConfig.config_hash` of its config.
        counts: file or quantity -> count (see ``world.json``).
    """

    data_dir: Path
    config_hash: str
    counts: dict[str, int]

    def file(self, name: str) -> Path:
        """The path of one of the world's files, e.g. ``file("pretrain.jsonl")`` or an ``image`` field."""
        return self.data_dir / name

    @property
    def pretrain(self) -> Path:
        """``pretrain.jsonl``."""
        return self.data_dir / "pretrain.jsonl"

    @property
    def clip(self) -> Path:
        """``clip.jsonl``."""
        return self.data_dir / "clip.jsonl"

    @property
    def clip_eval(self) -> Path:
        """``clip_eval.jsonl``."""
        return self.data_dir / "clip_eval.jsonl"

    @property
    def rlaif_prompts(self) -> Path:
        """``rlaif_prompts.jsonl``."""
        return self.data_dir / "rlaif_prompts.jsonl"

    @property
    def heldout_prompts(self) -> Path:
        """``heldout_prompts.jsonl``."""
        return self.data_dir / "heldout_prompts.jsonl"

    @property
    def heldout_reference(self) -> Path:
        """``heldout_reference.jsonl``, the index of the reference images."""
        return self.data_dir / "heldout_reference.jsonl"

    @property
    def heldout_reference_dir(self) -> Path:
        """The folder of reference images of the held-out prompts."""
        return self.data_dir / "heldout_reference"


def _write_images(folder: Path, images: dict[str, bytes]) -> None:
    # One atomic rename for the whole folder instead of an fsync per image: thousands of fsyncs take
    # longer than drawing the world.
    with atomic_dir(folder) as tmp:
        for name, data in images.items():
            (tmp / name).write_bytes(data)


def generate_world(data_dir: str | Path, cfg: DrawWorldConfig | None = None) -> DrawWorldManifest:
    """Generate the draw world under ``data_dir``, or return at once if it is already there.

    ``world.json`` is written first and ``DONE`` last; a rerun without ``DONE`` (after a crash)
    regenerates everything, which takes seconds.

    Args:
        data_dir: the world's directory (created; must be new, empty or hold this same world).
        cfg: the config; defaults to :class:`DrawWorldConfig`.

    Returns:
        The manifest: paths and counts.

    Raises:
        ValueError: on an invalid config, or when ``data_dir`` holds another world or other files.
    """
    cfg = cfg or DrawWorldConfig()
    data_dir = Path(data_dir)
    config, digest = cfg.normalized(), cfg.config_hash()
    meta = check_world_dir(data_dir, config, digest, "draw")
    if meta is not None and (data_dir / "DONE").is_file() and meta.get("counts"):
        return DrawWorldManifest(data_dir, digest, meta["counts"])
    vocabulary = {
        "shapes": list(SHAPES),
        "palette": {k: list(v) for k, v in PALETTE.items()},
        "background": list(BACKGROUND_RGB),
    }
    header = {"format": WORLD_FORMAT, "config": config, "config_hash": digest, "vocabulary": vocabulary}
    atomic_write_json(data_dir / "world.json", {**header, "counts": None})
    m = DrawWorldManifest(data_dir, digest, {})
    draw = {"image_size": cfg.image_size, "size_range": tuple(cfg.size_range)}

    # Held-out prompts first: every training prompt below is drawn to avoid their meanings.
    heldout, held_rows, ref_rows, ref_images = files.heldout_files(cfg, draw)
    rlaif = prompt_groups(
        cfg.rlaif_groups,
        seed=f"{cfg.seed}/rlaif",
        axes=cfg.rlaif_axes,
        exclude=heldout,
        max_objects=cfg.max_objects,
        kind_weights=cfg.kind_weights,
    )
    images: dict[str, bytes] = {}
    outputs = {
        m.pretrain: files.image_rows(cfg, "pretrain", heldout, draw, images),
        m.clip: files.image_rows(cfg, "clip", heldout, draw, images),
        m.clip_eval: files.image_rows(cfg, "clip_eval", heldout, draw, images),
        m.rlaif_prompts: [row for row, _ in files.prompt_rows(rlaif, "rlaif", 2 * cfg.rlaif_groups)],
        m.heldout_prompts: held_rows,
        m.heldout_reference: ref_rows,
    }
    _write_images(data_dir / "images", images)
    _write_images(m.heldout_reference_dir, ref_images)
    counts = {"images": len(images)}
    for path, rows in outputs.items():
        atomic_write_jsonl(path, rows)
        counts[path.stem] = len(rows)
    counts["pretrain_wrong"] = sum(r["wrong_axis"] is not None for r in outputs[m.pretrain])
    for axis in cfg.caption_error_axes:
        counts[f"pretrain_wrong_{axis}"] = sum(r["wrong_axis"] == axis for r in outputs[m.pretrain])
    atomic_write_json(data_dir / "world.json", {**header, "counts": counts})
    atomic_write_text(data_dir / "DONE", digest + "\n")
    log.info("draw world %s in %s: %s", digest, data_dir, counts)
    return DrawWorldManifest(data_dir, digest, counts)


def load_world(data_dir: str | Path) -> DrawWorldManifest:
    """The manifest of a finished draw world.

    Raises:
        ValueError: when ``data_dir`` holds no finished draw world.
    """
    data_dir = Path(data_dir)
    if not (data_dir / "DONE").is_file():
        raise ValueError(f"{data_dir}: no finished draw world (no DONE marker); run generate_world")
    meta = json.loads((data_dir / "world.json").read_text(encoding="utf-8"))
    return DrawWorldManifest(data_dir, meta["config_hash"], meta["counts"])
