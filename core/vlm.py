"""Vision-language models: loading, and a policy that samples with the images in its conversations.

Any model that ``AutoModelForImageTextToText`` loads (LLaVA-style and the rest), by hub id or local path,
with its ``AutoProcessor``. Conversations carry images as content parts (see :mod:`polyrlaif.core.media`);
the processor's chat template places the image tokens and the processor turns the images into pixels.

Videos are parts too, ``{"type": "video", "path": ...}``: ``num_frames`` frames are sampled from each
(:func:`polyrlaif.core.media.sample_frames`, the middle frame of equal segments). A processor with a video
processor (LLaVA-NeXT-Video, Qwen2-VL) gets them as a video, placed by its chat template; any other image
LMM reads them as that many images in a row.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from polyrlaif.core.media import conversation_image_paths, load_image, strip_image_paths
from polyrlaif.core.models import pick_device, pick_dtype, resolve_model_path
from polyrlaif.core.policy import CausalLMPolicy

__all__ = ["VisionLanguagePolicy", "encode_multimodal", "expand_videos", "load_vlm", "reads_video"]


def load_vlm(
    name_or_path: str, *, dtype: str = "auto", device: str = "auto", cache_dir: str | None = None
) -> tuple[Any, Any]:
    """Load an image-text-to-text model and its processor, in eval mode, on ``device``.

    Returns:
        ``(model, processor)``; the processor's tokenizer is guaranteed a pad token.
    """
    from transformers import AutoModelForImageTextToText, AutoProcessor

    path = resolve_model_path(name_or_path, cache_dir)
    dev = pick_device(device)
    processor = AutoProcessor.from_pretrained(path)
    tok = processor.tokenizer
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    model = AutoModelForImageTextToText.from_pretrained(path, dtype=pick_dtype(dtype, dev))
    model.to(dev)
    model.eval()
    return model, processor


def reads_video(processor: Any) -> bool:
    """True when the processor takes videos itself (it has a video processor)."""
    return getattr(processor, "video_processor", None) is not None


def expand_videos(conversation: Any, num_frames: int | None, *, as_images: bool) -> tuple[Any, list[Any]]:
    """The conversation with each video part's frames sampled: ``(conversation, frames)``.

    With ``as_images`` a video part becomes ``num_frames`` image parts (paths dropped) and ``frames`` is
    the list of PIL images in order; otherwise the part stays a ``{"type": "video"}`` placeholder and
    ``frames`` holds one ``(num_frames, H, W, 3)`` array per video. ``num_frames`` has no default: a run's
    models all read the run's ``model.num_frames``; ``None`` is for callers that expect no video.

    Raises:
        ValueError: a video part and ``num_frames`` is ``None``.
        InputError: a missing, empty or corrupt video (naming the file).
    """
    from polyrlaif.core.media import sample_frames

    out, frames = [], []
    for m in conversation:
        content = m["content"]
        if isinstance(content, str) or not any(p.get("type") == "video" for p in content):
            out.append(m)
            continue
        parts = []
        for part in content:
            if part.get("type") != "video":
                parts.append(part)
                continue
            if num_frames is None:
                raise ValueError(
                    f"video {part.get('path')!r}: no frame count given (the run's model.num_frames)"
                )
            _, array = sample_frames(part["path"], num_frames)
            if as_images:
                from PIL import Image

                frames.extend(Image.fromarray(f) for f in array)
                parts.extend({"type": "image"} for _ in range(len(array)))
            else:
                frames.append(array)
                parts.append({"type": "video"})
        out.append({**m, "content": parts})
    return out, frames


def encode_multimodal(
    processor: Any, conversations: Sequence[Any], device: str, *, num_frames: int | None
) -> dict[str, Any]:
    """Chat-template a batch with the generation prompt, load its images (and videos' frames) and
    left-pad it. ``num_frames`` (frames per video) has no default: it is the run's ``model.num_frames``,
    so the policy, its trainers and its judges read a video alike (``None``: no video expected).

    Raises:
        ValueError: a video and no ``num_frames``.
        InputError: an image or video file is missing or unreadable (naming the file).
    """
    texts, images, videos = [], [], []
    as_images = not reads_video(processor)
    for conv in conversations:
        if isinstance(conv, str):
            conv = [{"role": "user", "content": conv}]
        images.extend(load_image(p, where="conversation") for p in conversation_image_paths(conv))
        conv, frames = expand_videos(conv, num_frames, as_images=as_images)
        (images if as_images else videos).extend(frames)
        texts.append(
            processor.apply_chat_template(strip_image_paths(conv), add_generation_prompt=True, tokenize=False)
        )
    tok = processor.tokenizer
    side, tok.padding_side = tok.padding_side, "left"
    extra = {"videos": videos} if videos else {}
    try:
        enc = processor(text=texts, images=images or None, return_tensors="pt", padding=True, **extra)
    finally:
        tok.padding_side = side
    return {k: v.to(device) for k, v in enc.items()}


class VisionLanguagePolicy(CausalLMPolicy):
    """A VLM as a sampling policy; same batching, seeding and outputs as :class:`CausalLMPolicy`.

    Conversations may carry image parts ``{"type": "image", "path": ...}`` and video parts
    ``{"type": "video", "path": ...}``; the images and frames are loaded per batch, so a large prompt set
    never sits in memory as pixels. ``num_frames`` frames are sampled per video (attribute): a domain's
    adapter sets it to the run's ``model.num_frames``; unset (``None``), a video is refused.
    """

    num_frames: int | None = None

    def _load(self, dtype: str) -> tuple[Any, Any]:
        model, self.processor = load_vlm(self.model_path, dtype=dtype, device=self.device)
        if not getattr(self.processor, "chat_template", None):
            raise ValueError(f"{self.model_path}: the processor has no chat template")
        return model, self.processor.tokenizer

    def render(self, conversation: Any) -> str:
        """The prompt text for one conversation, image tokens not yet expanded."""
        if isinstance(conversation, str):
            conversation = [{"role": "user", "content": conversation}]
        return self.processor.apply_chat_template(
            strip_image_paths(conversation), tokenize=False, add_generation_prompt=True
        )

    def _encode(self, conversations: Sequence[Any]) -> dict[str, Any]:
        return encode_multimodal(self.processor, conversations, self.device, num_frames=self.num_frames)
