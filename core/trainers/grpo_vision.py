"""Online RL of a vision-language policy: TRL's GRPO / RLOO vision path, fed with images and video frames.

TRL's ``GRPOTrainer`` treats the policy as a VLM when it is given the processor instead of a tokenizer;
it reads each prompt row's images from an ``images`` column (PIL images) and fills the ``{"type": "image"}``
placeholders of the chat prompt with them, in order. It has no video input, so a video goes in as its
``num_frames`` sampled frames in a row (the middle frame of equal segments,
:func:`polyrlaif.core.media.sample_frames`), the way :mod:`polyrlaif.core.vlm` shows videos to an image
LMM and the vision reward model reads them when its processor has no video processor: policy, reward
model and judge see the same frames.

:func:`vision_rows` turns the core's prompt rows (image parts ``{"type": "image", "path"}``, video parts
``{"type": "video", "path"}``) into TRL's rows, reading the frames through a
:class:`~polyrlaif.core.media.FrameCache` when given one, so later rounds decode nothing.
:func:`check_vision_prompts` measures each prompt with its image tokens expanded, before the model loads.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from polyrlaif.core.io import InputError

__all__ = [
    "check_vision_prompts",
    "is_vision_checkpoint",
    "load_vision_policy",
    "rows_have_visual",
    "vision_rows",
]


def is_vision_checkpoint(path: str) -> bool:
    """True when the checkpoint at ``path`` is an image-text-to-text model (``AutoModelForImageTextToText``
    loads it: LLaVA, LLaVA-NeXT-Video, Qwen2-VL, the tiny VLM, ...)."""
    from transformers import AutoConfig
    from transformers.models.auto.modeling_auto import MODEL_FOR_IMAGE_TEXT_TO_TEXT_MAPPING_NAMES

    config = AutoConfig.from_pretrained(path)
    return config.model_type in MODEL_FOR_IMAGE_TEXT_TO_TEXT_MAPPING_NAMES


def rows_have_visual(prompts: Sequence[dict[str, Any]]) -> bool:
    """True when a prompt row carries images (an ``images`` column, or image or video parts)."""
    from polyrlaif.core.media import has_visual

    for row in prompts:
        if row.get("images") or row.get("image") is not None:
            return True
        if isinstance(row.get("prompt"), list) and has_visual(row["prompt"]):
            return True
    return False


def _frames(path: str, num_frames: int, cache: Any, where: str) -> list[Any]:
    from PIL import Image

    from polyrlaif.core.media import sample_frames

    try:
        _, array = cache.frames(path, num_frames) if cache is not None else sample_frames(path, num_frames)
    except InputError as exc:
        raise InputError(f"{where}: {exc}") from None
    return [Image.fromarray(f) for f in array]


def vision_rows(
    prompts: Sequence[dict[str, Any]], num_frames: int, cache_dir: str | Path | None = None
) -> list[dict[str, Any]]:
    """TRL's vision rows: every image and video part of a row's ``prompt`` becomes ``{"type": "image"}``
    placeholders (a video: ``num_frames`` of them) and its pixels go to the row's ``images`` column, in order.

    Rows that already have an ``images`` column (TRL's own format) are kept as they are; string contents
    become one text part; the row's other columns are kept.

    Args:
        prompts: rows ``{"prompt": [chat messages], **columns}``.
        num_frames: frames sampled per video.
        cache_dir: a :class:`~polyrlaif.core.media.FrameCache` folder; ``None`` decodes every time.

    Raises:
        InputError: a missing or unreadable image or video (naming the row and the file).
        ValueError: a part that is neither text, image nor video, or an image or video part without ``path``.
    """
    from polyrlaif.core.media import FrameCache, load_image

    cache = FrameCache(cache_dir) if cache_dir is not None else None
    out = []
    for i, row in enumerate(prompts):
        if "images" in row:
            out.append(dict(row))
            continue
        where = f"prompt row {i}"
        images: list[Any] = []
        messages = []
        for m in row["prompt"]:
            content = m["content"]
            if isinstance(content, str):
                messages.append({**m, "content": [{"type": "text", "text": content}]})
                continue
            parts: list[dict[str, Any]] = []
            for part in content:
                kind = part.get("type")
                if kind == "text":
                    parts.append({"type": "text", "text": str(part.get("text", ""))})
                    continue
                if kind not in ("image", "video"):
                    raise ValueError(
                        f"{where}: a {kind!r} part; a vision policy reads text, images and videos"
                    )
                if part.get("image") is not None:  # a PIL image already
                    found = [part["image"]]
                elif part.get("path") is None:
                    raise ValueError(f"{where}: an {kind} part without 'path'")
                elif kind == "image":
                    found = [load_image(part["path"], where=where)]
                else:
                    found = _frames(part["path"], num_frames, cache, where)
                images.extend(found)
                parts.extend({"type": "image"} for _ in found)
            messages.append({**m, "content": parts})
        out.append({**row, "prompt": messages, "images": images})
    return out


def check_vision_prompts(rows: Sequence[dict[str, Any]], processor: Any, max_length: int | None) -> None:
    """Refuse a prompt over ``max_length`` tokens, its image tokens expanded as the processor expands them.

    Raises:
        ValueError: a row without a ``prompt`` list, or one over ``max_length`` (naming the row).
    """
    from trl.data_utils import prepare_multimodal_messages

    for i, row in enumerate(rows):
        if not isinstance(row, dict) or not isinstance(row.get("prompt"), list):
            raise ValueError(f"prompt row {i} needs a 'prompt' list of chat messages")
        if max_length is None:
            continue
        images = list(row.get("images") or [])
        messages = prepare_multimodal_messages(row["prompt"], images=images)
        text = processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
        enc = processor(text=[text], images=images or None, return_tensors="pt")
        n = int(enc["input_ids"].shape[-1])
        if n > max_length:
            raise ValueError(
                f"prompt row {i} has {n} tokens with its {len(images)} image(s), over "
                f"max_prompt_length={max_length}"
            )


def load_vision_policy(path: str, dtype: Any) -> tuple[Any, Any]:
    """The policy as ``AutoModelForImageTextToText`` and its ``AutoProcessor`` (a pad token guaranteed)."""
    from transformers import AutoModelForImageTextToText, AutoProcessor

    processor = AutoProcessor.from_pretrained(path)
    tok = processor.tokenizer
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    return AutoModelForImageTextToText.from_pretrained(path, dtype=dtype), processor
