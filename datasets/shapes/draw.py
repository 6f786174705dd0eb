"""Scenes and pixels of the shape world: the shape vocabulary, scene sampling and drawing.

A scene is 1-3 objects of distinct categories, each a coloured shape on a dark, lightly noisy
background, with its category's surface pattern (:data:`TEXTURES`, drawn in the colour's shade) when
textures are on. Shapes are drawn without anti-aliasing, so every shape pixel has exactly its palette
colour or its shade, and the boxes they are drawn in never overlap, so the ground truth is exact: the
annotation of an object is the tight box and the pixel count of its own mask.

Everything random comes from :class:`random.Random` seeded by the caller; its Mersenne Twister stream
is the same on every platform and Python version, so a seed fixes the bytes of every image.
See :mod:`polyrlaif.datasets.shapes` for the public API and the file format.
"""

from __future__ import annotations

import io
import math
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

__all__ = [
    "CATEGORIES",
    "COLORS",
    "COLOR_RGB",
    "DEFAULT_COOCCURRENCE",
    "FILLED_CATEGORIES",
    "SHADE",
    "SYNONYMS",
    "TEXTURES",
    "SceneObject",
    "draw_shape_mask",
    "measure_object",
    "render_png",
    "sample_categories",
    "sample_scene",
    "shade_rgb",
]

CATEGORIES: tuple[str, ...] = ("circle", "square", "triangle", "star", "cross", "diamond", "ring", "heart")
"""The eight shape categories, in category-id order (id = position + 1)."""

FILLED_CATEGORIES: frozenset[str] = frozenset(CATEGORIES) - {"ring"}
"""Categories whose bbox centre pixel lies on the shape (the ring's centre is background)."""

SYNONYMS: dict[str, list[str]] = {
    "circle": ["circle", "disc", "disk", "dot"],
    "square": ["square", "box", "block"],
    "triangle": ["triangle"],
    "star": ["star", "pentagram"],
    "cross": ["cross", "plus", "plus sign"],
    "diamond": ["diamond", "rhombus", "lozenge"],
    "ring": ["ring", "hoop", "donut", "annulus"],
    "heart": ["heart"],
}
"""Words a caption may use for each category (the name first); plurals are derived, not listed."""

COLOR_RGB: dict[str, tuple[int, int, int]] = {
    "red": (220, 40, 40),
    "green": (40, 190, 60),
    "blue": (50, 100, 235),
    "yellow": (235, 220, 50),
    "purple": (160, 60, 210),
    "orange": (245, 140, 30),
    "white": (240, 240, 240),
}
"""Exact RGB of each palette colour; shape pixels have exactly these values."""

COLORS: tuple[str, ...] = tuple(COLOR_RGB)

# Which shapes tend to appear together: a cycle circle-ring-star-cross-diamond-square-triangle-heart,
# so every category has exactly two partners and the relation is symmetric.
DEFAULT_COOCCURRENCE: dict[str, list[str]] = {
    "circle": ["ring", "heart"],
    "square": ["diamond", "triangle"],
    "triangle": ["heart", "square"],
    "star": ["cross", "ring"],
    "cross": ["star", "diamond"],
    "diamond": ["square", "cross"],
    "ring": ["circle", "star"],
    "heart": ["triangle", "circle"],
}
"""The co-occurrence prior: category -> its partners (used for scenes, hallucinations and POPE)."""

_BACKGROUND_MAX = 40  # background channels stay in [0, 40 + noise]: dark, far from every palette colour
_MARGIN = 2  # pixels kept free between the boxes of two objects


@dataclass(frozen=True)
class SceneObject:
    """One object of a scene: what it is and the square box ``(x, y, size)`` it is drawn in."""

    category: str
    color: str
    x: int
    y: int
    size: int


def _weighted_choice(rng: random.Random, items: Sequence[str], weights: Mapping[str, float]) -> str:
    total = sum(weights[i] for i in items)
    r = rng.random() * total
    for item in items:
        r -= weights[item]
        if r < 0:
            return item
    return items[-1]


