"""Clips of the video world: shapes that appear, move, change colour and disappear, one event at a time.

A clip is its first frame's objects plus a time-ordered list of events. Objects are the draw world's
flat shapes (:data:`~polyrlaif.datasets.draw.spec.SHAPES` in a
:data:`~polyrlaif.datasets.draw.spec.PALETTE` colour on its dark background, drawn with
:func:`~polyrlaif.datasets.draw.renderer.draw_mask`), so every shape pixel has exactly its palette colour.
The shapes of a clip are distinct, so "the circle" names one object however its colour changes.

Events never overlap in time: the clip is a short still lead-in, then one slot per event, then a still
tail, so "first", "before" and "after" are always well defined. Each object moves at most once, changes
colour at most once, may appear (its first event) and may disappear (its last). Boxes keep a pixel of
background between them in every frame, so nothing is ever occluded.
"""

from __future__ import annotations

import functools
import hashlib
import json
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

from polyrlaif.datasets.draw.renderer import draw_mask
from polyrlaif.datasets.draw.spec import BACKGROUND_RGB, PALETTE

if TYPE_CHECKING:
    import numpy as np

__all__ = [
    "DIRECTIONS",
    "EVENT_TYPES",
    "STEPS",
    "Clip",
    "ClipEvent",
    "ClipObject",
]

DIRECTIONS: tuple[str, ...] = ("left", "right", "up", "down")
"""Directions of motion, in image coordinates (up is towards row 0)."""

EVENT_TYPES: tuple[str, ...] = ("move", "colour", "disappear", "appear")
"""What can happen to an object."""

STEPS: dict[str, tuple[int, int]] = {"left": (-1, 0), "right": (1, 0), "up": (0, -1), "down": (0, 1)}
"""The ``(dx, dy)`` unit step of each direction."""


@dataclass(frozen=True)
class ClipObject:
    """One object as it is first seen: shape, colour and square box (top-left ``x``, ``y``, side ``size``).

    An object that appears during the clip is described as it appears.
    """

    shape: str
    colour: str
    x: int
    y: int
    size: int


@dataclass(frozen=True)
class ClipEvent:
    """One event.

    Attributes:
        type: one of :data:`EVENT_TYPES`.
        shape: the object it happens to (shapes are distinct within a clip).
        start: for a move, the last frame at the old place; otherwise the first frame showing the change.
        end: for a move, the first frame at the new place; otherwise equal to ``start``.
        colour: the object's colour when the event begins.
        direction: a move's direction (else None).
        distance: a move's length in pixels (else None).
        new_colour: a colour change's new colour (else None).
        origin: a move's box corner ``[x, y]`` before it (else None).
        target: a move's box corner ``[x, y]`` after it (else None).
    """

    type: str
    shape: str
    start: int
    end: int
    colour: str
    direction: str | None = None
    distance: int | None = None
    new_colour: str | None = None
    origin: tuple[int, int] | None = None
    target: tuple[int, int] | None = None


@functools.lru_cache(maxsize=64)
def _mask(shape: str, size: int) -> np.ndarray:
    import numpy as np

    return np.asarray(draw_mask(shape, size)) > 0


@dataclass(frozen=True)
class Clip:
    """A whole clip: objects, events in time order, length and frame size."""

    objects: tuple[ClipObject, ...]
    events: tuple[ClipEvent, ...]
    num_frames: int
    image_size: int

    def _event(self, shape: str, kind: str) -> ClipEvent | None:
        return next((e for e in self.events if e.shape == shape and e.type == kind), None)

    def state_at(self, frame: int) -> list[ClipObject]:
        """The objects visible in ``frame``, with their colour and box there, in drawing order."""
        out = []
        for obj in self.objects:
            appear, gone = self._event(obj.shape, "appear"), self._event(obj.shape, "disappear")
            if (appear and frame < appear.start) or (gone and frame >= gone.start):
                continue
            recolour, move = self._event(obj.shape, "colour"), self._event(obj.shape, "move")
            colour = recolour.new_colour if recolour and frame >= recolour.start else obj.colour
            x, y = obj.x, obj.y
            if move is not None and frame > move.start:
                f = min(1.0, (frame - move.start) / (move.end - move.start))
                dx, dy = STEPS[move.direction]
                x, y = x + round(dx * move.distance * f), y + round(dy * move.distance * f)
            out.append(ClipObject(obj.shape, colour, x, y, obj.size))
        return out

    def start_objects(self) -> list[ClipObject]:
        """The objects visible in the first frame."""
        return self.state_at(0)

    def end_objects(self) -> list[ClipObject]:
        """The objects visible in the last frame."""
        return self.state_at(self.num_frames - 1)

    def render(self) -> np.ndarray:
        """The frames: a uint8 array ``(num_frames, image_size, image_size, 3)``."""
        import numpy as np

        n = self.image_size
        frames = np.empty((self.num_frames, n, n, 3), dtype=np.uint8)
        frames[:] = BACKGROUND_RGB
        for t in range(self.num_frames):
            for obj in self.state_at(t):
                frames[t, obj.y : obj.y + obj.size, obj.x : obj.x + obj.size][_mask(obj.shape, obj.size)] = (
                    PALETTE[obj.colour]
                )
        return frames

    def to_json(self) -> dict:
        """Plain JSON types: ``{"num_frames", "image_size", "objects": [...], "events": [...]}``."""
        events = []
        for e in self.events:
            row = asdict(e)
            row["origin"] = list(e.origin) if e.origin else None
            row["target"] = list(e.target) if e.target else None
            events.append(row)
        return {
            "num_frames": self.num_frames,
            "image_size": self.image_size,
            "objects": [asdict(o) for o in self.objects],
            "events": events,
        }

    @classmethod
    def from_json(cls, row: dict) -> Clip:
        """The clip of :meth:`to_json`'s dict (a ``clips/<split>.jsonl`` row has these fields)."""
        events = []
        for e in row["events"]:
            e = dict(e)
            e["origin"] = tuple(e["origin"]) if e.get("origin") else None
            e["target"] = tuple(e["target"]) if e.get("target") else None
            events.append(ClipEvent(**e))
        objects = tuple(ClipObject(**o) for o in row["objects"])
        return cls(objects, tuple(events), int(row["num_frames"]), int(row["image_size"]))

    def content_key(self) -> str:
        """SHA-256 of the clip's content (what every frame shows), independent of ids and paths."""
        return hashlib.sha256(json.dumps(self.to_json(), sort_keys=True).encode()).hexdigest()
