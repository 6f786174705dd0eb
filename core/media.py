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

Videos reach a model as frames: :func:`sample_frames` decodes (with decord, imported on first use) the
middle frame of each of ``num_frames`` equal segments. :class:`FrameCache` keeps those arrays on disk
per (video SHA-256, ``num_frames``), so the same prompts in later rounds decode nothing.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from polyrlaif.core.io import InputError, atomic_write_bytes
from polyrlaif.core.records import MediaRef, PreferencePair, PromptRecord

if TYPE_CHECKING:
    import numpy as np

__all__ = [
    "MEDIA_KINDS",
    "FrameCache",
    "cached_frames",
    "conversation_image_paths",
    "frame_indices",
    "has_images",
    "has_visual",
    "image_pair_files",
    "load_image",
    "pair_prompt_text",
    "prompt_conversation",
    "sample_frames",
    "strip_image_paths",
    "video_ref",
    "with_images",
    "write_media",
]

#: The kinds of media a record can refer to.
MEDIA_KINDS = ("image", "video", "audio")

Conversation = list[dict[str, Any]]


def with_images(messages: Conversation, media: Sequence[MediaRef]) -> Conversation:
    """Put the image (and video) references of ``media`` in front of the first user turn's text; a video
    becomes a ``{"type": "video", "path"}`` part, which :mod:`polyrlaif.core.vlm` samples into frames."""
    images = [{"type": m.kind, "path": m.uri} for m in media if m.kind in ("image", "video")]
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


def has_visual(conversation: Conversation) -> bool:
    """True when any turn carries an image or a video part (the model must be a vision-language one)."""
    return any(
        part.get("type") in ("image", "video")
        for m in conversation
        if not isinstance(m["content"], str)
        for part in m["content"]
    )


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
    if kind not in MEDIA_KINDS:
        raise ValueError(f"media kind must be one of {', '.join(MEDIA_KINDS)}, got {kind!r}")
    if not data:
        raise ValueError(f"{path}: refusing to write empty {kind} data")
    atomic_write_bytes(path, data)
    return MediaRef(kind=kind, uri=str(path), sha256=hashlib.sha256(data).hexdigest())


def frame_indices(total_frames: int, num_frames: int) -> list[int]:
    """The middle frame of each of ``num_frames`` equal segments of a ``total_frames``-frame video.

    Index ``i`` is ``int((i + 0.5) * total_frames / num_frames)``, clamped to the last frame; a video
    shorter than ``num_frames`` repeats frames rather than failing.

    Raises:
        ValueError: ``total_frames`` or ``num_frames`` is below 1.
    """
    if total_frames < 1 or num_frames < 1:
        raise ValueError(f"need total_frames >= 1 and num_frames >= 1, got {total_frames} and {num_frames}")
    return [min(int((i + 0.5) * total_frames / num_frames), total_frames - 1) for i in range(num_frames)]


def sample_frames(
    path: str | os.PathLike, num_frames: int, *, num_threads: int = 0
) -> tuple[list[int], np.ndarray]:
    """Decode ``num_frames`` frames of a video, the middle frame of each of equal segments.

    Args:
        path: the video file (anything decord's FFmpeg reads: mp4, webm, avi, ...).
        num_frames: how many frames to return.
        num_threads: decoder threads (0: decord picks).

    Returns:
        ``(indices, frames)``: the frame indices read (see :func:`frame_indices`) and a uint8 array of
        shape ``(num_frames, height, width, 3)`` in RGB.

    Raises:
        InputError: the file is missing, empty, not a readable video or holds no frame; the message
            names the file.
        ValueError: ``num_frames`` is below 1.
    """
    if num_frames < 1:
        raise ValueError(f"num_frames must be >= 1, got {num_frames}")
    path = Path(path)
    if not path.is_file():
        raise InputError(f"video file not found: {path}")
    if path.stat().st_size == 0:
        raise InputError(f"video file {path} is empty")
    import decord  # lazy: the CLI and text domains never pay for FFmpeg

    try:
        reader = decord.VideoReader(str(path), num_threads=num_threads)
        total = len(reader)
        if total < 1:
            raise InputError(f"video file {path} holds no frames")
        indices = frame_indices(total, num_frames)
        frames = reader.get_batch(indices).asnumpy()
    except InputError:
        raise
    except Exception as exc:  # decord raises RuntimeError / DECORDError for everything FFmpeg rejects
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(f"video file {path} is not a readable video: {first}") from None
    return indices, frames


def video_ref(path: str | os.PathLike) -> MediaRef:
    """A reference to a video file with its content hash (the key of :class:`FrameCache`).

    Raises:
        InputError: the file is missing.
    """
    return MediaRef(kind="video", uri=str(path), sha256=_file_sha256(Path(path)))