def sample_categories(
    rng: random.Random,
    n: int,
    weights: Mapping[str, float],
    cooccurrence: Mapping[str, Sequence[str]],
    strength: float,
) -> list[str]:
    """Draw ``n`` distinct categories: the first by popularity, each later one a partner of an object
    already chosen with probability ``strength`` (when one is free), else by popularity.

    Args:
        rng: the scene's random stream.
        n: number of categories, at most ``len(CATEGORIES)``.
        weights: popularity of each category (unnormalised).
        cooccurrence: the co-occurrence prior.
        strength: probability of drawing a partner.

    Returns:
        The categories in the order drawn.
    """
    chosen: list[str] = []
    while len(chosen) < n:
        free = [c for c in CATEGORIES if c not in chosen]
        partners = [p for p in CATEGORIES if p in free and any(p in cooccurrence[c] for c in chosen)]
        if partners and rng.random() < strength:
            chosen.append(rng.choice(partners))
        else:
            chosen.append(_weighted_choice(rng, free, weights))
    return chosen


def _place(rng: random.Random, taken: list[tuple[int, int, int]], size: int, image_size: int):
    """A box ``(x, y, size)`` inside the image, clear of ``taken`` by ``_MARGIN``, or None."""
    hi = image_size - size - 1
    if hi < 1:
        return None
    for _ in range(60):
        x, y = rng.randint(1, hi), rng.randint(1, hi)
        if all(
            x + size + _MARGIN <= tx
            or tx + ts + _MARGIN <= x
            or y + size + _MARGIN <= ty
            or ty + ts + _MARGIN <= y
            for tx, ty, ts in taken
        ):
            return x, y, size
    return None


def sample_scene(
    rng: random.Random,
    *,
    image_size: int,
    n_objects: int,
    size_range: tuple[int, int],
    weights: Mapping[str, float],
    cooccurrence: Mapping[str, Sequence[str]],
    strength: float,
) -> list[SceneObject]:
    """Sample the objects of one image: categories, colours and non-overlapping boxes.

    A box that finds no free place is retried smaller, down to the smallest size; an object that still
    does not fit is dropped (rare: three 26 px boxes fit a 64 px image easily).

    Args:
        rng: the image's random stream.
        image_size: side of the square image in pixels.
        n_objects: number of objects wanted.
        size_range: smallest and largest box side in pixels, inclusive.
        weights: popularity of each category.
        cooccurrence: the co-occurrence prior.
        strength: probability that a later object is a partner of an earlier one.

    Returns:
        The objects, in drawing order.
    """
    categories = sample_categories(rng, n_objects, weights, cooccurrence, strength)
    lo, hi = size_range
    objects: list[SceneObject] = []
    taken: list[tuple[int, int, int]] = []
    for category in categories:
        color = rng.choice(COLORS)
        size = rng.randint(lo, hi)
        box = None
        while box is None and size >= lo:
            box = _place(rng, taken, size, image_size)
            size -= 3
        if box is None:
            continue
        taken.append(box)
        objects.append(SceneObject(category, color, *box))
    return objects


def _star_points(s: int, spikes: int = 5, inner: float = 0.48) -> list[tuple[float, float]]:
    c, r = (s - 1) / 2, (s - 1) / 2
    pts = []
    for k in range(2 * spikes):
        rad = r if k % 2 == 0 else r * inner
        ang = -math.pi / 2 + k * math.pi / spikes
        pts.append((c + rad * math.cos(ang), c + 1 + rad * math.sin(ang)))  # +1: centre the star's bulk
    return pts


def draw_shape_mask(category: str, size: int):
    """The ``size`` x ``size`` mask (PIL mode "L", 255 on the shape) of one shape, without anti-aliasing.

    Args:
        category: one of :data:`CATEGORIES`.
        size: side of the box in pixels.

    Returns:
        A ``PIL.Image.Image``.

    Raises:
        ValueError: for an unknown category.
    """
    from PIL import Image, ImageDraw

    s = size
    e = s - 1  # last pixel
    mask = Image.new("L", (s, s), 0)
    d = ImageDraw.Draw(mask)
    if category == "circle":
        d.ellipse([0, 0, e, e], fill=255)
    elif category == "square":
        m = round(s * 0.08)  # a full box looks bigger than the other shapes
        d.rectangle([m, m, e - m, e - m], fill=255)
    elif category == "triangle":
        d.polygon([(e / 2, 0), (e, e), (0, e)], fill=255)
    elif category == "star":
        d.polygon(_star_points(s), fill=255)
    elif category == "cross":
        t = max(3, round(s * 0.34))
        a = (s - t) // 2
        d.rectangle([a, 0, a + t - 1, e], fill=255)
        d.rectangle([0, a, e, a + t - 1], fill=255)
    elif category == "diamond":
        d.polygon([(e / 2, 0), (e, e / 2), (e / 2, e), (0, e / 2)], fill=255)
    elif category == "ring":
        d.ellipse([0, 0, e, e], outline=255, width=max(3, round(s * 0.2)))
    elif category == "heart":
        r = s * 0.27
        for cx in (s * 0.27, e - s * 0.27):
            d.ellipse([cx - r, s * 0.06, cx + r, s * 0.06 + 2 * r], fill=255)
        d.polygon([(s * 0.02, s * 0.38), (e - s * 0.02, s * 0.38), (e / 2, e)], fill=255)
    else:
        raise ValueError(f"unknown shape category {category!r}; expected one of {', '.join(CATEGORIES)}")
    return mask


