"""Words about clips: the detailed description, the QA items and plausible wrong answers.

The description is what a context-aware judge reads (VLM-RLAIF gives its reward model a detailed video
description): the objects at the start and where they are, every event in order, and the objects at
the end. Questions follow MSVD-QA (a question, a one- or two-word answer, an answer type).
"""

from __future__ import annotations

import random

from polyrlaif.datasets.draw.spec import COLOURS, SHAPES
from polyrlaif.datasets.video.clip import DIRECTIONS, Clip, ClipEvent, ClipObject

__all__ = [
    "ANSWER_VOCAB",
    "COUNT_WORDS",
    "QA_TYPES",
    "describe",
    "location",
    "qa_items",
    "wrong_answer",
]

COUNT_WORDS: tuple[str, ...] = ("zero", "one", "two", "three")
"""Count answers, indexed by the count."""

QA_TYPES: tuple[str, ...] = ("order", "direction", "colour", "count", "disappear", "appear")
"""Answer types of the QA items."""

ANSWER_VOCAB: dict[str, tuple[str, ...]] = {
    "order": (*SHAPES, "before", "after"),
    "direction": DIRECTIONS,
    "colour": COLOURS,
    "count": COUNT_WORDS,
    "disappear": SHAPES,
    "appear": SHAPES,
}
"""Every gold answer of a type is one of these words."""

_OPPOSITE = {"left": "right", "right": "left", "up": "down", "down": "up"}


def location(obj: ClipObject, image_size: int) -> str:
    """Where a box's centre lies on a 3 x 3 grid, as a noun phrase: "the top left", "the middle"."""
    cx, cy = obj.x + obj.size / 2, obj.y + obj.size / 2
    col = "left" if cx < image_size / 3 else "right" if cx >= 2 * image_size / 3 else ""
    row = "top" if cy < image_size / 3 else "bottom" if cy >= 2 * image_size / 3 else ""
    return f"the {row} {col}" if row and col else f"the {row or col}" if row or col else "the middle"


def _at(place: str) -> str:
    """ "the middle" -> "in the middle", "the left" -> "on the left", "the top left" -> "at the top left"."""
    if place == "the middle":
        return "in the middle"
    return f"on {place}" if place in ("the left", "the right") else f"at {place}"


def _listing(objects: list[ClipObject], image_size: int) -> str:
    items = [f"a {o.colour} {o.shape} {_at(location(o, image_size))}" for o in objects]
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _there_are(objects: list[ClipObject], image_size: int) -> str:
    if not objects:
        return "no shape is left"
    if len(objects) == 1:
        return f"there is one shape: {_listing(objects, image_size)}"
    return f"there are {COUNT_WORDS[len(objects)]} shapes: {_listing(objects, image_size)}"


def _event_sentence(clip: Clip, e: ClipEvent) -> str:
    name = f"the {e.colour} {e.shape}"
    obj = next(o for o in clip.objects if o.shape == e.shape)
    if e.type == "move":
        before = location(ClipObject(e.shape, e.colour, *e.origin, obj.size), clip.image_size)
        after = location(ClipObject(e.shape, e.colour, *e.target, obj.size), clip.image_size)
        where = f"from {before} to {after}" if before != after else f"staying {_at(before)}"
        return f"{name} moves {e.direction}, {where}"
    if e.type == "colour":
        return f"{name} turns {e.new_colour}"
    if e.type == "disappear":
        return f"{name} disappears"
    return f"a {e.colour} {e.shape} appears {_at(location(obj, clip.image_size))}"


def describe(clip: Clip) -> str:
    """The detailed description: the start, each event in order, the end.

    Example: "At the start there are two shapes: a red circle at the top left and a blue square in the
    middle. First, the red circle moves right, from the top left to the top right. Then the blue square
    turns green. At the end there are two shapes: a red circle at the top right and a green square in
    the middle."
    """
    n = len(clip.events)
    starts = ["First, ", *["Then "] * (n - 2), "Finally, "] if n > 2 else ["First, ", "Then "][:n]
    if n == 1:
        starts = [""]
    sentences = [f"At the start {_there_are(clip.start_objects(), clip.image_size)}."]
    for lead, e in zip(starts, clip.events, strict=True):
        text = _event_sentence(clip, e)
        sentences.append((lead + text)[0].upper() + (lead + text)[1:] + ".")
    sentences.append(f"At the end {_there_are(clip.end_objects(), clip.image_size)}.")
    return " ".join(sentences)


def _base(e: ClipEvent) -> str:
    return {"move": f"move {e.direction}", "colour": f"turn {e.new_colour}"}.get(e.type, e.type)


