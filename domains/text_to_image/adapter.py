"""Policy building for the `text_to_image` domain: any diffusers text-to-image pipeline.

``DiffusionPipeline.from_pretrained`` by hub id or local directory (SD 1.5, SDXL and the like), or the
core's pixel-space pipeline of the synthetic world, sampled with a fixed scheduler, step count and
guidance scale (``sampling.scheduler``, ``sampling.steps``, ``sampling.guidance_scale``) and a seed per
image, so each image is reproducible from its record.
"""

from __future__ import annotations

from typing import Any

from polyrlaif.core.protocols import MediaPolicy

__all__ = ["ADAPTER", "TextToImageAdapter"]


class TextToImageAdapter:
    """Loads a :class:`~polyrlaif.core.diffusion_policy.DiffusionPolicy`."""

    def load(self, model: str, **kwargs: Any) -> MediaPolicy:
        """The policy for ``model``; ``cache_dir`` is the hub's own (HF_HOME) for pipelines."""
        from polyrlaif.core.diffusion_policy import DiffusionPolicy

        kwargs.pop("cache_dir", None)
        return DiffusionPolicy(model, **kwargs)

    def policy_kwargs(self, cfg: Any) -> dict[str, Any]:
        """The sampling settings a run samples (and evaluates) with."""
        s = cfg.sampling
        return {"steps": s.steps, "guidance_scale": s.guidance_scale, "scheduler": s.scheduler}


ADAPTER = TextToImageAdapter()
