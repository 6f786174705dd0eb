"""Policy building for the `video_lmm` domain: video LMMs and image LMMs that transformers loads.

LLaVA-NeXT-Video, Qwen2-VL / Qwen2.5-VL and the like (by hub id or local path) get the sampled frames as
a video, placed by their processor's chat template; image LMMs (LLaVA and the tiny VLM of the synthetic
world) read the same frames as a row of images (:mod:`polyrlaif.core.vlm`).
"""

from __future__ import annotations

from typing import Any

from polyrlaif.core.protocols import Policy

__all__ = ["ADAPTER", "VideoLMMAdapter"]


class VideoLMMAdapter:
    """Loads a :class:`~polyrlaif.core.vlm.VisionLanguagePolicy` that samples ``num_frames`` per video."""

    def load(self, model: str, *, num_frames: int = 8, **kwargs: Any) -> Policy:
        """The policy for ``model`` (``num_frames``: a run passes its ``model.num_frames``; 8 is that
        field's default, for ``polyrlaif eval --model``)."""
        from polyrlaif.core.vlm import VisionLanguagePolicy

        policy = VisionLanguagePolicy(model, **kwargs)
        policy.num_frames = num_frames
        return policy

    def policy_kwargs(self, cfg: Any) -> dict[str, Any]:
        """The frames per video a run's models read (``model.num_frames``; its trainers and judge read it
        too)."""
        return {"num_frames": cfg.model.num_frames}


ADAPTER = VideoLMMAdapter()
