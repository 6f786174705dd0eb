"""The draw world: synthetic text-to-image data with prompts a 32 x 32 image shows unambiguously.

It is the CPU stand-in for text-to-image data in the ``text_to_image`` domain. Prompts come from a
small grammar (:mod:`.spec`: three shapes, four palette colours, counts 1-3, left/right); every
prompt has exact images (:mod:`.renderer`); a deterministic detector reads any image back and checks
it against a prompt per GenEval axis (:mod:`.detector`); analogous prompts differ in exactly one
taxonomy axis (:mod:`.analogs`, :mod:`.taxonomy` and ``taxonomy.yaml``); and :mod:`.world` writes
the files a diffusion model, a CLIP judge and RLAIF read.

Example::

    from polyrlaif.datasets.draw import DrawWorldConfig, check, generate_world, parse_prompt, render

    spec = parse_prompt("a red square to the left of two blue circles")
    image = render(spec, seed=0)
    assert check("a red square to the left of two blue circles", image)["overall"]
    manifest = generate_world("runs/draw_world", DrawWorldConfig(seed=0))
"""

from polyrlaif.datasets.draw.analogs import (
    WORLD_AXES,
    PromptGroup,
    analogous,
    applicable_axes,
    axis_diff,
    prompt_groups,
)
from polyrlaif.datasets.draw.detector import (
    ASPECT_RANGE,
    AXES_CHECKED,
    COLOUR_TOLERANCE,
    MIN_AREA,
    SQUARE_MIN_FILL,
    TRIANGLE_MAX_TOP_SHARE,
    Blob,
    check,
    check_graded,
    classify_pixels,
    classify_shape,
    detect,
)
from polyrlaif.datasets.draw.renderer import (
    PlacedObject,
    default_size_range,
    draw_mask,
    layout,
    render,
    render_png,
)
from polyrlaif.datasets.draw.spec import (
    BACKGROUND_RGB,
    COLOURS,
    COUNT_WORDS,
    DEFAULT_KIND_WEIGHTS,
    KINDS,
    PALETTE,
    RELATIONS,
    SHAPES,
    ObjectSpec,
    PromptSpec,
    Relation,
    parse_prompt,
    sample_spec,
    semantic_key,
    spec_kind,
    spec_to_text,
)
from polyrlaif.datasets.draw.taxonomy import Taxonomy, TaxonomyAxis, load_taxonomy
from polyrlaif.datasets.draw.world import (
    WORLD_FORMAT,
    DrawWorldConfig,
    DrawWorldManifest,
    generate_world,
    load_world,
)

__all__ = [
    "ASPECT_RANGE",
    "AXES_CHECKED",
    "BACKGROUND_RGB",
    "COLOURS",
    "COLOUR_TOLERANCE",
    "COUNT_WORDS",
    "DEFAULT_KIND_WEIGHTS",
    "KINDS",
    "MIN_AREA",
    "PALETTE",
    "RELATIONS",
    "SHAPES",
    "SQUARE_MIN_FILL",
    "TRIANGLE_MAX_TOP_SHARE",
    "WORLD_AXES",
    "WORLD_FORMAT",
    "Blob",
    "DrawWorldConfig",
    "DrawWorldManifest",
    "ObjectSpec",
    "PlacedObject",
    "PromptGroup",
    "PromptSpec",
    "Relation",
    "Taxonomy",
    "TaxonomyAxis",
    "analogous",
    "applicable_axes",
    "axis_diff",
    "check",
    "check_graded",
    "classify_pixels",
    "classify_shape",
    "default_size_range",
    "detect",
    "draw_mask",
    "generate_world",
    "layout",
    "load_taxonomy",
    "load_world",
    "parse_prompt",
    "prompt_groups",
    "render",
    "render_png",
    "sample_spec",
    "semantic_key",
    "spec_kind",
    "spec_to_text",
]
