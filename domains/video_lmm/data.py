"""(video, question) prompts of the `video_lmm` domain, every video checked before a run starts.

A prompts file is JSONL, one question about one video per row::

    {"video": "clips/v0042.mp4", "question": "Which way did the red square move?", "id": "v0042_1",
     "description": "A red square appears at the left, then moves right ..."}

``video`` is relative to ``videos_root`` (or absolute); ``id`` defaults to ``p<line>``; ``description``
is the video's detailed description, which the context-aware judge reads (VLM-RLAIF). A missing,
empty or corrupt video is left out with its reason, counted and listed in the run's ``skipped.jsonl``.
With ``curriculum="length"`` the prompts are ordered from short questions to long (easy to hard), so
``run.curriculum`` consumes them in that order over rounds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from polyrlaif.core.io import InputError, iter_jsonl
from polyrlaif.core.records import PromptRecord

__all__ = ["PromptLoad", "load_prompts"]


@dataclass
class PromptLoad:
    """Prompts read from a file, and the rows left out because their video could not be read."""

    prompts: list[PromptRecord]
    skipped: list[dict[str, Any]] = field(default_factory=list)


def load_prompts(path: str | Path, videos_root: str | Path, *, curriculum: str = "none") -> PromptLoad:
    """Read (video, question) prompts and check that every video decodes.

    Raises:
        InputError: a row without ``video`` or ``question``, or with a field that is not a string, naming
            the file, the line and the field; checked for every row before any video is read.
    """
    from polyrlaif.core.media import sample_frames, video_ref

    rows = []
    for lineno, row in iter_jsonl(path, required=("video", "question")):
        for key in ("video", "question", "id", "description"):
            if key in row and not isinstance(row[key], str):
                raise InputError(f"{path}:{lineno}: field {key!r} must be a string")
        rows.append((lineno, row))
    out = PromptLoad([])
    for lineno, row in rows:
        video = Path(videos_root) / row["video"]
        try:
            sample_frames(video, 1)
        except InputError as exc:
            out.skipped.append({"line": lineno, "video": str(video), "reason": f"unreadable_video: {exc}"})
            continue
        meta = {"description": row["description"]} if row.get("description") else {}
        out.prompts.append(
            PromptRecord(
                prompt_id=str(row.get("id") or f"p{lineno}"),
                text=row["question"],
                media=[video_ref(video)],
                meta=meta,
            )  # fmt: skip
        )
    if curriculum == "length":
        out.prompts.sort(key=lambda p: len(p.text.split()))  # stable: equal lengths keep file order
    return out
