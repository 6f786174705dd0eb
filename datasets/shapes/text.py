"""Words of the shape world: captions, yes/no questions, hallucinating captions and POPE picks.

Caption grammar (truthful)::

    "There is a red circle and a blue star."
    "The image shows a red circle, a green square and a blue star."
    "A yellow triangle."

A claim is "There is a <color> <shape>." and the matching question "Is there a <color> <shape> in the
image?"; the article is "an" before a vowel ("an orange star"). POPE asks "Is there a <shape> in the
image?". Everything random takes a caller-seeded :class:`random.Random`.
See :mod:`polyrlaif.datasets.shapes` for the public API and the file format.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Mapping, Sequence

from polyrlaif.datasets.shapes.draw import CATEGORIES, COLORS

__all__ = [
    "CAPTION_TEMPLATES",
    "INSTRUCTIONS",
    "POPE_VARIANTS",
    "article",
    "claim",
    "labeler_questions",
    "list_phrase",
    "make_caption",
    "object_phrase",
    "plural",
    "policy_caption",
    "pope_negatives",
    "question",
]

INSTRUCTIONS: tuple[str, ...] = (
    "Describe the image.",
    "What is in this image?",
    "List the objects in the image.",
    "What shapes can you see in this image?",
)
"""The SFT prompts; each policy caption row uses one of them."""

CAPTION_TEMPLATES: tuple[str, ...] = ("There is {}.", "The image shows {}.", "{}.")
"""Caption templates; ``{}`` is an object list such as "a red circle and a blue star"."""

POPE_VARIANTS: tuple[str, ...] = ("random", "popular", "adversarial")
"""POPE's three ways of choosing the absent objects asked about."""


def article(word: str) -> str:
    """``"an"`` before a vowel sound, else ``"a"`` (enough for this vocabulary)."""
    return "an" if word[:1].lower() in "aeiou" else "a"


def plural(name: str) -> str:
    """English plural of a category name or synonym ("cross" -> "crosses", "circle" -> "circles")."""
    head, _, last = name.rpartition(" ")
    word = last + ("es" if last.endswith(("s", "x", "z", "ch", "sh")) else "s")
    return f"{head} {word}" if head else word


def object_phrase(color: str | None, name: str) -> str:
    """``"a red circle"`` / ``"an orange star"`` / ``"a circle"`` (no colour)."""
    words = f"{color} {name}" if color else name
    return f"{article(words)} {words}"


def list_phrase(phrases: Sequence[str]) -> str:
    """Join phrases as "a, b and c" (no Oxford comma)."""
    if not phrases:
        raise ValueError("a caption needs at least one object")
    if len(phrases) == 1:
        return phrases[0]
    return ", ".join(phrases[:-1]) + " and " + phrases[-1]


def make_caption(objects: Sequence[tuple[str, str]], template: int) -> str:
    """A caption listing ``objects`` (``(color, name)`` pairs) in the given order.

    Args:
        objects: the objects to mention, in order.
        template: index into :data:`CAPTION_TEMPLATES`.

    Returns:
        e.g. ``"The image shows a red circle and a blue star."``.
    """
    body = list_phrase([object_phrase(color, name) for color, name in objects])
    text = CAPTION_TEMPLATES[template].format(body)
    return text[0].upper() + text[1:]


def claim(color: str, name: str) -> str:
    """The atomic claim ``"There is a <color> <name>."``."""
    return f"There is {object_phrase(color, name)}."


def question(name: str, color: str | None = None) -> str:
    """``"Is there a <color> <name> in the image?"``, or without colour when ``color`` is None."""
    return f"Is there {object_phrase(color, name)} in the image?"


def _absent_partners(present: Sequence[str], cooccurrence: Mapping[str, Sequence[str]]) -> list[str]:
    return [c for c in CATEGORIES if c not in present and any(c in cooccurrence[p] for p in present)]


