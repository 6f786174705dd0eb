"""The prompt grammar of the draw world: vocabulary, :class:`PromptSpec`, text in and out, sampling.

A prompt names one or two groups of identical objects, each ``<count> <colour> <shape>``, joined by
"and" or by a left/right relation::

    a red square
    three yellow triangles
    a green circle and two blue squares
    a red square to the left of a blue circle
    two green triangles to the right of a yellow square

Every word is something a 32 x 32 image shows without ambiguity: three shapes, four far-apart palette
colours, counts 1-3 and a horizontal relation. Two groups never share both shape and colour (that
would make "how many red squares" ambiguous). :func:`parse_prompt` also reads the variants a user
might write ("one", "an", digits, "left of", "on the left of", a leading "a photo of", a final period)
and returns None for anything else. See :mod:`polyrlaif.datasets.draw` for the public API.
"""

from __future__ import annotations

import random
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, NamedTuple

__all__ = [
    "BACKGROUND_RGB",
    "COLOURS",
    "COUNT_WORDS",
    "DEFAULT_KIND_WEIGHTS",
    "KINDS",
    "PALETTE",
    "RELATIONS",
    "SHAPES",
    "ObjectSpec",
    "PromptSpec",
    "Relation",
    "parse_prompt",
    "sample_spec",
    "semantic_key",
    "spec_kind",
    "spec_to_text",
]

SHAPES: tuple[str, ...] = ("square", "circle", "triangle")
"""The shape vocabulary (singular nouns; the plural adds "s")."""

PALETTE: dict[str, tuple[int, int, int]] = {
    "red": (230, 40, 40),
    "green": (40, 200, 60),
    "blue": (50, 90, 240),
    "yellow": (240, 220, 40),
}
"""Exact RGB of each colour word; rendered object pixels have exactly these values. The closest pair
(red, yellow) is 180 apart in RGB, and every colour is more than 220 from the background."""

COLOURS: tuple[str, ...] = tuple(PALETTE)

BACKGROUND_RGB: tuple[int, int, int] = (16, 16, 24)
"""The flat, dark background of rendered images."""

COUNT_WORDS: dict[int, str] = {1: "a", 2: "two", 3: "three"}
"""The word :func:`spec_to_text` writes for each count (the parser also reads "one", "an" and digits)."""

Relation = Literal["left_of", "right_of"]
RELATIONS: tuple[str, ...] = ("left_of", "right_of")

KINDS: tuple[str, ...] = ("single", "pair", "relation")
"""Prompt kinds: one group; two groups joined by "and"; two groups in a left/right relation."""

_PARSE_COUNTS = {"a": 1, "an": 1, "one": 1, "1": 1, "two": 2, "2": 2, "three": 3, "3": 3}
_GROUP = r"({counts}) ({colours}) ({shapes})(s?)".format(
    counts="|".join(_PARSE_COUNTS), colours="|".join(COLOURS), shapes="|".join(SHAPES)
)
_PROMPT = re.compile(
    rf"^(?:(?:a photo|an image|a picture|a drawing) of )?{_GROUP}"
    rf"(?: (?:(and)|(?:(?:to|on) the )?(left|right) of) {_GROUP})?$"
)


class ObjectSpec(NamedTuple):
    """One group of identical objects: ``(shape, colour, count)``."""

    shape: str
    colour: str
    count: int = 1


@dataclass(frozen=True)
class PromptSpec:
    """What a prompt asks for: one or two object groups and an optional relation between them.

    ``relation="left_of"`` means every object of ``objects[0]`` is left of every object of
    ``objects[1]``; ``"right_of"`` the reverse.

    Attributes:
        objects: one or two :class:`ObjectSpec` (plain ``(shape, colour, count)`` tuples are converted).
        relation: None, or the horizontal relation of the first group to the second.

    Raises:
        ValueError: naming the field, for a word outside the vocabulary, a count outside 1-3, a
            relation without two groups, or two groups with the same shape and colour.
    """

    objects: tuple[ObjectSpec, ...]
    relation: Relation | None = None

    def __post_init__(self) -> None:
        objects = tuple(ObjectSpec(*o) for o in self.objects)
        object.__setattr__(self, "objects", objects)
        if not 1 <= len(objects) <= 2:
            raise ValueError(f"PromptSpec.objects: {len(objects)} groups; the grammar has 1 or 2")
        for i, (shape, colour, count) in enumerate(objects):
            if shape not in SHAPES:
                raise ValueError(f"PromptSpec.objects[{i}].shape: {shape!r} is not one of {SHAPES}")
            if colour not in PALETTE:
                raise ValueError(f"PromptSpec.objects[{i}].colour: {colour!r} is not one of {COLOURS}")
            if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= 3:
                raise ValueError(f"PromptSpec.objects[{i}].count: {count!r} is not an integer in 1-3")
        if len(objects) == 2 and objects[0][:2] == objects[1][:2]:
            raise ValueError("PromptSpec.objects: the two groups have the same shape and colour")
        if self.relation is not None:
            if self.relation not in RELATIONS:
                raise ValueError(f"PromptSpec.relation: {self.relation!r} is not None or one of {RELATIONS}")
            if len(objects) != 2:
                raise ValueError("PromptSpec.relation: a relation needs exactly two object groups")

    @property
    def text(self) -> str:
        """The prompt's canonical text (:func:`spec_to_text`)."""
        return spec_to_text(self)

    @property
    def n_objects(self) -> int:
        """Total number of objects an image of this prompt shows."""
        return sum(o.count for o in self.objects)


