"""Vision-language models: loading, and a policy that samples with the images in its conversations.

Any model that ``AutoModelForImageTextToText`` loads (LLaVA-style and the rest), by hub id or local path,
with its ``AutoProcessor``. Conversations carry images as content parts (see :mod:`polyrlaif.core.media`);
the processor's chat template places the image tokens and the processor turns the images into pixels.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from polyrlaif.core.media import conversation_image_paths, load_image, strip_image_paths
from polyrlaif.core.models import pick_device, pick_dtype, resolve_model_path
from polyrlaif.core.policy import CausalLMPolicy

__all__ = ["VisionLanguagePolicy", "encode_multimodal", "load_vlm"]


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


def encode_multimodal(processor: Any, conversations: Sequence[Any], device: str) -> dict[str, Any]:
    """Chat-template a batch with the generation prompt, load its images and left-pad it.

    Raises:
        InputError: an image file is missing or unreadable (naming the file).
    """
    texts, images = [], []
    for conv in conversations:
        if isinstance(conv, str):
            conv = [{"role": "user", "content": conv}]
        texts.append(
            processor.apply_chat_template(strip_image_paths(conv), add_generation_prompt=True, tokenize=False)
        )
        images.extend(load_image(p, where="conversation") for p in conversation_image_paths(conv))
    tok = processor.tokenizer
    side, tok.padding_side = tok.padding_side, "left"
    try:
        enc = processor(text=texts, images=images or None, return_tensors="pt", padding=True)
    finally:
        tok.padding_side = side
    return {k: v.to(device) for k, v in enc.items()}


class VisionLanguagePolicy(CausalLMPolicy):
    """A VLM as a sampling policy; same batching, seeding and outputs as :class:`CausalLMPolicy`.

    Conversations may carry image parts ``{"type": "image", "path": ...}``; the images are loaded per
    batch, so a large prompt set never sits in memory as pixels.
    """

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
        return encode_multimodal(self.processor, conversations, self.device)
