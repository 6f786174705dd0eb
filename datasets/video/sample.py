"""Sampling clips: objects, an event plan that follows the clip rules, motions that never collide.

The rules (see :mod:`polyrlaif.datasets.video.clip`): shapes are distinct within a clip; each object
moves at most once, changes colour at most once, may appear (as its first event) and may disappear (as
its last); at least one object is there from the first frame; boxes keep a pixel apart in every frame.
A draw that breaks the last rule is redrawn with the same number of objects and events, so rejection
does not skew the mix towards easy clips.
"""

from __future__ import annotations

import random

from polyrlaif.datasets.draw.spec import COLOURS, SHAPES
from polyrlaif.datasets.video.clip import DIRECTIONS, STEPS, Clip, ClipEvent, ClipObject

__all__ = ["sample_clip"]

_TYPE_WEIGHTS = {"move": 4.0, "colour": 2.0, "disappear": 1.2, "appear": 1.2}
_OBJECT_WEIGHTS = (0.2, 0.4, 0.4)  # 1, 2 or 3 objects
_BORDER = 1  # background pixels kept at the image border
_GAP = 1  # background pixels kept between two boxes in every frame
_ATTEMPTS = 400


def _weighted(rng: random.Random, weights: dict[str, float]) -> str:
    items = list(weights)
    return rng.choices(items, weights=[weights[k] for k in items])[0]


def _apart(a: ClipObject, b: ClipObject) -> bool:
    return (
        a.x + a.size + _GAP <= b.x
        or b.x + b.size + _GAP <= a.x
        or a.y + a.size + _GAP <= b.y
        or b.y + b.size + _GAP <= a.y
    )


def _choose_events(rng: random.Random, shapes: list[str], n_events: int) -> list[tuple[str, str]]:
    """``(type, shape)`` of each event in order, following the once-each rules of the module doc."""
    status = dict.fromkeys(shapes, "new")  # new (no event yet), seen, gone
    done: set[tuple[str, str]] = set()
    appearing = 0
    chosen: list[tuple[str, str]] = []
    for _ in range(n_events):
        options: dict[str, list[str]] = {}
        live = [s for s in shapes if status[s] != "gone"]
        for kind in ("move", "colour", "disappear"):
            options[kind] = [s for s in live if (kind, s) not in done]
        # an object may appear only as its first event, and one object must be there from the start
        options["appear"] = [s for s in shapes if status[s] == "new"] if appearing + 1 < len(shapes) else []
        weights = {k: w for k, w in _TYPE_WEIGHTS.items() if options[k]}
        if not weights:
            break
        kind = _weighted(rng, weights)
        shape = rng.choice(options[kind])
        chosen.append((kind, shape))
        done.add((kind, shape))
        appearing += kind == "appear"
        status[shape] = "gone" if kind == "disappear" else "seen"
    return chosen


def _place(
    rng: random.Random, shapes: list[str], image_size: int, size_range: tuple[int, int]
) -> dict[str, ClipObject] | None:
    boxes: dict[str, ClipObject] = {}
    for shape in shapes:
        size = rng.randint(*size_range)
        hi = image_size - _BORDER - size
        colour = rng.choice(COLOURS)
        for _ in range(30):
            obj = ClipObject(shape, colour, rng.randint(_BORDER, hi), rng.randint(_BORDER, hi), size)
            if all(_apart(obj, other) for other in boxes.values()):
                boxes[shape] = obj
                break
        else:
            return None
    return boxes


def _try_clip(
    rng: random.Random,
    n_objects: int,
    n_events: int,
    num_frames: int,
    image_size: int,
    size_range: tuple[int, int],
    move_range: tuple[int, int],
    max_events: int,
) -> Clip | None:
    shapes = rng.sample(SHAPES, n_objects)
    boxes = _place(rng, shapes, image_size, size_range)
    if boxes is None:
        return None
    plan = _choose_events(rng, shapes, n_events)
    lead = tail = max(1, num_frames // 8)
    slot = (num_frames - lead - tail) // len(plan)
    colours = {s: boxes[s].colour for s in shapes}
    events = []
    for k, (kind, shape) in enumerate(plan):
        begin = lead + k * slot
        if kind == "move":
            obj = boxes[shape]
            dist = rng.randint(*move_range)
            lo, hi = _BORDER, image_size - _BORDER - obj.size
            feasible = [
                d
                for d in DIRECTIONS
                if lo <= obj.x + STEPS[d][0] * dist <= hi and lo <= obj.y + STEPS[d][1] * dist <= hi
            ]
            if not feasible:
                return None
            d = rng.choice(feasible)
            target = (obj.x + STEPS[d][0] * dist, obj.y + STEPS[d][1] * dist)
            events.append(
                ClipEvent(
                    "move",
                    shape,
                    begin,
                    begin + slot - 1,
                    colours[shape],
                    d,
                    dist,
                    None,
                    (obj.x, obj.y),
                    target,
                )
            )
        elif kind == "colour":
            new = rng.choice([c for c in COLOURS if c != colours[shape]])
            events.append(
                ClipEvent(
                    "colour", shape, begin + slot // 2, begin + slot // 2, colours[shape], new_colour=new
                )
            )
            colours[shape] = new
        else:
            events.append(ClipEvent(kind, shape, begin + slot // 2, begin + slot // 2, colours[shape]))
    clip = Clip(tuple(boxes[s] for s in shapes), tuple(events), num_frames, image_size)
    for t in range(num_frames):
        state = clip.state_at(t)
        if any(not _apart(a, b) for i, a in enumerate(state) for b in state[i + 1 :]):
            return None
    return clip


def sample_clip(
    rng: random.Random,
    *,
    num_frames: int = 16,
    image_size: int = 32,
    size_range: tuple[int, int] = (6, 9),
    move_range: tuple[int, int] = (8, 11),
    max_events: int = 3,
) -> Clip:
    """Sample one clip: 1-3 objects of distinct shapes and 1-``max_events`` events.

    Args:
        rng: the clip's random stream (the same stream gives the same clip).
        num_frames: frames in the clip.
        image_size: side of the square frames in pixels.
        size_range: smallest and largest box side in pixels.
        move_range: shortest and longest move in pixels.
        max_events: most events in the clip.

    Returns:
        The clip.

    Raises:
        RuntimeError: when no valid clip is found (only for frames far too small for the sizes).
    """
    # drawn once, before the rejection loop, so that rejections do not skew the mix towards easy clips
    n_objects = rng.choices((1, 2, 3), weights=_OBJECT_WEIGHTS)[0]
    n_events = rng.randint(1, max_events)
    for _ in range(_ATTEMPTS):
        clip = _try_clip(rng, n_objects, n_events, num_frames, image_size, size_range, move_range, max_events)
        if clip is not None:
            return clip
    raise RuntimeError(
        f"no clip of {size_range} px shapes moving {move_range} px fits {image_size} px frames"
    )
