"""The story grammar: eight characters, eight scenes, and StoryCloze-style pairs of endings.

A story puts one character in one scene (a place, an object, what one does there)::

    One day Anna walked to the kitchen. She wanted to bake a cake. It was a nice day.
    coherent:    She put the cake in the oven.
    incoherent:  She flew the kite high in the sky.          (kind "place")

The context is an opening (character and place), a scene sentence, and with probability 3/4 an extra
sentence (weather or mood); the ending is one of the scene's two endings, its subject the character's
pronoun or name. The incoherent ending reads well on its own but contradicts the context in one way:

============  ====================================================================================
kind          the incoherent ending
============  ====================================================================================
place         an ending of another scene ("She flew the kite high in the sky." in the kitchen)
object        this scene's ending about another scene's object ("She put the shells in the oven.")
character     this scene's ending about someone else: the other pronoun ("He put the cake ...") when
              the ending uses the pronoun, another character's name when it uses the name
============  ====================================================================================

Every sentence comes from :func:`all_sentences`, so the language is finite and its vocabulary
(:func:`vocabulary`) is about 110 words.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

__all__ = [
    "CHARACTERS",
    "EXTRAS",
    "INCOHERENT_KINDS",
    "OPENINGS",
    "SCENES",
    "IncoherentKind",
    "Scene",
    "Story",
    "all_combos",
    "all_sentences",
    "distinct_stories_per_combo",
    "heldout_combos",
    "render",
    "sample_story",
    "scene_words",
    "tokens",
    "vocabulary",
]

CHARACTERS: dict[str, str] = {
    "Tom": "he",
    "Ben": "he",
    "Sam": "he",
    "Max": "he",
    "Anna": "she",
    "Lucy": "she",
    "Mia": "she",
    "Emma": "she",
}
"""Character name -> subject pronoun."""

_POSSESSIVE = {"he": "his", "she": "her"}

IncoherentKind = Literal["place", "object", "character"]
INCOHERENT_KINDS: tuple[str, ...] = ("place", "object", "character")


@dataclass(frozen=True)
class Scene:
    """A place, the object the story is about there, two scene sentences and two endings.

    Templates take ``{N}`` (name), ``{P}`` (pronoun, capitalised), ``{poss}`` (his/her), ``{S}``
    (the ending's subject: pronoun or name) and ``{obj}``.
    """

    place: str
    obj: str
    middles: tuple[str, str]
    endings: tuple[str, str]


SCENES: tuple[Scene, ...] = (
    Scene(
        "kitchen",
        "cake",
        ("{P} wanted to bake a cake.", "{P} mixed the milk and the eggs."),
        ("{S} put the {obj} in the oven.", "{S} ate the warm {obj}."),
    ),
    Scene(
        "park",
        "kite",
        ("{P} took {poss} new kite.", "The wind was strong."),
        ("{S} flew the {obj} high in the sky.", "{S} ran with the {obj} on the grass."),
    ),
    Scene(
        "lake",
        "fish",
        ("{P} took {poss} fishing rod.", "{P} sat by the water."),
        ("{S} caught the {obj} with {poss} rod.", "{S} cooked the {obj} for dinner."),
    ),
    Scene(
        "garden",
        "flowers",
        ("{P} had a bag of seeds.", "{P} took {poss} little spade."),
        ("{S} planted the {obj} in a row.", "{S} gave water to the {obj}."),
    ),
    Scene(
        "library",
        "book",
        ("{P} wanted a good story.", "{P} sat at a big table."),
        ("{S} read the {obj} all day.", "{S} took the {obj} home."),
    ),
    Scene(
        "shop",
        "apples",
        ("{P} had some money.", "{P} wanted some fruit."),
        ("{S} paid for the {obj}.", "{S} put the {obj} in a bag."),
    ),
    Scene(
        "beach",
        "shells",
        ("{P} took {poss} red bucket.", "The sea was calm."),
        ("{S} found the {obj} in the sand.", "{S} put the {obj} in {poss} bucket."),
    ),
    Scene(
        "forest",
        "stick",
        ("{P} took {poss} dog for a walk.", "The trees were tall."),
        ("{S} threw the {obj} for the dog.", "The dog brought the {obj} back."),
    ),
)
_SCENE = {s.place: s for s in SCENES}

OPENINGS: tuple[str, ...] = (
    "{N} went to the {place}.",
    "One day {N} walked to the {place}.",
    "In the morning {N} went to the {place}.",
)
EXTRAS: tuple[str, ...] = ("The sun was warm.", "{P} was very happy.", "It was a nice day.")


@dataclass(frozen=True)
class Story:
    """One story: its context sentences and two endings.

    Attributes:
        story_id: unique within a world (``train_00001``, ``prompt_00001``, ``cloze_00001``).
        character: the character's name (a key of :data:`CHARACTERS`).
        scene: the scene's place (``kitchen``).
        context: 2-3 sentences.
        coherent: the ending that follows from the context.
        incoherent: an ending that contradicts it in one way (``incoherent_kind``).
        incoherent_kind: ``place``, ``object`` or ``character``.
    """

    story_id: str
    character: str
    scene: str
    context: list[str] = field(hash=False)
    coherent: str
    incoherent: str
    incoherent_kind: str

    @property
    def prompt(self) -> str:
        """The context as one string (what an RLAIF prompt speaks)."""
        return " ".join(self.context)

    @property
    def text(self) -> str:
        """The whole coherent story."""
        return f"{self.prompt} {self.coherent}"

    @property
    def incoherent_text(self) -> str:
        """The context followed by the incoherent ending."""
        return f"{self.prompt} {self.incoherent}"


def render(template: str, name: str, *, subject: str | None = None, obj: str = "", place: str = "") -> str:
    """Fill a template for character ``name`` (``subject`` defaults to the pronoun)."""
    pron = CHARACTERS[name]
    return template.format(
        N=name,
        P=pron.capitalize(),
        poss=_POSSESSIVE[pron],
        S=subject if subject is not None else pron.capitalize(),
        obj=obj,
        place=place,
    )


def _ending(template: str, name: str, use_name: bool, obj: str, *, pronoun: str | None = None) -> str:
    """An ending about ``name``; ``pronoun`` overrides the subject pronoun and possessive."""
    if pronoun is None:
        return render(template, name, subject=name if use_name else None, obj=obj)
    return template.format(S=pronoun.capitalize(), poss=_POSSESSIVE[pronoun], obj=obj)


def all_combos() -> list[tuple[str, str]]:
    """Every (character, place) pair, in a fixed order."""
    return [(c, s.place) for c in CHARACTERS for s in SCENES]


def heldout_combos(seed: int | str, n: int) -> list[tuple[str, str]]:
    """``n`` (character, place) pairs reserved for held-out stories, sorted.

    The first eight pair each scene with a different character (a random permutation), so every
    character and every scene is seen in training with the others; more are drawn at random.

    Raises:
        ValueError: ``n`` is not in 1..63 (one pair at least must remain for training).
    """
    combos = all_combos()
    if not 1 <= n < len(combos):
        raise ValueError(f"heldout_combos: {n} is not within 1-{len(combos) - 1}")
    rng = random.Random(f"polyrlaif-speech/{seed}/heldout")
    names = list(CHARACTERS)
    rng.shuffle(names)
    chosen = [(names[i % len(names)], s.place) for i, s in enumerate(SCENES)][:n]
    rest = [c for c in combos if c not in chosen]
    rng.shuffle(rest)
    return sorted(chosen + rest[: n - len(chosen)])


def _incoherent(
    rng: random.Random, name: str, scene: Scene, k: int, use_name: bool, kinds: Sequence[str]
) -> tuple[str, str]:
    """(incoherent ending, kind) for the story's ending template ``k``."""
    template = scene.endings[k]
    usable = [kind for kind in kinds if kind != "character" or "{S}" in template]
    kind = rng.choice(usable or ["place"])
    if kind == "place":
        other = rng.choice([s for s in SCENES if s is not scene])
        return _ending(rng.choice(other.endings), name, use_name, other.obj), kind
    if kind == "object":
        obj = rng.choice([s.obj for s in SCENES if s is not scene])
        return _ending(template, name, use_name, obj), kind
    if use_name:
        other_name = rng.choice([c for c in CHARACTERS if c != name])
        return _ending(template, other_name, True, scene.obj), kind
    pron = "she" if CHARACTERS[name] == "he" else "he"
    return _ending(template, name, False, scene.obj, pronoun=pron), kind


def sample_story(
    rng: random.Random,
    story_id: str,
    combos: Sequence[tuple[str, str]],
    kinds: Sequence[str] = INCOHERENT_KINDS,
) -> Story:
    """A random story about one of ``combos`` (character, place), with a coherent and an incoherent ending.

    Args:
        rng: the story's own random stream; the same stream state always gives the same story.
        story_id: the id to give it.
        combos: the (character, place) pairs to choose from.
        kinds: the kinds of incoherence to choose from, those that apply to the ending drawn
            (``character`` needs an ending with a subject); ``place`` when none does.
    """
    name, place = rng.choice(list(combos))
    scene = _SCENE[place]
    context = [
        render(rng.choice(OPENINGS), name, place=place),
        render(rng.choice(scene.middles), name),
    ]
    if rng.random() < 0.75:
        context.append(render(rng.choice(EXTRAS), name))
    k = rng.randrange(len(scene.endings))
    use_name = rng.random() < 0.5
    coherent = _ending(scene.endings[k], name, use_name, scene.obj)
    incoherent, kind = _incoherent(rng, name, scene, k, use_name, kinds)
    return Story(story_id, name, place, context, coherent, incoherent, kind)


def distinct_stories_per_combo() -> int:
    """How many distinct coherent stories one (character, place) pair has (96)."""
    endings = max(len(s.endings) for s in SCENES)
    middles = max(len(s.middles) for s in SCENES)
    return len(OPENINGS) * middles * (1 + len(EXTRAS)) * endings * 2  # 2: pronoun or name


def all_sentences(character: str, place: str) -> list[str]:
    """Every sentence a coherent story about ``character`` in ``place`` can contain, sorted."""
    scene = _SCENE[place]
    out = {render(t, character, place=place) for t in OPENINGS}
    out |= {render(t, character) for t in (*scene.middles, *EXTRAS)}
    out |= {_ending(t, character, u, scene.obj) for t in scene.endings for u in (False, True)}
    return sorted(out)


def tokens(sentence: str) -> list[str]:
    """The words of a sentence, lower-cased, without punctuation."""
    return [w.strip(".,").lower() for w in sentence.split() if w.strip(".,")]


def vocabulary() -> list[str]:
    """Every word of the grammar, incoherent endings included, lower-cased and sorted."""
    words: set[str] = set()
    for character, place in all_combos():
        for sentence in all_sentences(character, place):
            words.update(tokens(sentence))
    words.update(s.obj for s in SCENES)
    return sorted(words)


def scene_words() -> dict[str, frozenset[str]]:
    """Per scene (by place), the words only its sentences use: its place, its object and the verbs and
    nouns of its scene sentences and endings that no other scene shares ("oven", "kite", "spade"). A
    continuation that uses some of its scene's words and none of another's stays on topic."""
    per = {
        s.place: set(tokens(" ".join([s.place, s.obj, *s.middles, *s.endings]).replace("{", " {")))
        for s in SCENES
    }
    per = {p: {w for w in ws if not w.startswith("{")} for p, ws in per.items()}
    shared = {w for p, ws in per.items() for w in ws if any(w in o for q, o in per.items() if q != p)}
    shared |= set(tokens(" ".join(OPENINGS + EXTRAS))) | _FUNCTION_WORDS  # any scene may say these
    return {p: frozenset(ws - shared) for p, ws in per.items()}


_FUNCTION_WORDS = frozenset({"a", "all", "and", "at", "back", "by", "in", "of", "on", "some", "the", "were"})