def _past(e: ClipEvent) -> str:
    return {"move": f"moved {e.direction}", "colour": f"turned {e.new_colour}"}.get(e.type, e.type + "ed")


def qa_items(clip: Clip, rng: random.Random) -> list[dict]:
    """The questions a clip answers, each ``{"question", "answer", "type", "event"}``: ``type`` is in
    :data:`QA_TYPES`, ``event`` the index in ``clip.events`` of the event asked about (None for counts
    and for "before or after", which asks about two).

    Always the end count; the start count when it differs; the direction of every move; the new
    colour of every colour change; which shape disappeared (appeared) when exactly one did; which
    shape moved first when two or more moved; and, with two or more events of different shapes, one
    "before or after" question about a pair drawn from ``rng``.
    """
    events = clip.events
    start, end = len(clip.start_objects()), len(clip.end_objects())
    items = [
        {
            "question": "How many shapes are there at the end?",
            "answer": COUNT_WORDS[end],
            "type": "count",
            "event": None,
        }
    ]
    if start != end:
        items.append(
            {
                "question": "How many shapes are there at the start?",
                "answer": COUNT_WORDS[start],
                "type": "count",
                "event": None,
            }
        )
    for k, e in enumerate(events):
        if e.type == "move":
            q = f"Which way did the {e.colour} {e.shape} move?"
            items.append({"question": q, "answer": e.direction, "type": "direction", "event": k})
        elif e.type == "colour":
            q = f"What colour did the {e.shape} turn?"
            items.append({"question": q, "answer": e.new_colour, "type": "colour", "event": k})
    for kind, verb in (("disappear", "disappeared"), ("appear", "appeared")):
        hits = [k for k, e in enumerate(events) if e.type == kind]
        if len(hits) == 1:
            q = f"Which shape {verb}?"
            items.append({"question": q, "answer": events[hits[0]].shape, "type": kind, "event": hits[0]})
    moves = [k for k, e in enumerate(events) if e.type == "move"]
    if len(moves) >= 2:
        q = "Which shape moved first?"
        items.append({"question": q, "answer": events[moves[0]].shape, "type": "order", "event": moves[0]})
    pairs = [(a, b) for i, a in enumerate(events) for b in events[i + 1 :] if a.shape != b.shape]
    if pairs:
        first, second = rng.choice(pairs)
        a, b, answer = (first, second, "before") if rng.random() < 0.5 else (second, first, "after")
        q = f"Did the {a.shape} {_base(a)} before or after the {b.shape} {_past(b)}?"
        items.append({"question": q, "answer": answer, "type": "order", "event": None})
    return items


def other_answer(gold: str, kind: str, rng: random.Random) -> str:
    """A wrong answer drawn uniformly from the question type's answer words (for ``order``, of the gold
    answer's kind: a shape, or before/after); unlike :func:`wrong_answer`, often a word the clip's
    description never uses."""
    vocab = ANSWER_VOCAB[kind]
    if kind == "order":
        before_after = ("before", "after")
        vocab = before_after if gold in before_after else tuple(v for v in vocab if v not in before_after)
    return rng.choice([v for v in vocab if v != gold])


def wrong_answer(item: dict, clip: Clip, rng: random.Random) -> str:
    """A plausible wrong answer to a QA item: the mistake a model that misread the clip would make.

    Directions flip (mostly to the opposite); "before" and "after" swap; shapes become another shape
    of the clip when there is one; colours become the colour before the change (else another); counts
    become the other end's count (else one off).
    """
    gold, kind = item["answer"], item["type"]
    if gold in ("before", "after"):
        return "after" if gold == "before" else "before"
    if kind == "direction":
        return _OPPOSITE[gold] if rng.random() < 0.7 else rng.choice([d for d in DIRECTIONS if d != gold])
    if kind == "order":  # which moved first: another shape that moved, if any
        near = [e.shape for e in clip.events if e.type == "move" and e.shape != gold]
        return rng.choice(near or [s for s in SHAPES if s != gold])
    if kind in ("disappear", "appear"):
        near = [o.shape for o in clip.objects if o.shape != gold]
        return rng.choice(near or [s for s in SHAPES if s != gold])
    if kind == "colour":
        return (
            clip.events[item["event"]].colour
            if rng.random() < 0.7
            else rng.choice([c for c in COLOURS if c != gold])
        )
    counts = {COUNT_WORDS[len(clip.start_objects())], COUNT_WORDS[len(clip.end_objects())]} - {gold}
    if counts:
        return counts.pop()
    n = COUNT_WORDS.index(gold)
    return COUNT_WORDS[n + 1] if n == 0 or (n < 3 and rng.random() < 0.5) else COUNT_WORDS[n - 1]
