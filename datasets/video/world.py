"""The video world on disk: clips, their descriptions, QA items and SFT data for a policy and a judge.

:func:`generate_video_world` writes, from one seed (``<id>`` is 1-based and zero-padded to 5 digits;
``<split>`` is ``sft``, ``judge``, ``rlaif`` or ``test``)::

    videos/<split>_<id>.mp4   lossless RGB H.264 (decord reads back the drawn pixels exactly)
    clips/<split>.jsonl       {"clip_id", "video", "description", "events", "objects", "num_frames",
                              "image_size"}: events in time order (see ClipEvent), objects as first seen
    qa/<split>.jsonl          {"id", "video", "clip_id", "question", "answer", "type", "event"}: MSVD-QA
                              style; type in QA_TYPES; event is the index of the event asked about or null
    sft/policy.jsonl          {"id", "video", "clip_id", "question", "answer", "gold", "correct", "type"}:
                              the sft split's QA; of the wrong_answer_types questions (motion and
                              order) a share wrong_answer_rate has a plausible wrong answer
    sft/judge.jsonl           {"id", "video", "clip_id", "description", "question", "answer", "label",
                              "type"}: the judge split's QA, each item once with its gold answer
                              (label "yes") and once with a plausible wrong one (label "no")
    world.json                {"format", "config", "config_hash", "counts", "vocabulary"}
    DONE                      the config hash; written last

``video`` fields are paths relative to the world's directory. The ``rlaif`` split is for prompts: its
``qa`` answers are there for analysis, never for training. No ``test`` clip's description (hence no
test clip's content) occurs in another split. Each clip draws from its own :class:`random.Random`
stream named by (seed, split, index), so a split does not change when another one grows.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

from polyrlaif.core.io import (
    atomic_dir,
    atomic_write_json,
    atomic_write_jsonl,
    atomic_write_text,
    check_world_dir,
    read_jsonl,
    sha256_text,
)
from polyrlaif.datasets.draw.spec import BACKGROUND_RGB, PALETTE, SHAPES
from polyrlaif.datasets.video import files
from polyrlaif.datasets.video.clip import DIRECTIONS, EVENT_TYPES, Clip
from polyrlaif.datasets.video.text import ANSWER_VOCAB, QA_TYPES, describe

__all__ = [
    "SPLITS",
    "WORLD_FORMAT",
    "VideoWorldConfig",
    "VideoWorldManifest",
    "generate_video_world",
    "load_clips",
    "load_video_world",
]

log = logging.getLogger(__name__)

WORLD_FORMAT = 1
"""Version of the generator and the layout; part of the config hash, bumped when outputs change."""

SPLITS: tuple[str, ...] = ("sft", "judge", "rlaif", "test")
"""The clip splits: policy SFT, judge training, RLAIF prompts, held-out test."""


@dataclass
class VideoWorldConfig:
    """Everything that determines a video world; the same config always gives the same text files.

    Attributes:
        seed: root of every random stream.
        sft: clips for policy SFT (``sft/policy.jsonl``).
        judge: clips for the judge / reward model (``sft/judge.jsonl``).
        rlaif: clips whose questions are the RLAIF prompts.
        test: held-out clips.
        frames_per_clip: frames in each clip.
        image_size: side of the square frames in pixels (even).
        fps: frame rate stored in the MP4 files.
        max_events: most events in a clip (1-4).
        wrong_answer_rate: share of the ``wrong_answer_types`` rows of ``sft/policy.jsonl`` whose answer
            is wrong (exactly ``round(rate * n)`` of those ``n`` rows); other types are always right.
        wrong_answer_types: the QA types whose answers may be wrong (motion and order by default: the
            temporal mistakes video LMMs make).
    """

    seed: int = 0
    sft: int = 600
    judge: int = 600
    rlaif: int = 200
    test: int = 200
    frames_per_clip: int = 16
    image_size: int = 32
    fps: int = 8
    max_events: int = 3
    wrong_answer_rate: float = 0.3
    wrong_answer_types: tuple[str, ...] = ("direction", "order")

    def validate(self) -> None:
        """Check every field.

        Raises:
            ValueError: naming the field and what is wrong with it.
        """
        for name in SPLITS:
            if int(getattr(self, name)) < 0:
                raise ValueError(f"VideoWorldConfig.{name}: {getattr(self, name)} is negative")
        if not 1 <= self.max_events <= 4:
            raise ValueError(f"VideoWorldConfig.max_events: {self.max_events} is not within 1-4")
        lead = max(1, self.frames_per_clip // 8)
        if not 12 <= self.frames_per_clip <= 128 or (self.frames_per_clip - 2 * lead) // self.max_events < 3:
            raise ValueError(
                f"VideoWorldConfig.frames_per_clip: {self.frames_per_clip} is not within 12-128 or leaves "
                f"fewer than 3 frames per event for max_events={self.max_events}"
            )
        if self.image_size % 2 or not 24 <= self.image_size <= 256:
            raise ValueError(
                f"VideoWorldConfig.image_size: {self.image_size} is not an even number in 24-256"
            )
        if not 1 <= self.fps <= 60:
            raise ValueError(f"VideoWorldConfig.fps: {self.fps} is not within 1-60")
        if not 0.0 <= self.wrong_answer_rate <= 1.0:
            raise ValueError(f"VideoWorldConfig.wrong_answer_rate: {self.wrong_answer_rate} is not in [0, 1]")
        types = tuple(self.wrong_answer_types)
        if not types or any(t not in QA_TYPES for t in types):
            raise ValueError(
                f"VideoWorldConfig.wrong_answer_types: {types} must be a non-empty subset of {QA_TYPES}"
            )

    def normalized(self) -> dict:
        """The config as plain JSON types, as stored in ``world.json``.

        Raises:
            ValueError: naming the first invalid field.
        """
        self.validate()
        out = {"seed": int(self.seed), **{s: int(getattr(self, s)) for s in SPLITS}}
        out.update(
            frames_per_clip=int(self.frames_per_clip),
            image_size=int(self.image_size),
            fps=int(self.fps),
            max_events=int(self.max_events),
            wrong_answer_rate=float(self.wrong_answer_rate),
            wrong_answer_types=[str(t) for t in self.wrong_answer_types],
        )
        return out

    def config_hash(self) -> str:
        """SHA-256 of the normalised config and :data:`WORLD_FORMAT` (16 hex digits)."""
        text = json.dumps({"format": WORLD_FORMAT, "config": self.normalized()}, sort_keys=True)
        return sha256_text(text)[:16]

    def clip_kwargs(self) -> dict:
        """The :func:`~polyrlaif.datasets.video.sample.sample_clip` arguments (sizes scale with the frame)."""
        scale = self.image_size / 32
        return {
            "num_frames": self.frames_per_clip,
            "image_size": self.image_size,
            "size_range": (round(6 * scale), round(9 * scale)),
            "move_range": (round(8 * scale), round(11 * scale)),
            "max_events": self.max_events,
        }


@dataclass(frozen=True)
class VideoWorldManifest:
    """Where a generated video world's files are and how many rows each holds.

    Attributes:
        data_dir: the world's root; every ``video`` field is relative to it.
        config_hash: :meth:`VideoWorldConfig.config_hash` of its config.
        counts: file or quantity -> count (see ``world.json``).
    """

    data_dir: Path
    config_hash: str
    counts: dict[str, int]

    def file(self, name: str) -> Path:
        """The path of one of the world's files or ``video`` fields, e.g. ``file("videos/sft_00001.mp4")``."""
        return self.data_dir / name

    def clips(self, split: str) -> Path:
        """``clips/<split>.jsonl``."""
        return self.data_dir / "clips" / f"{split}.jsonl"

    def qa(self, split: str) -> Path:
        """``qa/<split>.jsonl``."""
        return self.data_dir / "qa" / f"{split}.jsonl"

    @property
    def policy_sft(self) -> Path:
        """``sft/policy.jsonl``."""
        return self.data_dir / "sft" / "policy.jsonl"

    @property
    def judge_sft(self) -> Path:
        """``sft/judge.jsonl``."""
        return self.data_dir / "sft" / "judge.jsonl"