def _group_text(o: ObjectSpec) -> str:
    return f"{COUNT_WORDS[o.count]} {o.colour} {o.shape}{'s' if o.count > 1 else ''}"


def spec_to_text(spec: PromptSpec) -> str:
    """The canonical text of a prompt, e.g. ``"a red square to the left of two blue circles"``.

    Args:
        spec: the prompt.

    Returns:
        Lower-case text without final punctuation; ``parse_prompt(spec_to_text(s)) == s``.
    """
    parts = [_group_text(spec.objects[0])]
    if len(spec.objects) == 2:
        if spec.relation is None:
            parts.append("and")
        else:
            parts.append(f"to the {spec.relation.split('_')[0]} of")
        parts.append(_group_text(spec.objects[1]))
    return " ".join(parts)


def parse_prompt(text: str) -> PromptSpec | None:
    """Read a prompt written by the world or a user.

    Case, repeated spaces and a final ``.`` or ``!`` are ignored. Count and noun must agree ("two red
    square" is rejected).

    Args:
        text: the prompt text.

    Returns:
        The prompt, or None (never an exception) for text outside the grammar.
    """
    if not isinstance(text, str):
        return None
    norm = " ".join(text.lower().replace(",", " ").split()).rstrip(".!").strip()
    m = _PROMPT.match(norm)
    if m is None:
        return None
    g = m.groups()
    groups = [g[0:4]] + ([g[6:10]] if g[6] is not None else [])
    objects = []
    for count_word, colour, shape, plural in groups:
        count = _PARSE_COUNTS[count_word]
        if (count > 1) != (plural == "s"):
            return None
        objects.append(ObjectSpec(shape, colour, count))
    relation = None if g[5] is None else f"{g[5]}_of"
    try:
        return PromptSpec(tuple(objects), relation)  # type: ignore[arg-type]
    except ValueError:  # e.g. "a red square and two red squares"
        return None


def semantic_key(spec: PromptSpec) -> tuple:
    """A key equal for prompts that mean the same image set, different otherwise.

    "A and B" equals "B and A", and "A to the right of B" equals "B to the left of A". Used to keep
    held-out prompts disjoint from training prompts in meaning, not only in wording.
    """
    objects = spec.objects
    if spec.relation is None:
        return (tuple(sorted(objects)), None)
    if spec.relation == "right_of":
        objects = (objects[1], objects[0])
    return (objects, "left_of")


def spec_kind(spec: PromptSpec) -> str:
    """``"single"``, ``"pair"`` or ``"relation"`` (see :data:`KINDS`)."""
    if len(spec.objects) == 1:
        return "single"
    return "pair" if spec.relation is None else "relation"


DEFAULT_KIND_WEIGHTS: dict[str, float] = {"single": 0.3, "pair": 0.3, "relation": 0.4}


def _weighted(rng: random.Random, items: Sequence[str], weights: Mapping[str, float]) -> str:
    r = rng.random() * sum(weights[i] for i in items)
    for item in items:
        r -= weights[item]
        if r < 0:
            return item
    return items[-1]


def sample_spec(
    rng: random.Random,
    *,
    kind: str | None = None,
    max_objects: int = 4,
    kind_weights: Mapping[str, float] | None = None,
) -> PromptSpec:
    """Draw a random prompt.

    Relation prompts have one object per group three times in four (GenEval's position prompts have
    one), else one group of two.

    Args:
        rng: the random stream.
        kind: one of :data:`KINDS`, or None to draw it by ``kind_weights``.
        max_objects: most objects in the image (2-6).
        kind_weights: weight of each kind (default :data:`DEFAULT_KIND_WEIGHTS`).

    Returns:
        A valid prompt.

    Raises:
        ValueError: for an unknown kind or ``max_objects`` outside 2-6.
    """
    if not 2 <= max_objects <= 6:
        raise ValueError(f"max_objects: {max_objects} is not within 2-6")
    weights = kind_weights or DEFAULT_KIND_WEIGHTS
    kind = kind or _weighted(rng, KINDS, weights)
    if kind not in KINDS:
        raise ValueError(f"kind: {kind!r} is not one of {KINDS}")
    first = (rng.choice(SHAPES), rng.choice(COLOURS))
    if kind == "single":
        return PromptSpec((ObjectSpec(*first, rng.randint(1, min(3, max_objects))),))
    second = first
    while second == first:
        second = (rng.choice(SHAPES), rng.choice(COLOURS))
    if kind == "pair":
        counts = [(a, b) for a in (1, 2, 3) for b in (1, 2, 3) if a + b <= max_objects]
    else:
        counts = [(1, 1)] * 6 + [(2, 1), (1, 2)] if max_objects >= 3 else [(1, 1)]
    a, b = rng.choice(counts)
    relation = rng.choice(RELATIONS) if kind == "relation" else None
    return PromptSpec((ObjectSpec(*first, a), ObjectSpec(*second, b)), relation)  # type: ignore[arg-type]
