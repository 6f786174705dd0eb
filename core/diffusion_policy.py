"""The text-to-image policy: PNG bytes per prompt from any pipeline :mod:`polyrlaif.core.diffusion` loads.

:class:`DiffusionPolicy` is the :class:`~polyrlaif.core.protocols.MediaPolicy` over a text-to-image
pipeline: each image a function of its prompt, the policy's fixed settings and its own seed, not of
the other prompts in its batch: every image has its own ``torch.Generator``, prompts are padded to the
tokenizer's fixed length, and every pipeline call has the same shape (a short batch is filled up with
dummy images), because convolution kernels round differently at different batch sizes (measured on
CPU: a 1 in 255 pixel difference after 10 steps) but give each image the same bits wherever it sits in
a batch of fixed size. So a (prompt, seed) drawn once is kept and returned again: the benchmarks of one
evaluation (compositional accuracy, CLIPScore) share their images instead of drawing them twice.
"""

from __future__ import annotations

import gc
import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from polyrlaif.core.diffusion import SCHEDULERS, load_t2i_pipeline

__all__ = ["MEMO_IMAGES", "DiffusionPolicy"]


def _png(image: Any) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return buf.getvalue()


#: Images a :class:`DiffusionPolicy` keeps for reuse (a round's evaluation is a few hundred).
MEMO_IMAGES = 4096


class DiffusionPolicy:
    """A :class:`~polyrlaif.core.protocols.MediaPolicy` over a text-to-image pipeline: PNG bytes per prompt.

    Args:
        name_or_path: a pipeline directory or hub id (see :func:`load_t2i_pipeline`).
        steps: denoising steps.
        guidance_scale: classifier-free guidance weight.
        scheduler: an inference scheduler of :data:`SCHEDULERS`, built from the saved scheduler's config
            (same noise schedule), or ``"saved"`` for the saved one. DDIM is deterministic given the
            starting noise.
        height: image height in pixels (default: the model's native size).
        width: image width in pixels (default: the model's native size).
        dtype: ``auto`` (float32 on CPU, bfloat16 on CUDA) or a dtype name.
        device: ``auto``, ``cpu`` or ``cuda[:i]``.
        batch_size: images per pipeline call; a call for fewer images still computes this many.

    Raises:
        ValueError: an unknown scheduler name.
    """

    media_kind = "image"
    suffix = ".png"

    def __init__(
        self,
        name_or_path: str | Path,
        *,
        steps: int = 20,
        guidance_scale: float = 3.0,
        scheduler: str = "ddim",
        height: int | None = None,
        width: int | None = None,
        dtype: str = "auto",
        device: str = "auto",
        batch_size: int = 8,
    ) -> None:
        if scheduler != "saved" and scheduler not in SCHEDULERS:
            raise ValueError(f"unknown scheduler {scheduler!r}; valid: saved, {', '.join(SCHEDULERS)}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        self.model_id = str(name_or_path)
        self.model_path = str(name_or_path)
        self.steps, self.guidance_scale, self.batch_size = steps, guidance_scale, batch_size
        self.pipe = load_t2i_pipeline(name_or_path, dtype=dtype, device=device)
        if scheduler != "saved":
            import diffusers

            self.pipe.scheduler = getattr(diffusers, SCHEDULERS[scheduler]).from_config(
                self.pipe.scheduler.config
            )
        self.pipe.set_progress_bar_config(disable=True)
        native = self.pipe.unet.config.sample_size * getattr(self.pipe, "vae_scale_factor", 1)
        self.height, self.width = height or native, width or native
        # (prompt, seed) -> PNG: an image is a function of both under fixed settings, so the benchmarks of
        # one evaluation (compositional accuracy, CLIPScore) share their images instead of drawing twice
        self._made: dict[tuple[str, int], bytes] = {}
        self.stats = {"images": 0, "reused": 0}

    def settings(self) -> dict[str, Any]:
        """The fixed generation settings recorded with every candidate."""
        return {
            "scheduler": type(self.pipe.scheduler).__name__,
            "steps": self.steps,
            "guidance_scale": self.guidance_scale,
            "height": self.height,
            "width": self.width,
        }

    def generate_media(self, prompts: Sequence[str], *, seeds: Sequence[int]) -> list[bytes]:
        """One PNG per prompt, ``prompts[i]`` generated from ``seeds[i]`` (its own CPU generator); a
        (prompt, seed) this policy drew before is returned again, not drawn again (``stats["reused"]``).

        Raises:
            ValueError: ``prompts`` and ``seeds`` differ in length.
        """
        if len(prompts) != len(seeds):
            raise ValueError(f"{len(prompts)} prompts but {len(seeds)} seeds")
        keys = [(str(p), int(s)) for p, s in zip(prompts, seeds, strict=True)]
        todo = list(dict.fromkeys(k for k in keys if k not in self._made))
        made = dict(zip(todo, self._draw([p for p, _ in todo], [s for _, s in todo]), strict=True))
        out = [made[k] if k in made else self._made[k] for k in keys]
        if len(self._made) + len(made) > MEMO_IMAGES:  # bounded: start over rather than grow
            self._made.clear()
        self._made.update(made)
        self.stats["images"] += len(todo)
        self.stats["reused"] += len(keys) - len(todo)
        return out

    def _draw(self, prompts: Sequence[str], seeds: Sequence[int]) -> list[bytes]:
        import torch

        out: list[bytes] = []
        for start in range(0, len(prompts), self.batch_size):
            chunk = list(prompts[start : start + self.batch_size])
            chunk_seeds = [int(s) for s in seeds[start : start + self.batch_size]]
            real = len(chunk)
            # every call has batch_size images (see the module docstring): fill up with dummies
            chunk += [chunk[-1]] * (self.batch_size - real)
            chunk_seeds += [0] * (self.batch_size - real)
            # CPU generators: a seed gives the same starting noise on any device
            gens = [torch.Generator("cpu").manual_seed(s) for s in chunk_seeds]
            images = self.pipe(
                chunk,
                num_inference_steps=self.steps,
                guidance_scale=self.guidance_scale,
                generator=gens,
                height=self.height,
                width=self.width,
                output_type="pil",
            ).images
            out.extend(_png(img) for img in images[:real])
        return out

    def close(self) -> None:
        """Free the pipeline's memory (the policy cannot generate afterwards)."""
        import torch

        self.pipe = None
        gc.collect()
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
