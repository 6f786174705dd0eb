"""Policy building for the `vision_hallucination` domain: any image-text-to-text model transformers loads."""

from __future__ import annotations

from typing import Any

from polyrlaif.core.protocols import Policy

__all__ = ["ADAPTER", "VisionHallucinationAdapter"]


class VisionHallucinationAdapter:
    """Loads an ``AutoModelForImageTextToText`` model (LLaVA-style and the rest) by hub id or local path."""

    def load(self, model: str, **kwargs: Any) -> Policy:
        """Build a :class:`~polyrlaif.core.vlm.VisionLanguagePolicy` for sampling and evaluation."""
        from polyrlaif.core.vlm import VisionLanguagePolicy

        return VisionLanguagePolicy(model, **kwargs)


ADAPTER = VisionHallucinationAdapter()
