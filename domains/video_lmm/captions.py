"""Detailed video descriptions made by a captioning model, once per video (``domain.captioner``).

VLM-RLAIF's context-aware judge reads a detailed description of each video. Data that brings none (a
prompts file whose rows have no ``description``) gets one from a captioning model in the ``captions``
preparation stage, in view and resumable, before the rounds start:

    captions  every distinct video among the prompts without a description -> the captioner (any video
              or image LMM the policy adapter loads, ``model.num_frames`` frames, greedy) answers
              :data:`DESCRIBE_PROMPT` -> ``<output_dir>/captions/captions.jsonl``, keyed by the video's
              sha256, so a rerun describes only what is missing, and a changed prompts file, captioner
              or decoding setting is a changed stage (refused, or redone with ``run.recompute=true``)

The build then gives each prompt without a description its video's caption; the judge's prompt hash
covers it like any description. An empty caption is counted (``empty``) and leaves its prompts without
one, never a made-up description.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from polyrlaif.core.config import TrainConfig
from polyrlaif.core.io import read_jsonl
from polyrlaif.core.log import get_logger
from polyrlaif.core.protocols import PrepStage
from polyrlaif.core.records import PromptRecord

__all__ = ["DESCRIBE_PROMPT", "captions_stage", "with_captions"]

log = get_logger(__name__)

#: What the captioner is asked about each video.
DESCRIBE_PROMPT = (
    "Describe this video in detail: every object with its colour and position, what moves and in which "
    "direction, what appears, changes or disappears, and in what order."
)


def captions_stage(cfg: TrainConfig) -> PrepStage | None:
    """The ``captions`` stage (``<output_dir>/captions``), or ``None`` without ``domain.captioner``."""
    d = cfg.domain
    if d.synthetic or not d.captioner:
        return None
    if not d.prompts or not Path(d.prompts).is_file():
        raise ValueError(f"domain.captioner describes the videos of domain.prompts: no file {d.prompts!r}")
    settings = {
        "captioner": d.captioner,
        "prompt": DESCRIBE_PROMPT,
        "num_frames": cfg.model.num_frames,
        "max_new_tokens": d.caption_max_new_tokens,
        "prompts_sha256": hashlib.sha256(Path(d.prompts).read_bytes()).hexdigest(),
    }
    what = "a detailed description of each video the prompts do not describe"
    return PrepStage(
        "captions", Path(cfg.run.output_dir) / "captions", settings, _describe(cfg), description=what
    )


def _describe(cfg: TrainConfig) -> Any:
    def run(out: Path, prepared: Mapping[str, dict[str, Any]]) -> dict[str, Any]:
        from polyrlaif.domains.video_lmm.adapter import ADAPTER
        from polyrlaif.domains.video_lmm.data import load_prompts
        from polyrlaif.domains.video_lmm.qa_judge import answer_videos

        d, m = cfg.domain, cfg.model
        prompts = load_prompts(d.prompts, d.videos_root).prompts  # type: ignore[arg-type]
        videos: dict[str, str] = {}
        for p in prompts:
            if not p.meta.get("description"):
                videos.setdefault(str(p.media[0].sha256), p.media[0].uri)
        log.info(f"captions: {len(videos)} videos without a description, described by {d.captioner}")
        captions: dict[str, list[str]] = {}
        if videos:
            policy = ADAPTER.load(d.captioner, num_frames=m.num_frames, dtype=m.dtype, device=m.device,
                                  cache_dir=m.cache_dir, batch_size=cfg.sampling.batch_size)  # fmt: skip
            try:
                asks = [(sha, Path(uri), DESCRIBE_PROMPT) for sha, uri in videos.items()]
                captions = answer_videos(policy, asks, out / "captions.jsonl",
                                         max_new_tokens=d.caption_max_new_tokens)  # fmt: skip
            finally:
                close = getattr(policy, "close", None)
                if callable(close):
                    close()
        empty = sum(not c[0] for c in captions.values())
        if empty:
            log.warning(
                f"captions: {empty} of {len(captions)} captions are empty; their prompts stay undescribed"
            )
        path = out / "captions.jsonl"
        return {
            "captions": str(path) if captions else None,
            "described": len(captions) - empty,
            "empty": empty,
        }

    return run


def with_captions(prompts: Sequence[PromptRecord], captions_file: str | None) -> list[PromptRecord]:
    """``prompts`` with each undescribed one given its video's caption (by the video's sha256)."""
    if not captions_file:
        return list(prompts)
    by_video = {r["key"]: r["answer"] for r in read_jsonl(captions_file) if r.get("answer")}
    out = []
    for p in prompts:
        caption = by_video.get(str(p.media[0].sha256)) if p.media else None
        if caption and not p.meta.get("description"):
            p = dataclasses.replace(p, meta={**p.meta, "description": caption})
        out.append(p)
    return out
