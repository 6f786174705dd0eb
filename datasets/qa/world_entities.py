"""The entity graph of the generated QA world (:mod:`polyrlaif.datasets.qa.world`), from a seed.

People come first (birth years, occupations), then rivers (lengths, source lakes), towns (a founder
among the people, founded 25 to 60 years after the founder's birth, a population, a river), the
people's birthplaces (a town founded before their birth), organisations (a first president, founded
30 to 65 years after that person's birth, a seat, a membership) and events (an organiser, a year
after its founding, a town). Each kind's near-name twins follow its base entities: a name one vowel
letter away and a different value for every attribute.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from polyrlaif.datasets.qa import world_text as tx

__all__ = ["REFERENCE_KINDS", "Draft", "draft_entities"]

#: Reference attribute -> the kind of entity it names.
REFERENCE_KINDS = {
    "river": "river",
    "founder": "person",
    "birthplace": "town",
    "president": "person",
    "seat": "town",
    "place": "town",
    "organiser": "organisation",
}

_TRIES = 1000


@dataclass
class Draft:
    """An entity before it has a document id: references are indices into the draft list.

    Attributes:
        kind: the entity's kind.
        word: the invented word a near-name twin varies (a person's family name).
        attrs: attribute -> value.
        prefix: what comes before ``word`` in the name (``River``, a given name).
        suffix: what comes after it (``Guild``, ``Accord``).
        twin_of: for a twin, the index of the entity it nearly shares its name with.
    """

    kind: str
    word: str
    attrs: dict[str, Any]
    prefix: str = ""
    suffix: str = ""
    twin_of: int | None = None

    @property
    def name(self) -> str:
        """The entity's name: its title."""
        return f"{self.prefix}{self.word}{self.suffix}"


def _differ(draw: Callable[[], Any], avoid: Any) -> Any:
    """A draw different from ``avoid`` (any draw when ``avoid`` is None).

    Raises:
        ValueError: no different value in many draws (a kind with one entity to choose from).
    """
    for _ in range(_TRIES):
        value = draw()
        if avoid is None or value != avoid:
            return value
    raise ValueError("too few entities to give a distractor different attributes; add entities")


def _log_int(rng: random.Random, lo: int, hi: int) -> int:
    return int(math.exp(rng.uniform(math.log(lo), math.log(hi))))


class _Drafter:
    """Draws the entities of one world; ``o`` is the original a twin differs from (None: a base entity)."""

    def __init__(self, seed: int, distractor_rate: float) -> None:
        self.rng = random.Random(f"{seed}:entities")
        self.names = tx.NameBook(random.Random(f"{seed}:names"))
        self.rate = distractor_rate
        self.drafts: list[Draft] = []
        self.by_kind: dict[str, list[int]] = {}
        self.given = [self.names.fresh((2, 2)) for _ in range(40)]

    def add(self, kind: str, n: int, make: Callable[[Draft | None], Draft]) -> None:
        """``n`` base entities of ``kind``, then twins of a ``distractor_rate`` share of them."""
        base = [make(None) for _ in range(n)]
        for i in sorted(self.rng.sample(range(n), round(self.rate * n))):
            twin, word = make(base[i]), self.names.near(base[i].word)
            if word is not None:  # a word with no free one-letter variant gets no twin
                twin.word, twin.twin_of = word, len(self.drafts) + i
                base.append(twin)
        self.by_kind[kind] = list(range(len(self.drafts), len(self.drafts) + len(base)))
        self.drafts.extend(base)

    def _pick(self, kind: str, avoid: Any) -> int:
        return _differ(lambda: self.rng.choice(self.by_kind[kind]), avoid)

    def _anchored(
        self, kind: str, o: Draft | None, ref: str, year: str, gap: tuple[int, int]
    ) -> tuple[int, int]:
        """A ``kind`` entity and a year ``gap`` years after its own (a birth, a founding), capped at 1995;
        for a twin, both differ from the original's."""
        a = o.attrs if o else {}
        for _ in range(_TRIES):
            chosen = self._pick(kind, a.get(ref))
            anchor = self.drafts[chosen].attrs["born" if kind == "person" else "founded"]
            when = min(anchor + self.rng.randint(*gap), 1995)
            if when != a.get(year):
                return chosen, when
        raise ValueError("too few entities to give a distractor different attributes; add entities")

    def town_before(self, year: int, avoid: int | None) -> int:
        """A town founded before ``year`` (any town when none is), other than ``avoid`` where possible."""
        towns = self.by_kind["town"]
        older = [t for t in towns if self.drafts[t].attrs["founded"] < year and t != avoid]
        return self.rng.choice(older or [t for t in towns if t != avoid] or towns)

    def person(self, o: Draft | None) -> Draft:
        a, rng = (o.attrs if o else {}), self.rng
        attrs = {
            "born": _differ(lambda: rng.randint(1080, 1940), a.get("born")),
            "birthplace": None,  # set once the towns exist
            "occupation": _differ(lambda: rng.choice(tx.OCCUPATIONS), a.get("occupation")),
        }
        return Draft(
            "person", self.names.fresh(), attrs, prefix=o.prefix if o else rng.choice(self.given) + " "
        )

    def river(self, o: Draft | None) -> Draft:
        length = _differ(lambda: self.rng.randint(40, 980), o.attrs["length"] if o else None)
        return Draft(
            "river", self.names.fresh(), {"length": length, "source": self.names.fresh((2, 2))}, "River "
        )

    def town(self, o: Draft | None) -> Draft:
        a, rng = (o.attrs if o else {}), self.rng
        founder, founded = self._anchored("person", o, "founder", "founded", (25, 60))
        population = _differ(lambda: _log_int(rng, 800, 480_000), a.get("population"))
        attrs = {"founded": founded, "population": population, "river": self._pick("river", a.get("river"))}
        return Draft("town", self.names.fresh(), {**attrs, "founder": founder})

    def organisation(self, o: Draft | None) -> Draft:
        a, rng = (o.attrs if o else {}), self.rng
        president, founded = self._anchored("person", o, "president", "founded", (30, 65))
        attrs = {
            "founded": founded,
            "president": president,
            "seat": self.town_before(founded, a.get("seat")),
            "members": _differ(lambda: _log_int(rng, 40, 9_000), a.get("members")),
        }
        suffix = o.suffix if o else " " + rng.choice(tx.ORG_NOUNS)
        return Draft("organisation", self.names.fresh(), attrs, suffix=suffix)

    def event(self, o: Draft | None) -> Draft:
        a = o.attrs if o else {}
        organiser, year = self._anchored("organisation", o, "organiser", "year", (3, 150))
        attrs = {"year": year, "place": self.town_before(year, a.get("place")), "organiser": organiser}
        suffix = o.suffix if o else " " + self.rng.choice(tx.EVENT_NOUNS)
        return Draft("event", self.names.fresh(), attrs, suffix=suffix)


def draft_entities(
    seed: int, counts: Mapping[str, int], distractor_rate: float
) -> tuple[list[Draft], list[str]]:
    """The world's entities (base and twins) and a few invented region names for the documents.

    Args:
        seed: the world's seed.
        counts: base entities per kind (``town``, ``river``, ``person``, ``organisation``, ``event``).
        distractor_rate: share of each kind's entities given a near-name twin.

    Raises:
        ValueError: too few entities of a kind to give a twin different attributes.
    """
    d = _Drafter(seed, distractor_rate)
    regions = [d.names.fresh((2, 2)) for _ in range(8)]
    d.add("person", counts["person"], d.person)
    d.add("river", counts["river"], d.river)
    d.add("town", counts["town"], d.town)
    for p in (d.drafts[i] for i in d.by_kind["person"]):  # a twin's birthplace differs from its original's
        avoid = d.drafts[p.twin_of].attrs["birthplace"] if p.twin_of is not None else None
        p.attrs["birthplace"] = d.town_before(p.attrs["born"], avoid)
    d.add("organisation", counts["organisation"], d.organisation)
    d.add("event", counts["event"], d.event)
    return d.drafts, regions
