"""A local vision-language judge: the transformers backend, with the images in its conversations.

The labeler of RLAIF-V style feedback answers yes/no questions about an image; :meth:`yes_no` reads
p(yes) against p(no) from the next-token logits after the chat-templated prompt with the image in it,
exactly as the text backend does for text judges.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from polyrlaif.core.judges.backends import TransformersBackend

__all__ = ["VisionTransformersBackend"]


class VisionTransformersBackend(TransformersBackend):
    """An ``AutoModelForImageTextToText`` judge; conversations may carry ``{"type": "image", "path"}``
    parts. Registered as the judge backend ``transformers_vlm``.

    Args: as :class:`~polyrlaif.core.judges.backends.TransformersBackend`.
    """

    packs = False  # the processor expands each image into patch tokens: padded batches

    def __init__(self, model: str, **kwargs: Any) -> None:
        super().__init__(model, **kwargs)
        self.name = f"transformers_vlm:{model}"
        self._processor: Any = None

    @classmethod
    def from_loaded_vlm(
        cls, model: Any, processor: Any, *, name: str, batch_size: int = 8
    ) -> VisionTransformersBackend:
        """Wrap a VLM already in memory (e.g. a policy labelling its own claims)."""
        backend = cls(name, batch_size=batch_size)
        backend._model, backend._processor, backend._tokenizer = model.eval(), processor, processor.tokenizer
        return backend

    def _ensure_loaded(self) -> tuple[Any, Any]:
        if self._model is None:
            from polyrlaif.core.vlm import load_vlm

            model, processor = load_vlm(
                self.model_name, dtype=self.dtype, device=self.device, cache_dir=self.cache_dir
            )
            self._model, self._processor, self._tokenizer = model.eval(), processor, processor.tokenizer
        return self._model, self._tokenizer

    def _encode(self, conversations: Sequence[Any]) -> Any:
        from polyrlaif.core.vlm import encode_multimodal

        return encode_multimodal(self._processor, conversations, str(self._model.device))
