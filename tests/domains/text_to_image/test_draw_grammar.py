"""The draw world's prompt grammar and analogous prompts: text round trips, meanings, one-axis changes."""

from __future__ import annotations

import random

import pytest

from polyrlaif.datasets.draw import (
    KINDS,
    WORLD_AXES,
    ObjectSpec,
    PromptSpec,
    analogous,
    applicable_axes,
    axis_diff,
    parse_prompt,
    prompt_groups,
    sample_spec,
    semantic_key,
    spec_kind,
    spec_to_text,
)

RED_SQUARE_LEFT_OF_BLUE_CIRCLE = PromptSpec(
    (ObjectSpec("square", "red", 1), ObjectSpec("circle", "blue", 1)), "left_of"
)


def test_every_sampled_prompt_round_trips_through_text():
    rng = random.Random(0)
    kinds = set()
    for _ in range(2000):
        spec = sample_spec(rng, max_objects=6)
        kinds.add(spec_kind(spec))
        assert parse_prompt(spec_to_text(spec)) == spec, spec_to_text(spec)
    assert kinds == set(KINDS)


def test_canonical_text():
    assert spec_to_text(RED_SQUARE_LEFT_OF_BLUE_CIRCLE) == "a red square to the left of a blue circle"
    spec = PromptSpec([("triangle", "green", 3), ("square", "yellow", 2)])
    assert spec.text == "three green triangles and two yellow squares"
    assert spec.n_objects == 5


@pytest.mark.parametrize(
    "text",
    [
        "A red square to the left of a blue circle.",
        "a photo of a red square left of a blue circle",
        "one red  square on the left of one blue circle",
        "1 red square to the left of an blue circle!",
    ],
)
def test_parse_reads_user_variants(text):
    assert parse_prompt(text) == RED_SQUARE_LEFT_OF_BLUE_CIRCLE


@pytest.mark.parametrize(
    "text",
    [
        "",
        "a purple square",  # colour outside the palette
        "a red hexagon",  # shape outside the vocabulary
        "four red squares",  # count outside 1-3
        "two red square",  # count and noun disagree
        "a red squares",
        "a red square above a blue circle",  # relation outside the grammar
        "a red square and two red squares",  # two groups with the same shape and colour
        "a red square and a blue circle and a green triangle",  # three groups
        "draw me something nice",
    ],
)
def test_parse_returns_none_outside_the_grammar(text):
    assert parse_prompt(text) is None


def test_parse_never_raises_on_odd_input():
    assert parse_prompt(None) is None  # type: ignore[arg-type]
    assert parse_prompt("a red square " * 50) is None


@pytest.mark.parametrize(
    ("objects", "relation", "field"),
    [
        ([("hexagon", "red", 1)], None, "shape"),
        ([("square", "pink", 1)], None, "colour"),
        ([("square", "red", 4)], None, "count"),
        ([("square", "red", 1)], "left_of", "relation"),
        ([("square", "red", 1), ("square", "red", 2)], None, "same shape and colour"),
        ([("square", "red", 1), ("circle", "red", 1)], "above", "relation"),
    ],
)
def test_invalid_spec_names_the_field(objects, relation, field):
    with pytest.raises(ValueError, match=field):
        PromptSpec(objects, relation)


def test_semantic_key_identifies_equivalent_wordings():
    a = parse_prompt("a red square to the left of a blue circle")
    b = parse_prompt("a blue circle to the right of a red square")
    c = parse_prompt("a blue circle to the left of a red square")
    assert semantic_key(a) == semantic_key(b) != semantic_key(c)
    assert semantic_key(parse_prompt("a red square and two blue circles")) == semantic_key(
        parse_prompt("two blue circles and a red square")
    )


def test_analogous_differs_in_exactly_the_asked_axis():
    rng = random.Random(1)
    seen = {axis: 0 for axis in WORLD_AXES}
    for _ in range(600):
        spec = sample_spec(rng)
        for axis in applicable_axes(spec):
            other = analogous(spec, axis, rng)
            assert axis_diff(spec, other) == {axis}, (spec.text, other.text)
            assert semantic_key(other) != semantic_key(spec), (spec.text, other.text)
            assert parse_prompt(other.text) == other
            seen[axis] += 1
    assert min(seen.values()) > 100


def test_analogous_examples():
    rng = random.Random(0)
    base = RED_SQUARE_LEFT_OF_BLUE_CIRCLE
    assert analogous(base, "spatial", rng).text == "a red square to the right of a blue circle"
    colour_texts = {analogous(base, "colour", random.Random(s)).text for s in range(40)}
    assert "a blue square to the left of a red circle" in colour_texts  # the swap
    with pytest.raises(ValueError, match="spatial"):
        analogous(parse_prompt("a red square"), "spatial", rng)
    with pytest.raises(ValueError, match="texture"):
        analogous(base, "texture", rng)


def test_colour_swap_is_not_used_when_it_means_the_same():
    spec = parse_prompt("a red square and a blue square")  # swapping gives the same image set
    for s in range(30):
        other = analogous(spec, "colour", random.Random(s))
        assert semantic_key(other) != semantic_key(spec)


def test_prompt_groups_are_deterministic_balanced_and_respect_exclude():
    groups = prompt_groups(40, seed=3)
    assert [g.group_id for g in groups] == list(range(40))
    assert [g.axis for g in groups[:4]] == list(WORLD_AXES)
    again = prompt_groups(40, seed=3)
    assert [[s.text for s in g] for g in groups] == [[s.text for s in g] for g in again]
    assert [[s.text for s in g] for g in prompt_groups(40, seed=4)] != [[s.text for s in g] for g in groups]
    keys = [semantic_key(s) for g in groups for s in g]
    assert len(set(keys)) == len(keys)  # no prompt repeats across groups
    for g in groups:
        base, analog = g  # a group unpacks as [base, analog]
        assert axis_diff(base, analog) == {g.axis}
        if g.axis == "spatial":
            assert base.relation is not None
    excluded = prompt_groups(40, seed=5, exclude=[s for g in groups for s in g])
    assert not {semantic_key(s) for g in excluded for s in g} & set(keys)


def test_prompt_groups_with_two_analogs_and_bad_arguments():
    for g in prompt_groups(9, seed=0, axes=("colour", "count"), analogs=2):
        assert len(g) == 3 and len({semantic_key(s) for s in g}) == 3
        assert all(axis_diff(g.base, s) == {g.axis} for s in g[1:])
    with pytest.raises(ValueError, match="axes"):
        prompt_groups(2, seed=0, axes=("style",))
    with pytest.raises(ValueError, match="analogs"):
        prompt_groups(2, seed=0, analogs=2)  # spatial has a single analogue