def measure_object(obj: SceneObject) -> tuple[list[int], int]:
    """The COCO ``bbox`` ``[x, y, w, h]`` (tight box of the drawn mask) and ``area`` (its pixel count)."""
    mask = draw_shape_mask(obj.category, obj.size)
    left, top, right, bottom = mask.getbbox()
    return [obj.x + left, obj.y + top, right - left, bottom - top], mask.histogram()[255]


# Surface patterns, one per category, on the absolute pixel grid: (x, y) -> True where the object is
# drawn in its shade. Periods divide 8, so a pattern looks the same in every 8 px vision patch.
TEXTURES: dict[str, Callable[[int, int], bool]] = {
    "circle": lambda x, y: False,
    "square": lambda x, y: y % 4 < 2,
    "triangle": lambda x, y: x % 4 < 2,
    "star": lambda x, y: (x // 2 + y // 2) % 2 == 1,
    "cross": lambda x, y: (x + y) % 4 < 2,
    "diamond": lambda x, y: (x - y) % 4 < 2,
    "ring": lambda x, y: x % 4 == 0 or y % 4 == 0,
    "heart": lambda x, y: x % 2 == 0 and y % 2 == 0,
}
SHADE = 0.55


def shade_rgb(color: str) -> tuple[int, int, int]:
    """The textured pixels' colour: the palette colour at ``SHADE`` brightness (far above the background)."""
    return tuple(round(v * SHADE) for v in COLOR_RGB[color])  # type: ignore[return-value]


def _texture_mask(obj: SceneObject, mask):  # noqa: ANN001, ANN202 - PIL images
    from PIL import Image

    pat = TEXTURES[obj.category]
    s = obj.size
    data = bytes(255 if pat(obj.x + i, obj.y + j) else 0 for j in range(s) for i in range(s))
    tex = Image.frombytes("L", (s, s), data)
    return Image.composite(tex, Image.new("L", (s, s), 0), mask)


def render_png(
    rng: random.Random, objects: Sequence[SceneObject], image_size: int, noise: int, texture: bool = False
) -> bytes:
    """Draw a scene and encode it as PNG (deterministic bytes for a given stream and scene).

    Args:
        rng: the image's random stream (background colour and noise).
        objects: the scene, from :func:`sample_scene`.
        image_size: side of the square image.
        noise: background noise amplitude; each pixel's grey offset is uniform in ``[-noise, noise]``.

    Returns:
        The PNG file's bytes.
    """
    from PIL import Image

    n = image_size * image_size
    base = [rng.randint(0, _BACKGROUND_MAX) for _ in range(3)]
    span = 2 * noise + 1
    raw = rng.randbytes(n) if noise > 0 else bytes(n)  # a random byte b becomes the offset b % span - noise
    pixels = bytearray(3 * n)
    for channel, value in enumerate(base):
        # one translation table per channel: byte -> clamped channel value, instead of a per-pixel loop
        table = bytes(min(255, max(0, value + (b % span - noise if noise > 0 else 0))) for b in range(256))
        pixels[channel::3] = raw.translate(table)
    image = Image.frombytes("RGB", (image_size, image_size), bytes(pixels))
    for obj in objects:
        mask = draw_shape_mask(obj.category, obj.size)
        image.paste(COLOR_RGB[obj.color], (obj.x, obj.y), mask)
        if texture:
            image.paste(shade_rgb(obj.color), (obj.x, obj.y), _texture_mask(obj, mask))
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return buf.getvalue()
