"""Drawing a prompt: the exact image of a :class:`~polyrlaif.datasets.draw.spec.PromptSpec`.

Objects are filled shapes in their exact palette colour on a flat dark background, drawn without
anti-aliasing (every pixel is either the background or one palette colour). Each object sits in its
own square box; boxes keep 1 px from the border and 2 px from each other, so objects never touch and
connected components recover them one by one. For a relation, the image is split at a column near
the middle and each group is placed wholly on its side, so every object of the left group is left of
every object of the right group.

Everything random comes from one :class:`random.Random` seeded by the caller's seed (hashed as a
string, identical on every platform), so a prompt and a seed fix the image's bytes.
"""

from __future__ import annotations

import functools
import io
import random
from dataclasses import dataclass

from polyrlaif.datasets.draw.spec import BACKGROUND_RGB, PALETTE, PromptSpec

__all__ = [
    "PlacedObject",
    "default_size_range",
    "draw_mask",
    "layout",
    "render",
    "render_png",
]

_BORDER = 1  # background pixels kept free at the image border
_GAP = 2  # background pixels kept free between two boxes (and at the split of a relation)
_ATTEMPTS = 80  # full layouts tried; every 5 failures the largest allowed size shrinks by one


@dataclass(frozen=True)
class PlacedObject:
    """One drawn object: shape, colour and its square box (top-left ``x``, ``y`` and side ``size``)."""

    shape: str
    colour: str
    x: int
    y: int
    size: int


def default_size_range(image_size: int) -> tuple[int, int]:
    """Object box sides in pixels: 6-10 at 32 px, scaled linearly with the image side."""
    return max(5, round(6 * image_size / 32)), max(6, round(10 * image_size / 32))


@functools.lru_cache(maxsize=256)
def draw_mask(shape: str, size: int):  # noqa: ANN201 - PIL image
    """The ``size`` x ``size`` mask (PIL mode "L", 255 on the shape) of one shape, without anti-aliasing.

    A square fills its box; a circle is the inscribed disc; a triangle points up with its base on the
    box's bottom row.

    Args:
        shape: ``"square"``, ``"circle"`` or ``"triangle"``.
        size: the box side in pixels.

    Returns:
        A ``PIL.Image.Image`` (shared between calls: do not modify it).

    Raises:
        ValueError: for an unknown shape.
    """
    from PIL import Image, ImageDraw

    e = size - 1
    mask = Image.new("L", (size, size), 0)
    d = ImageDraw.Draw(mask)
    if shape == "square":
        d.rectangle([0, 0, e, e], fill=255)
    elif shape == "circle":
        d.ellipse([0, 0, e, e], fill=255)
    elif shape == "triangle":
        d.polygon([(e / 2, 0), (e, e), (0, e)], fill=255)
    else:
        raise ValueError(f"unknown shape {shape!r}; expected square, circle or triangle")
    return mask


def _free(box: tuple[int, int, int], taken: list[tuple[int, int, int]]) -> bool:
    x, y, s = box
    return all(
        x + s + _GAP <= tx or tx + ts + _GAP <= x or y + s + _GAP <= ty or ty + ts + _GAP <= y
        for tx, ty, ts in taken
    )


def _try_layout(
    rng: random.Random, spec: PromptSpec, image_size: int, lo: int, cap: int
) -> list[PlacedObject] | None:
    # columns each group may use: [start, end) ; a relation splits the image near the middle
    full = (_BORDER, image_size - _BORDER)
    regions = [full] * len(spec.objects)
    if spec.relation is not None:
        split = rng.randint(round(0.4 * image_size), round(0.6 * image_size))
        left, right = (_BORDER, split - _GAP // 2), (split + _GAP - _GAP // 2, image_size - _BORDER)
        regions = [left, right] if spec.relation == "left_of" else [right, left]
    placed: list[PlacedObject] = []
    taken: list[tuple[int, int, int]] = []
    for (shape, colour, count), (start, end) in zip(spec.objects, regions, strict=True):
        for _ in range(count):
            size = rng.randint(lo, cap)
            x_hi, y_hi = end - size, image_size - _BORDER - size
            if x_hi < start or y_hi < _BORDER:
                return None
            for _ in range(40):
                box = (rng.randint(start, x_hi), rng.randint(_BORDER, y_hi), size)
                if _free(box, taken):
                    break
            else:
                return None
            taken.append(box)
            placed.append(PlacedObject(shape, colour, *box))
    return placed


def layout(
    spec: PromptSpec,
    *,
    image_size: int = 32,
    seed: int | str,
    size_range: tuple[int, int] | None = None,
) -> list[PlacedObject]:
    """Place every object of a prompt: non-overlapping boxes, relation respected.

    Args:
        spec: the prompt.
        image_size: side of the square image in pixels.
        seed: the image's seed; the same seed gives the same layout.
        size_range: smallest and largest box side (default :func:`default_size_range`).

    Returns:
        The objects in prompt order (all of the first group, then the second).

    Raises:
        RuntimeError: when the objects do not fit (only for image sizes far below 32 px).
    """
    lo, hi = size_range or default_size_range(image_size)
    rng = random.Random(f"polyrlaif-draw/render/{seed}")
    for attempt in range(_ATTEMPTS):
        placed = _try_layout(rng, spec, image_size, lo, max(lo, hi - attempt // 5))
        if placed is not None:
            return placed
    raise RuntimeError(f"cannot fit {spec.n_objects} objects of {lo}+ px into a {image_size} px image")


def render(
    spec: PromptSpec,
    *,
    image_size: int = 32,
    seed: int | str,
    size_range: tuple[int, int] | None = None,
):  # noqa: ANN201 - PIL image
    """Draw the exact image of a prompt.

    Args:
        spec: the prompt.
        image_size: side of the square image in pixels.
        seed: the image's seed; the same prompt and seed give the same pixels.
        size_range: smallest and largest box side (default 6-10 px at 32 px).

    Returns:
        An RGB ``PIL.Image.Image``.
    """
    from PIL import Image

    image = Image.new("RGB", (image_size, image_size), BACKGROUND_RGB)
    for obj in layout(spec, image_size=image_size, seed=seed, size_range=size_range):
        image.paste(PALETTE[obj.colour], (obj.x, obj.y), draw_mask(obj.shape, obj.size))
    return image


def render_png(
    spec: PromptSpec,
    *,
    image_size: int = 32,
    seed: int | str,
    size_range: tuple[int, int] | None = None,
) -> bytes:
    """:func:`render`, encoded as PNG bytes (deterministic for a given prompt and seed)."""
    buf = io.BytesIO()
    render(spec, image_size=image_size, seed=seed, size_range=size_range).save(buf, format="PNG")
    return buf.getvalue()