def policy_caption(
    rng: random.Random,
    objects: Sequence[tuple[str, str]],
    rate: float,
    cooccurrence: Mapping[str, Sequence[str]],
) -> tuple[str, list[str]]:
    """A caption of the kind an SFT policy learns to write: truthful, except that with probability
    ``rate`` one absent object is inserted at a random position, as real MLLMs invent objects that
    usually co-occur with what they see.

    The invented object is a co-occurrence partner of a present object when one is absent, else any
    absent category; its colour is random.

    Args:
        rng: the image's text stream.
        objects: the true ``(color, name)`` pairs.
        rate: probability of hallucinating one object.
        cooccurrence: the co-occurrence prior.

    Returns:
        ``(caption, hallucinated_names)``; the list is empty or has one name.
    """
    items = list(objects)
    rng.shuffle(items)
    template = rng.randrange(len(CAPTION_TEMPLATES))
    hallucinated: list[str] = []
    if rng.random() < rate:
        present = [name for _, name in objects]
        pool = _absent_partners(present, cooccurrence) or [c for c in CATEGORIES if c not in present]
        if pool:
            name = rng.choice(pool)
            items.insert(rng.randint(0, len(items)), (rng.choice(COLORS), name))
            hallucinated.append(name)
    return make_caption(items, template), hallucinated


def labeler_questions(
    rng: random.Random,
    objects: Sequence[tuple[str, str]],
    k: int,
    cooccurrence: Mapping[str, Sequence[str]],
) -> list[tuple[str, str, str]]:
    """Balanced yes/no questions about one image, for training the labeler.

    "yes": each present object asked without and with its colour. "no", in turn: a present object in a
    wrong colour, an absent co-occurrence partner, an absent random category (absent ones asked with a
    random colour half of the time). As many "no" as "yes", at most ``k // 2`` of each.

    Args:
        rng: the image's text stream.
        objects: the true ``(color, name)`` pairs (distinct names).
        k: upper bound on questions.
        cooccurrence: the co-occurrence prior.

    Returns:
        ``(question, answer, kind)`` triples in random order; kind is one of ``present``,
        ``present_color``, ``wrong_color``, ``absent_partner``, ``absent_random``.
    """
    positives = [(question(n), "yes", "present") for _, n in objects]
    positives += [(question(n, c), "yes", "present_color") for c, n in objects]
    n_each = min(len(positives), k // 2)
    chosen = rng.sample(positives, n_each)

    present = [n for _, n in objects]
    pools: dict[str, list[tuple[str, str | None]]] = {
        "wrong_color": [(n, rng.choice([x for x in COLORS if x != c])) for c, n in objects],
        "absent_partner": [(n, None) for n in _absent_partners(present, cooccurrence)],
        "absent_random": [(n, None) for n in CATEGORIES if n not in present],
    }
    for pool in pools.values():
        rng.shuffle(pool)
    negatives: list[tuple[str, str, str]] = []
    asked: set[str] = set()  # absent names already asked, so partner and random picks never repeat
    while len(negatives) < n_each:
        progressed = False
        for kind, pool in pools.items():
            while kind != "wrong_color" and pool and pool[-1][0] in asked:
                pool.pop()
            if not pool or len(negatives) >= n_each:
                continue
            name, color = pool.pop()
            if kind != "wrong_color":
                asked.add(name)
                color = rng.choice([None, rng.choice(COLORS)])
            negatives.append((question(name, color), "no", kind))
            progressed = True
        if not progressed:
            break
    rows = chosen[: len(negatives)] + negatives  # never more yes than no
    rng.shuffle(rows)
    return rows


def pope_negatives(
    variant: str,
    rng: random.Random,
    present: Sequence[str],
    k: int,
    frequency: Counter,
    cocount: Mapping[tuple[str, str], int],
    cooccurrence: Mapping[str, Sequence[str]],
) -> list[str]:
    """Choose ``k`` absent categories to ask about, the POPE way.

    Args:
        variant: ``random`` (uniform), ``popular`` (most frequent in the split first) or
            ``adversarial`` (partners of present objects in the prior first, then by how often they
            co-occur with the present objects in the split).
        rng: the image's POPE stream.
        present: categories in the image.
        k: how many to choose (at most the number absent).
        frequency: images per category in the split.
        cocount: images per ordered category pair in the split.
        cooccurrence: the co-occurrence prior.

    Returns:
        The chosen absent categories.
    """
    absent = [c for c in CATEGORIES if c not in present]
    k = min(k, len(absent))
    if variant == "random":
        return rng.sample(absent, k)
    if variant == "popular":
        return sorted(absent, key=lambda c: (-frequency[c], CATEGORIES.index(c)))[:k]
    if variant == "adversarial":
        def score(c: str) -> tuple[int, int, int]:
            prior = sum(c in cooccurrence[p] for p in present)
            return -prior, -sum(cocount.get((c, p), 0) for p in present), CATEGORIES.index(c)

        return sorted(absent, key=score)[:k]
    raise ValueError(f"unknown POPE variant {variant!r}; expected one of {', '.join(POPE_VARIANTS)}")
