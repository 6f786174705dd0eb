"""Prompts of the `vision_hallucination` domain: (image, instruction) rows, with every image checked.

A prompts file is JSONL, one row per image and instruction::

    {"image": "val2014/COCO_val2014_000000000042.jpg", "instruction": "Describe the image in detail.",
     "image_id": 42, "prompt_id": "coco-42"}

``image`` is relative to ``image_root`` (or absolute); ``image_id`` and ``prompt_id`` are optional. Every
image is opened before a run starts. A missing or unreadable image is an error naming the file, the line
and the image, unless ``on_bad_image="skip"``: then the row is left out, counted and listed (never a
silently shorter run).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from polyrlaif.core.io import InputError, iter_jsonl
from polyrlaif.core.records import MediaRef, PromptRecord

__all__ = ["BAD_IMAGE_POLICIES", "PromptLoad", "check_image", "load_prompts"]

BAD_IMAGE_POLICIES = ("error", "skip")


@dataclass
class PromptLoad:
    """Prompts read from a file, and the rows left out because their image could not be read."""

    prompts: list[PromptRecord]
    skipped: list[dict[str, Any]] = field(default_factory=list)


def check_image(path: Path) -> str | None:
    """``None`` when ``path`` is a readable image, else the reason it is not."""
    from PIL import Image, UnidentifiedImageError

    if not path.is_file():
        return f"image file not found: {path}"
    try:
        with Image.open(path) as img:
            img.verify()  # reads the whole file: a truncated PNG fails here, not halfway through a round
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        return f"image file {path} is not a readable image: {exc}"
    return None


def load_prompts(
    path: str | Path, image_root: str | Path = ".", *, on_bad_image: str = "error"
) -> PromptLoad:
    """Read (image, instruction) prompts and check that every image opens.

    Args:
        path: the prompts JSONL.
        image_root: directory that relative ``image`` paths are resolved against.
        on_bad_image: ``"error"`` (default) or ``"skip"`` (leave the row out, count and list it).

    Returns:
        The prompt records, each with its image as a :class:`MediaRef`, and the skipped rows.

    Raises:
        InputError: a malformed line or a missing field (naming the file and line), a duplicate
            ``prompt_id``, or a bad image when ``on_bad_image="error"``.
    """
    if on_bad_image not in BAD_IMAGE_POLICIES:
        raise ValueError(f"on_bad_image must be one of {BAD_IMAGE_POLICIES}, got {on_bad_image!r}")
    root = Path(image_root)
    out = PromptLoad(prompts=[])
    seen: set[str] = set()
    for lineno, row in iter_jsonl(path, required=("image", "instruction")):
        where = f"{path}:{lineno}"
        image = Path(str(row["image"]))
        image = image if image.is_absolute() else root / image
        pid = str(row.get("prompt_id") or row.get("image_id") or f"line{lineno}")
        if pid in seen:
            raise InputError(f"{where}: duplicate prompt_id {pid!r}")
        seen.add(pid)
        problem = check_image(image)
        if problem is not None:
            if on_bad_image == "error":
                raise InputError(f"{where}: field 'image' of prompt {pid!r}: {problem}")
            out.skipped.append({"where": where, "prompt_id": pid, "image": str(image), "reason": problem})
            continue
        out.prompts.append(
            PromptRecord(
                prompt_id=pid,
                text=str(row["instruction"]),
                media=[MediaRef(kind="image", uri=str(image))],
                meta={"image_id": row.get("image_id", pid)},
            )
        )
    if not out.prompts:
        raise InputError(f"{path}: no usable prompts ({len(out.skipped)} skipped for bad images)")
    return out
