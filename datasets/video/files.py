"""The rows of the video world's files, split by split (layout in :mod:`polyrlaif.datasets.video.world`).

Every clip, QA item and wrong answer draws from its own :class:`random.Random` stream named by the
seed, the split, the clip's index (and the item's id), so no row depends on how many rows came before.
"""

from __future__ import annotations

import random
from typing import TYPE_CHECKING

from polyrlaif.datasets.video.clip import Clip
from polyrlaif.datasets.video.mp4 import encode_mp4
from polyrlaif.datasets.video.sample import sample_clip
from polyrlaif.datasets.video.text import describe, other_answer, qa_items, wrong_answer

if TYPE_CHECKING:
    from polyrlaif.datasets.video.world import VideoWorldConfig

__all__ = ["judge_rows", "policy_rows", "reading_rows", "split_clips", "split_rows"]


def split_clips(cfg: VideoWorldConfig, split: str, exclude: set[str]) -> list[Clip]:
    """The split's clips; a clip whose description is in ``exclude`` is drawn again from a new stream."""
    clips = []
    for i in range(1, getattr(cfg, split) + 1):
        for attempt in range(1000):
            clip = sample_clip(
                random.Random(f"polyrlaif-video/{cfg.seed}/{split}/{i}/{attempt}"), **cfg.clip_kwargs()
            )
            if describe(clip) not in exclude:
                break
        else:
            raise RuntimeError(f"{split} clip {i}: every draw repeats a held-out clip; use fewer test clips")
        clips.append(clip)
    return clips


def split_rows(
    cfg: VideoWorldConfig, split: str, clips: list[Clip], videos: dict[str, bytes]
) -> tuple[list, list]:
    """``clips/<split>.jsonl`` and ``qa/<split>.jsonl`` rows; encodes each clip into ``videos``."""
    clip_rows, qa_rows = [], []
    for i, clip in enumerate(clips, start=1):
        clip_id = f"{split}_{i:05d}"
        video = f"videos/{clip_id}.mp4"
        videos[f"{clip_id}.mp4"] = encode_mp4(clip.render(), cfg.fps)
        clip_rows.append(
            {"clip_id": clip_id, "video": video, "description": describe(clip), **clip.to_json()}
        )
        items = qa_items(clip, random.Random(f"polyrlaif-video/{cfg.seed}/{split}/{i}/qa"))
        for k, item in enumerate(items):
            qa_rows.append({"id": f"{clip_id}_q{k}", "video": video, "clip_id": clip_id, **item})
    return clip_rows, qa_rows


def policy_rows(cfg: VideoWorldConfig, qa_rows: list[dict], clips: dict[str, Clip]) -> list[dict]:
    """``sft/policy.jsonl``: the QA rows, a ``wrong_answer_rate`` share of the motion/order ones wrong.

    Args:
        cfg: the world's config.
        qa_rows: the sft split's QA rows.
        clips: the clips by ``clip_id``.
    """
    eligible = [r["id"] for r in qa_rows if r["type"] in cfg.wrong_answer_types]
    want = round(cfg.wrong_answer_rate * len(eligible))
    wrong = set(random.Random(f"polyrlaif-video/{cfg.seed}/policy-wrong").sample(eligible, want))
    rows = []
    for r in qa_rows:
        answer = r["answer"]
        if r["id"] in wrong:
            answer = wrong_answer(
                r, clips[r["clip_id"]], random.Random(f"polyrlaif-video/{cfg.seed}/{r['id']}/policy")
            )
        keep = {k: r[k] for k in ("id", "video", "clip_id", "question")}
        rows.append(
            {
                **keep,
                "answer": answer,
                "gold": r["answer"],
                "correct": answer == r["answer"],
                "type": r["type"],
            }
        )
    return rows


def judge_rows(
    cfg: VideoWorldConfig, qa_rows: list[dict], clip_rows: list[dict], clips: dict[str, Clip]
) -> list[dict]:
    """``sft/judge.jsonl``: every QA item twice, with its gold answer (label "yes") and a plausible wrong
    one (label "no"), beside the clip's description, for a context-aware yes/no judge.

    Args:
        cfg: the world's config.
        qa_rows: the judge split's QA rows.
        clip_rows: the judge split's clip rows (for the descriptions).
        clips: the clips by ``clip_id``.
    """
    descriptions = {r["clip_id"]: r["description"] for r in clip_rows}
    rows = []
    for r in qa_rows:
        wrong = wrong_answer(
            r, clips[r["clip_id"]], random.Random(f"polyrlaif-video/{cfg.seed}/{r['id']}/judge")
        )
        for suffix, answer, label in (("yes", r["answer"], "yes"), ("no", wrong, "no")):
            rows.append(
                {
                    "id": f"{r['id']}_{suffix}",
                    "video": r["video"],
                    "clip_id": r["clip_id"],
                    "description": descriptions[r["clip_id"]],
                    "question": r["question"],
                    "answer": answer,
                    "label": label,
                    "type": r["type"],
                }
            )
    return rows


def reading_rows(cfg: VideoWorldConfig, clips: int, exclude: set[str]) -> list[dict]:
    """Text-only judge rows from ``clips`` more clips, never rendered: each QA item with its gold answer
    (label "yes") and a wrong one (label "no"; half the world's near misses, half drawn from the
    type's answer words), beside the clip's description. What a judge reads its descriptions with
    before it learns to look (its own split, ``reading``, disjoint from every clip in ``exclude``).

    Rows: ``{"id", "description", "question", "answer", "label", "type"}``.
    """
    rows = []
    for i in range(1, clips + 1):
        for attempt in range(1000):
            rng = random.Random(f"polyrlaif-video/{cfg.seed}/reading/{i}/{attempt}")
            clip = sample_clip(rng, **cfg.clip_kwargs())
            if describe(clip) not in exclude:
                break
        else:
            raise RuntimeError(f"reading clip {i}: every draw repeats an excluded clip")
        text = describe(clip)
        rng = random.Random(f"polyrlaif-video/{cfg.seed}/reading/{i}/qa")
        for k, item in enumerate(qa_items(clip, rng)):
            near = rng.random() < 0.5
            wrong = wrong_answer(item, clip, rng) if near else other_answer(item["answer"], item["type"], rng)
            for label, answer in (("yes", item["answer"]), ("no", wrong)):
                rows.append({"id": f"reading_{i:05d}_q{k}_{label}", "description": text,
                             "question": item["question"], "answer": answer, "label": label,
                             "type": item["type"]})  # fmt: skip
    return rows
