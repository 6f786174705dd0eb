"""The search agent's synthetic world as a preparation stage: a generated encyclopedia and its questions.

With ``domain.source: world`` the stage ``world`` writes, from ``domain.world``'s settings
(:class:`~polyrlaif.datasets.qa.world.QAWorldConfig`), a corpus of invented towns, rivers, people,
organisations and events, with near-name distractors, and single- and two-hop questions about it
(:func:`~polyrlaif.datasets.qa.world.write_world`) into ``domain.world_dir``, or, when
that is unset, the shared stage cache under its settings hash. The stage is hashed by those settings and
the generator's version: a rerun skips it; a changed setting builds another in the cache, or, in a
``world_dir``, stops the run naming the key (:mod:`polyrlaif.core.stages`).
Its outputs, the corpus and the questions files, reach ``build`` and the warm start, which reads them
and so runs after it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict
from pathlib import Path
from typing import Any

from polyrlaif.core.config import TrainConfig
from polyrlaif.core.log import get_logger
from polyrlaif.core.protocols import PrepStage
from polyrlaif.core.stages import stage_dir
from polyrlaif.datasets.qa.world import WORLD_FORMAT, write_world

__all__ = ["stages"]

log = get_logger(__name__)


def stages(cfg: TrainConfig) -> list[PrepStage]:
    """The ``world`` stage with ``domain.source: world``; none otherwise."""
    d = cfg.domain
    if d.source != "world":
        return []
    settings = {"format": WORLD_FORMAT, **asdict(d.world)}

    def generate(out: Path, prepared: Mapping[str, dict[str, Any]]) -> dict[str, Any]:
        files = write_world(out, d.world)
        c = files.counts
        log.info(
            f"{c['documents']} documents ({c['distractors']} near-name distractors), "
            f"{c['single_hop']} single-hop and {c['two_hop']} two-hop questions"
        )
        return {"corpus": str(files.corpus), "questions": str(files.questions), **c}

    return [
        PrepStage(
            name="world",
            output_dir=stage_dir(d.world_dir),
            settings=settings,
            run=generate,
            description="an invented encyclopedia and questions about it, from a seed",
        )
    ]
