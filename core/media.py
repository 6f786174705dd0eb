"""Media in conversations: how a prompt's images reach a policy, a judge and a trainer.

A :class:`~polyrlaif.core.records.PromptRecord` refers to its images by :class:`MediaRef`. Everywhere a
conversation is built from a prompt, the images become content parts of the first user turn, in the
Hugging Face multimodal chat format::

    [{"role": "user", "content": [{"type": "image", "path": "img/0001.png"},
                                  {"type": "text", "text": "Describe the image."}]}]

Text-only prompts keep plain string contents, so text domains see no change. Processors get the
parts with the paths removed (``{"type": "image"}``) and the loaded images beside them, in order.

Media a policy *produces* (a text-to-image model's images, a speech model's waveforms) is written with
:func:`write_media`: atomically, under the round's folder, and referenced with its SHA-256, so the judge
cache, the pairs and their lineage name the exact bytes.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from polyrlaif.core.io import InputError, atomic_write_bytes
from polyrlaif.core.records import MediaRef, PromptRecord

__all__ = [
    "MEDIA_KINDS",
    "conversation_image_paths",
    "has_images",
    "load_image",
    "prompt_conversation",
    "strip_image_paths",
    "with_images",
    "write_media",
]

#: The kinds of media a record can refer to.
MEDIA_KINDS = ("image", "video", "audio")

Conversation = list[dict[str, Any]]


def with_images(messages: Conversation, media: Sequence[MediaRef]) -> Conversation:
    """Put the image references of ``media`` in front of the first user turn's text."""
    images = [{"type": "image", "path": m.uri} for m in media if m.kind == "image"]
    if not images:
        return messages
    out = [dict(m) for m in messages]
    for m in out:
        if m["role"] == "user":
            content = m["content"]
            parts = [{"type": "text", "text": content}] if isinstance(content, str) else list(content)
            m["content"] = images + parts
            return out
    raise ValueError("a conversation with images needs a user turn to attach them to")


def prompt_conversation(prompt: PromptRecord) -> Conversation:
    """The conversation a policy is sampled with: the prompt's messages (or its text as one user
    turn), with its images attached to the first user turn."""
    messages = prompt.messages or [{"role": "user", "content": prompt.text}]
    return with_images(messages, prompt.media)


def conversation_image_paths(conversation: Conversation) -> list[str]:
    """The image paths of a conversation, in the order a processor consumes them."""
    return [
        part["path"]
        for m in conversation
        if not isinstance(m["content"], str)
        for part in m["content"]
        if part.get("type") == "image"
    ]


def has_images(conversation: Conversation) -> bool:
    """True when any turn carries an image part."""
    return bool(conversation_image_paths(conversation))


def strip_image_paths(conversation: Conversation) -> Conversation:
    """The conversation as a processor's chat template expects it: ``{"type": "image"}`` placeholders."""
    out = []
    for m in conversation:
        content = m["content"]
        if not isinstance(content, str):
            content = [{"type": "image"} if p.get("type") == "image" else dict(p) for p in content]
        out.append({**m, "content": content})
    return out


def load_image(path: str | Path, *, where: str = "") -> Any:
    """Open an image as RGB, with an error that names the record and the file when it cannot.

    Args:
        path: the image file.
        where: what refers to it (e.g. ``"prompt img_12"``), for the message.

    Raises:
        InputError: the file is missing or not a readable image.
    """
    from PIL import Image, UnidentifiedImageError

    prefix = f"{where}: " if where else ""
    try:
        with Image.open(path) as img:
            return img.convert("RGB")
    except FileNotFoundError:
        raise InputError(f"{prefix}image file not found: {path}") from None
    except (UnidentifiedImageError, OSError, SyntaxError) as exc:
        raise InputError(f"{prefix}image file {path} is not a readable image: {exc}") from None


def write_media(path: str | Path, data: bytes, kind: str) -> MediaRef:
    """Write produced media atomically and return its reference, content hash included.

    Args:
        path: the file to write (its folder is created); its suffix should say the format (``.png``).
        data: the encoded bytes (PNG, WAV, MP4, ...).
        kind: one of :data:`MEDIA_KINDS`.

    Raises:
        ValueError: an unknown kind or empty data (a policy that produced nothing must say so, not
            write an empty file).
    """
    import hashlib

    if kind not in MEDIA_KINDS:
        raise ValueError(f"media kind must be one of {', '.join(MEDIA_KINDS)}, got {kind!r}")
    if not data:
        raise ValueError(f"{path}: refusing to write empty {kind} data")
    atomic_write_bytes(path, data)
    return MediaRef(kind=kind, uri=str(path), sha256=hashlib.sha256(data).hexdigest())
