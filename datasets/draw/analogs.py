"""Analogous prompts: prompts that differ from a base prompt in exactly one taxonomy axis.

InstructEngine's cross-validation pairs a prompt with analogues that change one thing, so a judge (or
a reward) must look at that thing to tell the images apart. The draw world's axes and their rules:

* ``object``: one group's shape becomes a shape the prompt does not name
  ("a red square and a blue circle" -> "a red triangle and a blue circle");
* ``colour``: the two groups swap colours when that changes the meaning ("a red square to the left
  of a blue circle" -> "a blue square to the left of a red circle"), otherwise one group takes
  another colour;
* ``count``: one group's count changes (within 1-3);
* ``spatial``: left and right swap (only for prompts with a relation).

:func:`axis_diff` names the axes two prompts differ in, group by group.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass

from polyrlaif.datasets.draw.spec import (
    COLOURS,
    SHAPES,
    PromptSpec,
    sample_spec,
    semantic_key,
)

__all__ = [
    "WORLD_AXES",
    "PromptGroup",
    "analogous",
    "applicable_axes",
    "axis_diff",
    "prompt_groups",
]

WORLD_AXES: tuple[str, ...] = ("object", "colour", "count", "spatial")
"""The taxonomy axes the draw world can vary, render and check."""

_FLIP = {"left_of": "right_of", "right_of": "left_of"}


def applicable_axes(spec: PromptSpec) -> tuple[str, ...]:
    """The world axes :func:`analogous` can vary for ``spec`` (``spatial`` needs a relation)."""
    return tuple(a for a in WORLD_AXES if a != "spatial" or spec.relation is not None)


def _replace(spec: PromptSpec, i: int, **change: object) -> PromptSpec:
    objects = list(spec.objects)
    objects[i] = objects[i]._replace(**change)
    return PromptSpec(tuple(objects), spec.relation)


def analogous(spec: PromptSpec, axis: str, rng: random.Random) -> PromptSpec:
    """A prompt that differs from ``spec`` in exactly ``axis`` and means something else.

    Args:
        spec: the base prompt.
        axis: one of :func:`applicable_axes` of ``spec``.
        rng: the random stream (which group changes, and to what).

    Returns:
        The analogous prompt: ``axis_diff(spec, result) == {axis}`` and their
        :func:`~polyrlaif.datasets.draw.spec.semantic_key` differ.

    Raises:
        ValueError: for an axis outside :data:`WORLD_AXES`, or ``spatial`` without a relation.
    """
    if axis not in WORLD_AXES:
        raise ValueError(f"axis {axis!r}: the draw world varies only {', '.join(WORLD_AXES)}")
    objects = spec.objects
    if axis == "spatial":
        if spec.relation is None:
            raise ValueError(f"axis 'spatial': prompt {spec.text!r} has no relation to swap")
        return PromptSpec(objects, _FLIP[spec.relation])  # type: ignore[arg-type]
    i = rng.randrange(len(objects))
    if axis == "object":
        present = {o.shape for o in objects}
        return _replace(spec, i, shape=rng.choice([s for s in SHAPES if s not in present]))
    if axis == "count":
        return _replace(spec, i, count=rng.choice([c for c in (1, 2, 3) if c != objects[i].count]))
    if len(objects) == 2 and rng.random() < 0.5:
        a, b = objects
        swapped = PromptSpec((a._replace(colour=b.colour), b._replace(colour=a.colour)), spec.relation)
        if semantic_key(swapped) != semantic_key(spec):
            return swapped
    others = {(o.shape, o.colour) for j, o in enumerate(objects) if j != i}
    choices = [c for c in COLOURS if c != objects[i].colour and (objects[i].shape, c) not in others]
    return _replace(spec, i, colour=rng.choice(choices))


def axis_diff(a: PromptSpec, b: PromptSpec) -> frozenset[str]:
    """The world axes in which two prompts differ, comparing group by group.

    Returns:
        A subset of :data:`WORLD_AXES`, or ``{"structure"}`` when the prompts do not have the same
        number of groups and the same presence of a relation (they are not comparable axis by axis).
    """
    if len(a.objects) != len(b.objects) or (a.relation is None) != (b.relation is None):
        return frozenset({"structure"})
    diff = set()
    for x, y in zip(a.objects, b.objects, strict=True):
        diff |= {"object"} if x.shape != y.shape else set()
        diff |= {"colour"} if x.colour != y.colour else set()
        diff |= {"count"} if x.count != y.count else set()
    if a.relation != b.relation:
        diff.add("spatial")
    return frozenset(diff)


@dataclass(frozen=True)
class PromptGroup:
    """A base prompt and its analogues along one axis; iterates as the list ``[base, *analogues]``.

    Attributes:
        group_id: the group's index in its set.
        axis: the axis the analogues vary.
        specs: the base first, then the analogues.
    """

    group_id: int
    axis: str
    specs: tuple[PromptSpec, ...]

    @property
    def base(self) -> PromptSpec:
        """The base prompt."""
        return self.specs[0]

    def __iter__(self) -> Iterator[PromptSpec]:
        return iter(self.specs)

    def __len__(self) -> int:
        return len(self.specs)

    def __getitem__(self, i: int) -> PromptSpec:
        return self.specs[i]


def _keys(items: Iterable[PromptSpec | tuple]) -> set[tuple]:
    return {semantic_key(x) if isinstance(x, PromptSpec) else x for x in items}


def prompt_groups(
    n: int,
    *,
    seed: int | str,
    axes: Sequence[str] = WORLD_AXES,
    analogs: int = 1,
    exclude: Iterable[PromptSpec | tuple] = (),
    max_objects: int = 4,
    kind_weights: Mapping[str, float] | None = None,
) -> list[PromptGroup]:
    """Groups of analogous prompts: each a random base plus ``analogs`` analogues along one axis.

    Axes take turns (group ``i`` varies ``axes[i % len(axes)]``); a ``spatial`` group's base has a
    relation. Every prompt differs in meaning from every other prompt of all groups while the space
    allows, and from every prompt in ``exclude`` always.

    Args:
        n: number of groups.
        seed: the seed; the same arguments give the same groups.
        axes: the axes to vary, each in :data:`WORLD_AXES`.
        analogs: analogues per group (``spatial`` has only one).
        exclude: prompts (or their semantic keys) no group may contain, e.g. held-out prompts.
        max_objects: most objects in a base prompt (analogues may add up to two more via ``count``).
        kind_weights: weight of each prompt kind for the bases (``spatial`` bases are always relations).

    Returns:
        ``n`` groups, ``group_id`` 0 to ``n - 1``.

    Raises:
        ValueError: for an unknown axis or an impossible ``analogs``.
        RuntimeError: when ``exclude`` leaves no base for an axis.
    """
    bad = [a for a in axes if a not in WORLD_AXES]
    if bad or not axes:
        raise ValueError(f"axes: {bad or 'none given'}; choose from {', '.join(WORLD_AXES)}")
    if analogs < 1 or (analogs > 1 and "spatial" in axes) or analogs > 2:
        raise ValueError(f"analogs: {analogs}; 1, or 2 without the 'spatial' axis (it has one analog)")
    rng = random.Random(f"polyrlaif-draw/groups/{seed}")
    excluded, used = _keys(exclude), set()
    groups: list[PromptGroup] = []
    for gid in range(n):
        axis = axes[gid % len(axes)]
        for attempt in range(400):
            blocked = excluded | used if attempt < 200 else excluded  # then allow repeats across groups
            kind = "relation" if axis == "spatial" else None
            base = sample_spec(rng, kind=kind, max_objects=max_objects, kind_weights=kind_weights)
            members, keys = [base], {semantic_key(base)}
            if keys & blocked:
                continue
            for _ in range(10 * analogs):
                other = analogous(base, axis, rng)
                key = semantic_key(other)
                if key not in keys and key not in blocked:
                    members.append(other)
                    keys.add(key)
                if len(members) == analogs + 1:
                    break
            if len(members) == analogs + 1:
                break
        else:
            raise RuntimeError(f"group {gid}: no prompt for axis {axis!r} avoids the excluded prompts")
        used |= keys
        groups.append(PromptGroup(gid, axis, tuple(members)))
    return groups
