"""Sampling for the `text_to_image` domain: ``sampling.n`` images per prompt from the newest pipeline.

The core's :class:`~polyrlaif.core.sampling.MediaSampler` does the work: every image has its own seed,
recorded on its candidate with the pipeline's fixed settings, and is written atomically with its SHA-256
under ``round_<k>/media/``; an interrupted round resumes where it stopped.
"""

from __future__ import annotations

from typing import Any

from polyrlaif.core.sampling import MediaSampler

__all__ = ["make_sampler"]


def make_sampler(cfg: Any) -> MediaSampler:
    """The round sampler a run config asks for (``sampling.n``, ``sampling.batch_size``, ``run.seed``)."""
    return MediaSampler.from_config(cfg)