def generate_video_world(data_dir: str | Path, cfg: VideoWorldConfig | None = None) -> VideoWorldManifest:
    """Generate the video world under ``data_dir``, or return at once if it is already there.

    ``world.json`` is written first and ``DONE`` last; a rerun without ``DONE`` (after a crash)
    regenerates everything.

    Args:
        data_dir: the world's directory (created; must be new, empty or hold this same world).
        cfg: the config; defaults to :class:`VideoWorldConfig`.

    Returns:
        The manifest: paths and counts.

    Raises:
        ValueError: on an invalid config, or when ``data_dir`` holds another world or other files.
    """
    cfg = cfg or VideoWorldConfig()
    data_dir = Path(data_dir)
    config, digest = cfg.normalized(), cfg.config_hash()
    meta = check_world_dir(data_dir, config, digest, "video")
    if meta is not None and (data_dir / "DONE").is_file() and meta.get("counts"):
        return VideoWorldManifest(data_dir, digest, meta["counts"])
    vocabulary = {
        "shapes": list(SHAPES),
        "palette": {k: list(v) for k, v in PALETTE.items()},
        "background": list(BACKGROUND_RGB),
        "directions": list(DIRECTIONS),
        "event_types": list(EVENT_TYPES),
        "answers": {k: list(v) for k, v in ANSWER_VOCAB.items()},
    }
    header = {"format": WORLD_FORMAT, "config": config, "config_hash": digest, "vocabulary": vocabulary}
    atomic_write_json(data_dir / "world.json", {**header, "counts": None})
    m = VideoWorldManifest(data_dir, digest, {})

    # The test split first: every other split is drawn to avoid its clips.
    split_clips = {"test": files.split_clips(cfg, "test", set())}
    held_out = {describe(c) for c in split_clips["test"]}
    for split in ("sft", "judge", "rlaif"):
        split_clips[split] = files.split_clips(cfg, split, held_out)
    videos: dict[str, bytes] = {}
    outputs: dict[Path, list[dict]] = {}
    counts: dict[str, int] = {}
    by_id: dict[str, Clip] = {}
    for split in SPLITS:
        clip_rows, qa_rows = files.split_rows(cfg, split, split_clips[split], videos)
        by_id.update({r["clip_id"]: c for r, c in zip(clip_rows, split_clips[split], strict=True)})
        outputs[m.clips(split)], outputs[m.qa(split)] = clip_rows, qa_rows
        if split == "sft":
            outputs[m.policy_sft] = files.policy_rows(cfg, qa_rows, by_id)
        elif split == "judge":
            outputs[m.judge_sft] = files.judge_rows(cfg, qa_rows, clip_rows, by_id)
    # One atomic rename for the folder instead of an fsync per video.
    with atomic_dir(data_dir / "videos") as tmp:
        for name, data in videos.items():
            (tmp / name).write_bytes(data)
    counts["videos"] = len(videos)
    for path, rows in outputs.items():
        atomic_write_jsonl(path, rows)
        counts[f"{path.parent.name}/{path.stem}"] = len(rows)
    counts["sft/policy_wrong"] = sum(not r["correct"] for r in outputs[m.policy_sft])
    atomic_write_json(data_dir / "world.json", {**header, "counts": counts})
    atomic_write_text(data_dir / "DONE", digest + "\n")
    log.info("video world %s in %s: %s", digest, data_dir, counts)
    return VideoWorldManifest(data_dir, digest, counts)


def load_video_world(data_dir: str | Path) -> VideoWorldManifest:
    """The manifest of a finished video world.

    Raises:
        ValueError: when ``data_dir`` holds no finished video world.
    """
    data_dir = Path(data_dir)
    if not (data_dir / "DONE").is_file():
        raise ValueError(f"{data_dir}: no finished video world (no DONE marker); run generate_video_world")
    meta = json.loads((data_dir / "world.json").read_text(encoding="utf-8"))
    return VideoWorldManifest(data_dir, meta["config_hash"], meta["counts"])


def load_clips(data_dir: str | Path, split: str) -> dict[str, Clip]:
    """The clips of a split, by ``clip_id``: the ground truth to recompute answers or frames from.

    Raises:
        InputError: ``clips/<split>.jsonl`` is missing or malformed.
    """
    path = Path(data_dir) / "clips" / f"{split}.jsonl"
    return {
        r["clip_id"]: Clip.from_json(r) for r in read_jsonl(path, required=("clip_id", "events", "objects"))
    }
