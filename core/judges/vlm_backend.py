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
    """An ``AutoModelForImageTextToText`` judge; conversations may carry ``{"type": "image", "path"}`` and
    ``{"type": "video", "path"}`` parts. Registered as the judge backend ``transformers_vlm``.

    Args:
        model: as :class:`~polyrlaif.core.judges.backends.TransformersBackend`.
        num_frames: frames sampled per video part: a run's judge reads the run's ``model.num_frames``, as
            its policy does. It is part of the backend's name (so of the judge's id and cache key);
            ``None`` (no name suffix) refuses videos: a judge of images only.
        **kwargs: as :class:`~polyrlaif.core.judges.backends.TransformersBackend`.
    """

    packs = False  # the processor expands each image into patch tokens: padded batches

    def __init__(self, model: str, *, num_frames: int | None = None, **kwargs: Any) -> None:
        super().__init__(model, **kwargs)
        if num_frames is not None and num_frames < 1:
            raise ValueError(f"num_frames must be >= 1, got {num_frames}")
        # the frames a video is read as change the answers: a judge reading 4 is not one reading 8
        self.name = f"transformers_vlm:{model}" + (f":{num_frames}_frames" if num_frames else "")
        self.num_frames = num_frames
        self._processor: Any = None

    @classmethod
    def from_loaded_vlm(
        cls, model: Any, processor: Any, *, name: str, batch_size: int = 8, num_frames: int | None = None
    ) -> VisionTransformersBackend:
        """Wrap a VLM already in memory (e.g. a policy labelling its own claims)."""
        backend = cls(name, batch_size=batch_size, num_frames=num_frames)
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

        return encode_multimodal(
            self._processor, conversations, str(self._model.device), num_frames=self.num_frames
        )
