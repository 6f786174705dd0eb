"""The shape world: synthetic scenes of textured shapes with exact ground truth.

This folder holds the shape world that the vision domains train and measure on. Today that is images
(:mod:`.world` generates and loads them, with COCO, POPE, AMBER and SFT files beside them); clips and
prompt pairs for the ``text_to_image`` and video domains will be added beside them, drawn from the
same vocabulary.

``world`` is the public API (re-exported here); ``draw`` samples and renders scenes, ``text`` writes
captions, questions and claims, and ``files`` turns scenes into the rows of each file.

Example::

    from polyrlaif.datasets.shapes import WorldConfig, generate_world, load_split

    manifest = generate_world("runs/world", WorldConfig(seed=0))
    truth = load_split(manifest.data_dir, "test")
"""

from polyrlaif.datasets.shapes.world import (
    POPE_VARIANTS,
    WORLD_FORMAT,
    ImageTruth,
    TruthObject,
    WorldConfig,
    WorldManifest,
    generate_world,
    load_split,
    load_world,
)

__all__ = [
    "POPE_VARIANTS",
    "WORLD_FORMAT",
    "ImageTruth",
    "TruthObject",
    "WorldConfig",
    "WorldManifest",
    "generate_world",
    "load_split",
    "load_world",
]
