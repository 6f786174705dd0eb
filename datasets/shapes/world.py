"""The shape world's images: a synthetic world with exact ground truth, for measuring object hallucination.

Images are coloured shapes (:data:`~polyrlaif.datasets.shapes.draw.CATEGORIES`), each category
with its own surface pattern, on a dark, lightly noisy background; every shape pixel has exactly its
palette colour or that colour's shade, and boxes never overlap, so the annotations are exact.
:func:`generate_world` writes, from one seed, the images and the files that real hallucination work
reads (COCO instances and captions for CHAIR, POPE questions, AMBER queries), plus the SFT data of a
policy that hallucinates at a chosen rate and of a yes/no labeler.

Layout under ``data_dir`` (``<id>`` is the 1-based image id, zero-padded to 5 digits)::

    images/<split>_<id>.png                  RGB, image_size x image_size
    annotations/instances_<split>.json       COCO instances; annotations carry "color",
                                             categories carry "synonyms"
    annotations/captions_<split>.json        COCO captions, one truthful caption per image
    pope/<split>_<variant>.jsonl             {"question_id", "image", "text", "label": "yes"|"no"}
                                             for variant in random, popular, adversarial
    amber/query_<split>.json                 [{"id", "image", "query"}]
    amber/annotations_<split>.json           [{"id", "type": "generative", "truth", "hallu"}]
    sft/policy_<split>.jsonl                 {"image", "image_id", "prompt", "caption", "hallucinated"}
    sft/labeler_<split>.jsonl                {"image", "image_id", "question", "answer", "kind"}
    prompts/<split>.jsonl                    {"prompt_id", "image", "image_id", "instruction"}
    world.json                               {"format", "config", "config_hash", "counts"}
    DONE                                     the config hash; written last

Every ``image`` field is a path relative to ``images/``. Image ids restart at 1 in every split, so an
id names an image only together with its split (each split has its own annotation files).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from polyrlaif.core.io import (
    atomic_write_bytes,
    atomic_write_json,
    atomic_write_jsonl,
    atomic_write_text,
    sha256_text,
)
from polyrlaif.datasets.shapes import files
from polyrlaif.datasets.shapes.draw import (
    CATEGORIES,
    DEFAULT_COOCCURRENCE,
    render_png,
    sample_scene,
)
from polyrlaif.datasets.shapes.text import POPE_VARIANTS

__all__ = [
    "POPE_VARIANTS",
    "WORLD_FORMAT",
    "ImageTruth",
    "TruthObject",
    "WorldConfig",
    "WorldManifest",
    "generate_world",
    "load_split",
    "load_world",
]

WORLD_FORMAT = 1
"""Version of the generator and the layout; part of the config hash, bumped when outputs change."""

_SPLIT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")


def _default_weights() -> dict[str, float]:
    # Skewed on purpose: POPE's "popular" variant needs some shapes to be more frequent than others.
    return dict(zip(CATEGORIES, (1.6, 1.4, 1.2, 1.0, 0.9, 0.8, 0.7, 0.6), strict=True))


@dataclass
class WorldConfig:
    """Everything that determines a synthetic world; the same config always gives the same bytes.

    Attributes:
        seed: root of every random stream.
        image_size: side of the square images in pixels.
        splits: split name -> number of images.
        hallucination_rate: probability that a policy SFT caption names one absent object.
        objects_per_image: smallest and largest number of objects (distinct categories) per image.
        size_range: smallest and largest shape box side, as fractions of ``image_size``.
        noise: background noise amplitude (grey levels).
        cooccurrence_strength: probability that a later object is a co-occurrence partner of an earlier
            one, which makes partners the natural hallucinations (and POPE's adversarial negatives).
        category_weights: popularity of each category (unnormalised); every category needs a weight.
        labeler_questions: upper bound on yes/no labeler questions per image (half yes, half no).
        pope_questions: POPE questions per image and variant for each label (k yes + k no, as POPE's
            3 + 3; fewer yes when the image has fewer objects, always as many no as yes).
        texture: give each category its own surface pattern (part of the shape's pixels in a darker
            shade of its colour; :data:`~polyrlaif.datasets.shapes.draw.TEXTURES`), so a tiny
            vision tower can tell categories apart from a patch, as real objects' texture allows.
    """

    seed: int = 0
    image_size: int = 64
    splits: dict[str, int] = field(
        default_factory=lambda: {"sft": 1200, "labeler": 1200, "rlaif": 96, "test": 100}
    )
    hallucination_rate: float = 0.35
    objects_per_image: tuple[int, int] = (1, 3)
    size_range: tuple[float, float] = (0.22, 0.41)
    noise: int = 10
    cooccurrence_strength: float = 0.5
    category_weights: dict[str, float] = field(default_factory=_default_weights)
    labeler_questions: int = 6
    pope_questions: int = 3
    texture: bool = True

    def size_px(self) -> tuple[int, int]:
        """The shape box side range in pixels (``size_range`` times ``image_size``, rounded)."""
        return round(self.size_range[0] * self.image_size), round(self.size_range[1] * self.image_size)

    def normalized(self) -> dict:
        """The config as plain JSON types with canonical numbers, as stored in ``world.json``.

        Raises:
            ValueError: naming the first invalid field.
        """
        self.validate()
        return {
            "seed": int(self.seed),
            "image_size": int(self.image_size),
            "splits": {str(k): int(v) for k, v in sorted(self.splits.items())},
            "hallucination_rate": float(self.hallucination_rate),
            "objects_per_image": [int(x) for x in self.objects_per_image],
            "size_range": [float(x) for x in self.size_range],
            "noise": int(self.noise),
            "cooccurrence_strength": float(self.cooccurrence_strength),
            "category_weights": {c: float(self.category_weights[c]) for c in CATEGORIES},
            "labeler_questions": int(self.labeler_questions),
            "pope_questions": int(self.pope_questions),
            "texture": bool(self.texture),
        }

    def config_hash(self) -> str:
        """SHA-256 of the normalised config and :data:`WORLD_FORMAT` (16 hex digits)."""
        blob = json.dumps({"format": WORLD_FORMAT, "config": self.normalized()}, sort_keys=True)
        return sha256_text(blob)[:16]

    def validate(self) -> None:
        """Check every field.

        Raises:
            ValueError: naming the field and what is wrong with it.
        """
        for name, count in self.splits.items():
            if not _SPLIT_NAME.match(str(name)):
                raise ValueError(f"WorldConfig.splits: bad split name {name!r} (letters, digits, _ and -)")
            if int(count) < 0:
                raise ValueError(f"WorldConfig.splits[{name!r}]: image count {count} is negative")
        lo, hi = self.objects_per_image
        if not 1 <= lo <= hi <= len(CATEGORIES):
            raise ValueError(f"WorldConfig.objects_per_image: {lo}-{hi} is not within 1-{len(CATEGORIES)}")
        s_lo, s_hi = self.size_px()
        if not 6 <= s_lo <= s_hi <= self.image_size - 3:
            raise ValueError(
                f"WorldConfig.size_range: {self.size_range} gives boxes of {s_lo}-{s_hi} px in a "
                f"{self.image_size} px image; need 6 <= smallest <= largest <= image_size - 3"
            )
        if not 0 <= self.noise <= 100:
            raise ValueError(f"WorldConfig.noise: {self.noise} is not within 0-100")
        for name in ("hallucination_rate", "cooccurrence_strength"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"WorldConfig.{name}: {getattr(self, name)} is not a probability")
        if set(self.category_weights) != set(CATEGORIES) or min(self.category_weights.values()) <= 0:
            raise ValueError(
                f"WorldConfig.category_weights: need a positive weight for each of {', '.join(CATEGORIES)}"
            )
        if self.labeler_questions < 2 or self.pope_questions < 1:
            raise ValueError("WorldConfig: labeler_questions must be >= 2 and pope_questions >= 1")


@dataclass(frozen=True)
class WorldManifest:
    """Where a generated world's files are and how many rows each holds.

    Attributes:
        data_dir: the world's root directory.
        config_hash: :meth:`WorldConfig.config_hash` of the config it was generated from.
        counts: split -> file kind -> number of images or rows (see ``world.json``).
    """

    data_dir: Path
    config_hash: str
    counts: dict[str, dict[str, int]]

    @property
    def splits(self) -> list[str]:
        """The split names."""
        return list(self.counts)

    @property
    def images_dir(self) -> Path:
        """The folder every ``image`` field is relative to."""
        return self.data_dir / "images"

    def instances(self, split: str) -> Path:
        """COCO instances JSON of a split."""
        return self.data_dir / "annotations" / f"instances_{split}.json"

    def captions(self, split: str) -> Path:
        """COCO captions JSON of a split."""
        return self.data_dir / "annotations" / f"captions_{split}.json"

    def pope(self, split: str, variant: str) -> Path:
        """POPE JSONL of a split and variant (``random``, ``popular``, ``adversarial``)."""
        return self.data_dir / "pope" / f"{split}_{variant}.jsonl"

    def amber_query(self, split: str) -> Path:
        """AMBER query JSON of a split."""
        return self.data_dir / "amber" / f"query_{split}.json"

    def amber_annotations(self, split: str) -> Path:
        """AMBER annotation JSON of a split."""
        return self.data_dir / "amber" / f"annotations_{split}.json"

    def policy(self, split: str) -> Path:
        """Policy SFT JSONL (prompt, possibly hallucinating caption) of a split."""
        return self.data_dir / "sft" / f"policy_{split}.jsonl"

    def labeler(self, split: str) -> Path:
        """Labeler SFT JSONL (yes/no questions) of a split."""
        return self.data_dir / "sft" / f"labeler_{split}.jsonl"

    def prompts(self, split: str) -> Path:
        """RLAIF prompts JSONL of a split."""
        return self.data_dir / "prompts" / f"{split}.jsonl"


@dataclass(frozen=True)
class TruthObject:
    """One annotated object: category, colour, COCO bbox ``[x, y, w, h]`` and pixel area."""

    category: str
    color: str
    bbox: tuple[int, int, int, int]
    area: int


@dataclass(frozen=True)
class ImageTruth:
    """The ground truth of one image: id, file name (relative to ``images/``) and objects."""

    image_id: int
    image: str
    objects: tuple[TruthObject, ...]

    @property
    def categories(self) -> set[str]:
        """Names of the categories present."""
        return {o.category for o in self.objects}


def _read_meta(data_dir: Path) -> dict:
    path = data_dir / "world.json"
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ValueError(f"{data_dir}: unreadable synthetic world metadata {path.name} ({exc})") from None
    if not isinstance(meta, dict) or not {"config", "config_hash"} <= meta.keys():
        raise ValueError(
            f"{data_dir}: {path.name} is not a synthetic world's metadata (no config/config_hash)"
        )
    return meta


def _check_dir(data_dir: Path, config: dict, digest: str) -> dict | None:
    """The existing world.json when it matches, None for a fresh dir; raises on a mismatch."""
    if not (data_dir / "world.json").exists():
        if data_dir.exists() and any(data_dir.iterdir()):
            raise ValueError(
                f"{data_dir} is not empty and holds no synthetic world (no world.json); "
                "refusing to write one into it: choose an empty or new directory"
            )
        return None
    meta = _read_meta(data_dir)
    if meta["config_hash"] != digest:
        old = meta["config"] if isinstance(meta["config"], dict) else {}
        fields = sorted(k for k in config.keys() | old.keys() if old.get(k) != config.get(k))
        raise ValueError(
            f"{data_dir} holds a synthetic world of another config (hash {meta['config_hash']}, this "
            f"config {digest}; differing: {', '.join(fields) or 'generator version'}); "
            "use another directory or delete this one"
        )
    return meta


def _scenes(cfg: WorldConfig, split: str, images_dir: Path, bar) -> tuple[list[files.Scene], int]:
    """Sample (and draw, unless the PNG exists) every image of a split; returns scenes and #reused."""
    lo, hi = cfg.objects_per_image
    scenes, reused = [], 0
    for image_id in range(1, cfg.splits[split] + 1):
        rng = files.image_rng(cfg.seed, split, image_id, "scene")
        objects = sample_scene(
            rng,
            image_size=cfg.image_size,
            n_objects=rng.randint(lo, hi),
            size_range=cfg.size_px(),
            weights=cfg.category_weights,
            cooccurrence=DEFAULT_COOCCURRENCE,
            strength=cfg.cooccurrence_strength,
        )
        scene = files.Scene(image_id, files.image_file_name(split, image_id), tuple(objects))
        path = images_dir / scene.file_name
        if path.is_file():  # same config hash, so the same bytes: written before a crash
            reused += 1
        else:
            atomic_write_bytes(path, render_png(rng, objects, cfg.image_size, cfg.noise, cfg.texture))
        scenes.append(scene)
        bar.update(1)
    return scenes, reused


def _write_split(m: WorldManifest, cfg: WorldConfig, split: str, scenes: list[files.Scene]) -> dict[str, int]:
    """Write every file of one split; returns its counts."""
    info = {"description": "polyrlaif synthetic shape world", "split": split, "config_hash": m.config_hash}
    instances = files.coco_instances(scenes, cfg.image_size, info)
    atomic_write_json(m.instances(split), instances)
    atomic_write_json(m.captions(split), files.coco_captions(scenes, cfg.seed, split, info))
    counts = {"images": len(scenes), "objects": len(instances["annotations"])}
    for variant in POPE_VARIANTS:
        rows = files.pope_rows(scenes, variant, cfg.seed, split, cfg.pope_questions)
        atomic_write_jsonl(m.pope(split, variant), rows)
        counts[f"pope_{variant}"] = len(rows)
    atomic_write_json(m.amber_query(split), files.amber_queries(scenes))
    atomic_write_json(m.amber_annotations(split), files.amber_annotations(scenes))
    policy = files.policy_rows(scenes, cfg.seed, split, cfg.hallucination_rate)
    atomic_write_jsonl(m.policy(split), policy)
    counts["policy"] = len(policy)
    counts["policy_hallucinated"] = sum(bool(r["hallucinated"]) for r in policy)
    labeler = files.labeler_rows(scenes, cfg.seed, split, cfg.labeler_questions)
    atomic_write_jsonl(m.labeler(split), labeler)
    counts["labeler"] = len(labeler)
    prompts = files.prompt_rows(scenes, cfg.seed, split)
    atomic_write_jsonl(m.prompts(split), prompts)
    counts["prompts"] = len(prompts)
    return counts


def generate_world(
    data_dir: str | Path, cfg: WorldConfig | None = None, *, progress: bool = True
) -> WorldManifest:
    """Generate the world under ``data_dir``, or return at once if it is already there.

    Resumable: ``world.json`` (config and hash) is written first and ``DONE`` last, every file
    atomically; a rerun after a crash reuses the images already drawn and rewrites the cheap files.

    Args:
        data_dir: the world's directory (created; must be new, empty or hold this same world).
        cfg: the world's config; defaults to :class:`WorldConfig`.
        progress: show a tqdm bar over the images.

    Returns:
        The manifest: paths and counts.

    Raises:
        ValueError: on an invalid config, or when ``data_dir`` holds another world or other files.
    """
    cfg = cfg or WorldConfig()
    data_dir = Path(data_dir)
    config, digest = cfg.normalized(), cfg.config_hash()
    meta = _check_dir(data_dir, config, digest)
    if meta is not None and (data_dir / "DONE").is_file() and meta.get("counts"):
        return WorldManifest(data_dir, digest, meta["counts"])
    atomic_write_json(
        data_dir / "world.json",
        {"format": WORLD_FORMAT, "config": config, "config_hash": digest, "counts": None},
    )
    from tqdm.auto import tqdm

    m = WorldManifest(data_dir, digest, {})
    counts: dict[str, dict[str, int]] = {}
    with tqdm(
        total=sum(cfg.splits.values()), desc="synthetic world", unit="img", disable=not progress
    ) as bar:
        for split in cfg.splits:
            bar.set_postfix(split=split)
            scenes, reused = _scenes(cfg, split, m.images_dir, bar)
            if reused:
                bar.set_postfix(split=split, reused=reused)
            counts[split] = _write_split(m, cfg, split, scenes)
    atomic_write_json(
        data_dir / "world.json",
        {"format": WORLD_FORMAT, "config": config, "config_hash": digest, "counts": counts},
    )
    atomic_write_text(data_dir / "DONE", digest + "\n")
    return WorldManifest(data_dir, digest, counts)


def load_world(data_dir: str | Path) -> WorldManifest:
    """The manifest of a finished world.

    Raises:
        ValueError: when ``data_dir`` holds no finished world.
    """
    data_dir = Path(data_dir)
    if not (data_dir / "DONE").is_file():
        raise ValueError(f"{data_dir}: no finished synthetic world (no DONE marker); run generate_world")
    meta = _read_meta(data_dir)
    return WorldManifest(data_dir, meta["config_hash"], meta["counts"])


def load_split(data_dir: str | Path, split: str) -> list[ImageTruth]:
    """The ground truth of every image of a split, in image-id order, read from its COCO instances file.

    Raises:
        ValueError: when the split's instances file is missing.
    """
    path = Path(data_dir) / "annotations" / f"instances_{split}.json"
    if not path.is_file():
        raise ValueError(f"{path}: no such file; is {split!r} a split of this world?")
    doc = json.loads(path.read_text(encoding="utf-8"))
    names: Mapping[int, str] = {c["id"]: c["name"] for c in doc["categories"]}
    objects: dict[int, list[TruthObject]] = {im["id"]: [] for im in doc["images"]}
    for a in doc["annotations"]:
        objects[a["image_id"]].append(
            TruthObject(names[a["category_id"]], a["color"], tuple(a["bbox"]), a["area"])
        )
    return [
        ImageTruth(im["id"], im["file_name"], tuple(objects[im["id"]]))
        for im in sorted(doc["images"], key=lambda im: im["id"])
    ]
