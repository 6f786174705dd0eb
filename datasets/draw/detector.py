"""Reading an image back: palette blobs, their shapes, and a GenEval-style check against a prompt.

:func:`detect` sees only pixels. A blurred or anti-aliased edge mixes an object's colour with the
background, so each pixel is compared with the segment from the background colour to each palette
colour: it takes the colour whose segment is nearest, provided it lies at least halfway from the
background towards that colour (so a blurred edge keeps the shape's true outline) and within
:data:`COLOUR_TOLERANCE` of the segment; every other pixel is background. Same-colour pixels are
grouped into 8-connected components, and components smaller than :data:`MIN_AREA` pixels are noise.
A blob's shape comes from its bounding box:

* aspect ratio (width / height) outside :data:`ASPECT_RANGE`: no shape (a smear, or touching objects);
* fill ratio (pixels / box area) >= :data:`SQUARE_MIN_FILL` (0.9): square (rendered squares fill
  1.0, rendered discs of 6-10 px fill 0.67-0.81);
* top share (pixels in the top half of the box / pixels in both halves, the middle row of an odd box
  left out) <= :data:`TRIANGLE_MAX_TOP_SHARE` (0.4): triangle (rendered triangles, apex up, have
  0.22-0.29; discs and squares 0.5);
* otherwise: circle.

The top share separates triangles from small discs, whose fill ratios overlap (a 6 px disc fills
0.67, a 6 px triangle 0.58). :func:`check` then scores a prompt per axis as GenEval does.

Measured on 500 rendered 32 px images of random prompts: every check passes on the clean images, with
Gaussian noise of sigma 20 per channel, and after a Gaussian blur of radius 0.8 px; 98.6% pass with
sigma 30, 84% after a blur of radius 1 px.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from polyrlaif.datasets.draw.spec import BACKGROUND_RGB, COLOURS, PALETTE, PromptSpec, parse_prompt

__all__ = [
    "ASPECT_RANGE",
    "AXES_CHECKED",
    "COLOUR_TOLERANCE",
    "MIN_AREA",
    "SQUARE_MIN_FILL",
    "TRIANGLE_MAX_TOP_SHARE",
    "Blob",
    "check",
    "classify_pixels",
    "classify_shape",
    "detect",
]

COLOUR_TOLERANCE = 80.0
"""Largest RGB distance of a pixel from the background-to-colour segment for it to count as that colour
(off-palette colours such as white or grey lie farther than this from every segment)."""

MIN_AREA = 8
"""Smallest blob in pixels; smaller ones are noise (the smallest rendered object, a 6 px triangle,
has 21)."""

SQUARE_MIN_FILL = 0.9
TRIANGLE_MAX_TOP_SHARE = 0.4
ASPECT_RANGE = (0.6, 1.0 / 0.6)


@dataclass(frozen=True)
class Blob:
    """One detected object.

    Attributes:
        colour: its palette colour name.
        shape: ``"square"``, ``"circle"``, ``"triangle"``, or None when its box is too elongated.
        cx: centroid column in pixels (0 = left edge of the first column).
        cy: centroid row in pixels.
        area: number of pixels.
        bbox: tight box ``(x, y, w, h)``.
        fill: ``area / (w * h)``.
        top_share: share of the pixels of the top and bottom halves that lie in the top half.
    """

    colour: str
    shape: str | None
    cx: float
    cy: float
    area: int
    bbox: tuple[int, int, int, int]
    fill: float
    top_share: float


def classify_shape(mask: Any) -> tuple[str | None, float, float]:
    """The shape of one blob from its mask cropped to its tight box (see the module docstring).

    Args:
        mask: a 2-D boolean numpy array, True on the blob, cropped to the blob's bounding box.

    Returns:
        ``(shape or None, fill ratio, top share)``.
    """
    h, w = mask.shape
    area = int(mask.sum())
    fill = area / float(w * h)
    top, bottom = int(mask[: h // 2].sum()), int(mask[h - h // 2 :].sum())
    top_share = top / (top + bottom) if top + bottom else 0.5
    if not ASPECT_RANGE[0] <= w / h <= ASPECT_RANGE[1]:
        return None, fill, top_share
    if fill >= SQUARE_MIN_FILL:
        return "square", fill, top_share
    if top_share <= TRIANGLE_MAX_TOP_SHARE:
        return "triangle", fill, top_share
    return "circle", fill, top_share


def classify_pixels(pixels: Any, tolerance: float = COLOUR_TOLERANCE) -> Any:
    """The palette colour of every pixel (see the module docstring).

    Args:
        pixels: an ``H x W x 3`` float array of RGB values in 0-255.
        tolerance: largest distance from a background-to-colour segment.

    Returns:
        An ``H x W`` int array: the index in :data:`~polyrlaif.datasets.draw.spec.COLOURS`, or -1 for
        background.
    """
    import numpy as np

    bg = np.asarray(BACKGROUND_RGB, dtype=np.float32)
    span = np.asarray([PALETTE[c] for c in COLOURS], dtype=np.float32) - bg  # colours x 3
    rel = np.asarray(pixels, dtype=np.float32) - bg
    alpha = (rel @ span.T) / (span**2).sum(axis=1)  # H x W x colours: position along each segment
    nearest_point = np.clip(alpha, 0.0, 1.0)[..., None] * span
    dist = np.linalg.norm(rel[:, :, None, :] - nearest_point, axis=-1)
    dist[alpha < 0.5] = np.inf  # nearer the background than the colour
    labels = dist.argmin(axis=-1)
    labels[dist.min(axis=-1) > tolerance] = -1
    return labels


def _pixels(image: Any):  # noqa: ANN202 - numpy array
    import numpy as np
    from PIL import Image

    if isinstance(image, (str, Path)):
        with Image.open(image) as im:
            return np.asarray(im.convert("RGB"), dtype=np.float32)
    if isinstance(image, Image.Image):
        return np.asarray(image.convert("RGB"), dtype=np.float32)
    arr = np.asarray(image, dtype=np.float32)
    if arr.ndim != 3 or arr.shape[2] != 3:
        raise ValueError(f"expected an H x W x 3 RGB array, got shape {arr.shape}")
    if arr.size and arr.max() <= 1.0:  # floats in [0, 1]
        arr = arr * 255.0
    return arr


def detect(image: Any, *, tolerance: float = COLOUR_TOLERANCE, min_area: int = MIN_AREA) -> list[Blob]:
    """Find the palette-coloured objects in an image, knowing nothing of its prompt.

    Args:
        image: a ``PIL.Image``, a path to an image file, or an ``H x W x 3`` array (uint8, or floats
            in [0, 1]).
        tolerance: largest RGB distance from a background-to-colour segment (:data:`COLOUR_TOLERANCE`).
        min_area: smallest blob kept, in pixels (:data:`MIN_AREA`).

    Returns:
        The blobs, sorted left to right (then top to bottom).
    """
    import numpy as np
    from scipy import ndimage

    nearest = classify_pixels(_pixels(image), tolerance)
    blobs: list[Blob] = []
    eight = np.ones((3, 3), dtype=bool)
    for ci, colour in enumerate(COLOURS):
        labels, n = ndimage.label(nearest == ci, structure=eight)
        for k, (sy, sx) in enumerate(ndimage.find_objects(labels), start=1):
            mask = labels[sy, sx] == k
            area = int(mask.sum())
            if area < min_area:
                continue
            ys, xs = np.nonzero(mask)
            shape, fill, top_share = classify_shape(mask)
            blobs.append(
                Blob(
                    colour=colour,
                    shape=shape,
                    cx=float(sx.start + xs.mean() + 0.5),
                    cy=float(sy.start + ys.mean() + 0.5),
                    area=area,
                    bbox=(sx.start, sy.start, sx.stop - sx.start, sy.stop - sy.start),
                    fill=round(fill, 4),
                    top_share=round(top_share, 4),
                )
            )
    return sorted(blobs, key=lambda b: (b.cx, b.cy))


AXES_CHECKED: tuple[str, ...] = ("object", "colour", "count", "position")


def check(
    prompt: str | PromptSpec,
    image: Any,
    *,
    tolerance: float = COLOUR_TOLERANCE,
    min_area: int = MIN_AREA,
) -> dict[str, bool | str | None]:
    """Score an image against a prompt, GenEval style, one verdict per axis.

    * ``object``: every named shape is present (in any colour);
    * ``colour``: every named group's shape is present in its colour;
    * ``count``: each (shape, colour) group appears exactly its count of times;
    * ``position``: None without a relation; else every object of the left group has its centroid
      strictly left of every object of the right group (False when either is missing);
    * ``overall``: all the applicable axes hold.

    Objects the prompt does not name do not count against it (as in GenEval).

    Args:
        prompt: the prompt text (read with :func:`parse_prompt`) or a :class:`PromptSpec`.
        image: as for :func:`detect`.
        tolerance: as for :func:`detect`.
        min_area: as for :func:`detect`.

    Returns:
        ``{"object", "colour", "count", "position", "overall", "reason"}``. When the prompt is outside
        the grammar, every verdict is None and ``reason`` says why; otherwise ``reason`` is None.
    """
    spec = prompt if isinstance(prompt, PromptSpec) else parse_prompt(prompt)
    if spec is None:
        verdict: dict[str, bool | str | None] = dict.fromkeys((*AXES_CHECKED, "overall"))
        verdict["reason"] = f"prompt outside the draw world's grammar: {str(prompt)[:80]!r}"
        return verdict
    blobs = detect(image, tolerance=tolerance, min_area=min_area)
    shapes = {b.shape for b in blobs}
    groups = [[b for b in blobs if (b.shape, b.colour) == (o.shape, o.colour)] for o in spec.objects]
    verdict = {
        "object": all(o.shape in shapes for o in spec.objects),
        "colour": all(groups),
        "count": all(len(g) == o.count for g, o in zip(groups, spec.objects, strict=True)),
        "position": None,
    }
    if spec.relation is not None:
        left, right = groups if spec.relation == "left_of" else groups[::-1]
        verdict["position"] = bool(left and right) and max(b.cx for b in left) < min(b.cx for b in right)
    verdict["overall"] = all(v for v in verdict.values() if v is not None)
    verdict["reason"] = None
    return verdict


def check_graded(
    prompt: str | PromptSpec,
    image: Any,
    *,
    tolerance: float = COLOUR_TOLERANCE,
    min_area: int = MIN_AREA,
) -> dict[str, float | str | None]:
    """:func:`check` with partial credit, for a preference signal that tells near misses from far ones.

    * ``object``: the share of named shapes present (in any colour);
    * ``colour``: the share of named groups whose shape is present in its colour;
    * ``count``: over the named groups, the mean of ``1 / (1 + |found - asked|)`` (1 when exact, 0.5
      one off, ...);
    * ``position``: as in :func:`check` (1.0 or 0.0), None without a relation.

    Every value is in [0, 1] and equals :func:`check`'s verdict when that holds (1.0); ``reason`` is
    as there.
    """
    spec = prompt if isinstance(prompt, PromptSpec) else parse_prompt(prompt)
    exact = check(spec if spec is not None else prompt, image, tolerance=tolerance, min_area=min_area)
    if spec is None:
        return {k: v for k, v in exact.items() if k != "overall"}  # type: ignore[misc]
    blobs = detect(image, tolerance=tolerance, min_area=min_area)
    shapes = {b.shape for b in blobs}
    groups = [[b for b in blobs if (b.shape, b.colour) == (o.shape, o.colour)] for o in spec.objects]
    n = len(spec.objects)
    position = exact["position"]
    return {
        "object": sum(o.shape in shapes for o in spec.objects) / n,
        "colour": sum(bool(g) for g in groups) / n,
        "count": sum(1 / (1 + abs(len(g) - o.count)) for g, o in zip(groups, spec.objects, strict=True)) / n,
        "position": None if position is None else float(bool(position)),
        "reason": None,
    }