# (resolved path, size, mtime_ns) -> sha256, so a long run hashes each video file once
_SHA_MEMO: dict[tuple[str, int, int], str] = {}


def _file_sha256(path: Path) -> str:
    try:
        st = path.stat()
    except FileNotFoundError:
        raise InputError(f"video file not found: {path}") from None
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns)
    digest = _SHA_MEMO.get(key)
    if digest is None:
        h = hashlib.sha256()
        with path.open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
        digest = _SHA_MEMO[key] = h.hexdigest()
    return digest


class FrameCache:
    """Sampled frames on disk, keyed by the video's SHA-256 and ``num_frames``.

    An entry is ``<sha256>_<num_frames>.npy`` (the ``(num_frames, H, W, 3)`` uint8 array) beside
    ``<sha256>_<num_frames>.json`` (the frame indices), both written atomically, the array last. The key
    is the content, not the path, so a moved or copied video still hits and an edited one misses.

    Attributes:
        cache_dir: the folder holding the entries (created on first write).
        hits: lookups answered from disk by this object.
        misses: lookups that decoded the video.
    """

    def __init__(self, cache_dir: str | os.PathLike) -> None:
        self.cache_dir = Path(cache_dir)
        self.hits = 0
        self.misses = 0

    def _entry(self, digest: str, num_frames: int) -> tuple[Path, Path]:
        stem = self.cache_dir / f"{digest}_{num_frames}"
        return stem.with_suffix(".npy"), stem.with_suffix(".json")

    def frames(self, path: str | os.PathLike, num_frames: int) -> tuple[list[int], np.ndarray]:
        """:func:`sample_frames`, answered from the cache when this content was sampled before.

        Raises:
            InputError: as :func:`sample_frames` (a missing or empty file is reported before any lookup).
        """
        import numpy as np

        path = Path(path)
        if not path.is_file():
            raise InputError(f"video file not found: {path}")
        if path.stat().st_size == 0:
            raise InputError(f"video file {path} is empty")
        array_path, index_path = self._entry(_file_sha256(path), num_frames)
        if array_path.is_file() and index_path.is_file():
            try:
                indices = json.loads(index_path.read_text(encoding="utf-8"))
                frames = np.load(array_path, allow_pickle=False)
                if frames.shape[0] == num_frames == len(indices):
                    self.hits += 1
                    return indices, frames
            except (OSError, ValueError):
                pass  # a damaged entry is decoded again and overwritten
        indices, frames = sample_frames(path, num_frames)
        self.misses += 1
        buf = io.BytesIO()
        np.save(buf, frames, allow_pickle=False)
        atomic_write_bytes(index_path, json.dumps(indices).encode("utf-8"))
        atomic_write_bytes(array_path, buf.getvalue())  # last: its presence marks a complete entry
        return indices, frames


def cached_frames(
    path: str | os.PathLike, num_frames: int, cache_dir: str | os.PathLike
) -> tuple[list[int], np.ndarray]:
    """:func:`sample_frames` through a :class:`FrameCache` in ``cache_dir`` (decodes only on a miss)."""
    return FrameCache(cache_dir).frames(path, num_frames)


def pair_prompt_text(prompt: str | list[dict[str, Any]]) -> str:
    """The text a pair's image was generated from: the prompt string, or the first user turn's text."""
    if isinstance(prompt, str):
        return prompt
    for message in prompt:
        if message.get("role") == "user":
            content = message["content"]
            if isinstance(content, str):
                return content
            return " ".join(part["text"] for part in content if part.get("type") == "text")
    raise InputError("a pair's prompt has no user turn")


def image_pair_files(pairs: Sequence[PreferencePair]) -> tuple[list[str], list[str], list[str]]:
    """Prompts, chosen and rejected image files of ``pairs``, every file opened once to check it.

    Raises:
        InputError: naming the pair and the file, when a pair has no image on a side or a file is
            missing or unreadable.
    """
    prompts, chosen, rejected = [], [], []
    for pair in pairs:
        where = f"pair {pair.pair_id}"
        for side, media, out in (
            ("chosen", pair.chosen_media, chosen),
            ("rejected", pair.rejected_media, rejected),
        ):
            if not media or media[0].kind != "image":
                raise InputError(f"{where}: no {side} image ({side}_media holds no image reference)")
            load_image(media[0].uri, where=f"{where} ({side})")
            out.append(media[0].uri)
        prompts.append(pair_prompt_text(pair.prompt))
    return prompts, chosen, rejected
