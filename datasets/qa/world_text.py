"""The phrasings of the generated QA world (:mod:`polyrlaif.datasets.qa.world`): names, documents, questions.

Names are built from invented syllables, so no model knows the answers. Every attribute has several
document sentences and several question phrasings; a document is its introduction followed by its
attribute sentences and a filler or two in a seeded order, so an answer sits at no fixed position.

Placeholders: ``{name}`` the entity's display name, ``{v}`` the attribute's value as written, ``{region}``
an invented region; in questions ``{x}`` is the subject (a name, or a description such as "the founder
of Orvask" in a two-hop question).
"""

from __future__ import annotations

import random
import re

__all__ = [
    "ATTRIBUTES",
    "CONFUSION",
    "FILLERS",
    "INTROS",
    "KINDS",
    "OCCUPATIONS",
    "ORG_NOUNS",
    "EVENT_NOUNS",
    "QUESTIONS",
    "REAL_NAMES",
    "REFERENCES",
    "SENTENCES",
    "NameBook",
    "invented_word",
    "one_letter_variants",
]

KINDS = ("town", "river", "person", "organisation", "event")

#: The attributes of each kind, in a fixed order; a reference attribute's value is an entity id.
ATTRIBUTES: dict[str, tuple[str, ...]] = {
    "town": ("founded", "population", "river", "founder"),
    "river": ("length", "source"),
    "person": ("born", "birthplace", "occupation"),
    "organisation": ("founded", "president", "seat", "members"),
    "event": ("year", "place", "organiser"),
}

OCCUPATIONS = (
    "cartographer", "engineer", "poet", "shipwright", "astronomer", "physician", "architect", "glassblower",
    "composer", "botanist", "clockmaker", "surveyor", "printer", "magistrate", "weaver", "painter",
)  # fmt: skip
ORG_NOUNS = ("Guild", "Society", "Company", "Academy", "League", "Trust", "Institute", "Fellowship")
EVENT_NOUNS = ("Accord", "Uprising", "Fair", "Flood", "Council", "Schism", "Regatta", "Expedition")

INTROS: dict[str, tuple[str, ...]] = {
    "town": (
        "{name} is a town in the {region} lowlands.",
        "{name} is a small market town of the {region} country.",
        "The town of {name} stands in the {region} hills.",
    ),
    "river": (
        "The {name} is a river of the {region} plain.",
        "The {name} drains much of the {region} uplands.",
        "The {name} is one of the rivers of the {region} country.",
    ),
    "person": (
        "{name} was a well-known figure of {region} public life.",
        "{name} is remembered as one of the notable names of the {region} country.",
        "{name} lived and worked in the {region} country.",
    ),
    "organisation": (
        "The {name} is an association active throughout the {region} country.",
        "The {name} is one of the oldest bodies of its kind in the {region} country.",
        "The {name} is a society with members across the {region} lowlands.",
    ),
    "event": (
        "The {name} is an event long remembered in the {region} country.",
        "The {name} is often named in chronicles of the {region} country.",
        "The {name} is a well-documented episode of {region} history.",
    ),
}

SENTENCES: dict[tuple[str, str], tuple[str, ...]] = {
    ("town", "founded"): (
        "{name} was founded in {v}.",
        "The town dates from {v}, when its first charter was granted.",
        "Records show that the settlement was founded in {v}.",
    ),
    ("town", "population"): (
        "It has a population of {v}.",
        "At the last census {name} had {v} inhabitants.",
        "Some {v} people live there today.",
    ),
    ("town", "river"): (
        "It lies on the {v}.",
        "{name} was built on the banks of the {v}.",
        "The {v} flows through the centre of the town.",
    ),
    ("town", "founder"): (
        "Its founder was {v}.",
        "{name} was established by {v}.",
        "The first settlers were led by {v}, who is counted as the town's founder.",
    ),
    ("river", "length"): (
        "The {name} is {v} long.",
        "It runs for {v} before reaching the sea.",
        "Its course measures {v} from source to mouth.",
    ),
    ("river", "source"): (
        "It rises in {v}.",
        "The river has its source at {v}.",
        "From {v}, where it rises, it winds through open farmland.",
    ),
    ("person", "born"): (
        "{name} was born in {v}.",
        "Parish records give {v} as the year of {name}'s birth.",
        "The year of birth of {name} is recorded as {v}.",
    ),
    ("person", "birthplace"): (
        "{name} was a native of {v}.",
        "{v} was the birthplace of {name}.",
        "{name} came from {v}, the town of that family for generations.",
    ),
    ("person", "occupation"): (
        "{name} worked as {v}.",
        "By profession {name} was {v}.",
        "{name} made a living as {v}.",
    ),
    ("organisation", "founded"): (
        "The {name} was founded in {v}.",
        "It was established in {v}.",
        "The {name} traces its origins to {v}.",
    ),
    ("organisation", "president"): (
        "Its first president was {v}.",
        "{v} served as the first president of the {name}.",
        "The first to preside over the {name} was {v}.",
    ),
    ("organisation", "seat"): (
        "The {name} is based in {v}.",
        "Its seat is in {v}.",
        "The headquarters of the {name} stand in {v}.",
    ),
    ("organisation", "members"): (
        "It has {v} members.",
        "Membership stands at {v}.",
        "The {name} counts {v} members.",
    ),
    ("event", "year"): (
        "The {name} took place in {v}.",
        "It happened in {v}.",
        "The year {v} saw the {name}.",
    ),
    ("event", "place"): (
        "It was held in {v}.",
        "The {name} unfolded in {v}.",
        "{v} was the scene of the {name}.",
    ),
    ("event", "organiser"): (
        "It was organised by the {v}.",
        "The {v} organised the {name}.",
        "The {v} arranged the {name} from start to finish.",
    ),
}

FILLERS: dict[str, tuple[str, ...]] = {
    "town": (
        "Its market square is paved with grey slate.",
        "A covered bridge and two mills survive from its early years.",
        "The town is known for its autumn horse fair.",
        "Many of its houses are built of pale river stone.",
    ),
    "river": (
        "Its lower reaches are lined with willow and alder.",
        "Barges once carried timber along its banks.",
        "Several old fords cross it in the dry season.",
    ),
    "person": (
        "Letters and notebooks from that life survive in private collections.",
        "A street in the old quarter bears the family name.",
        "Contemporaries described a patient and exacting character.",
    ),
    "organisation": (
        "Its archive holds minutes of every meeting since the beginning.",
        "Members meet twice a year in a hall hung with old banners.",
        "It publishes a small yearbook for its members.",
    ),
    "event": (
        "Accounts of it differ in many details.",
        "A stone marker recalls it to this day.",
        "Songs about it are still sung at local festivals.",
    ),
}

CONFUSION = ("It is not to be confused with {other}.", "Not to be confused with {other}.")

#: Question phrasings per (kind, attribute); ``{x}`` is the subject.
QUESTIONS: dict[tuple[str, str], tuple[str, ...]] = {
    ("town", "founded"): ("In what year was {x} founded?", "When was {x} founded?"),
    ("town", "population"): ("What is the population of {x}?", "How many inhabitants does {x} have?"),
    ("town", "river"): ("On which river does {x} lie?", "Which river flows through {x}?"),
    ("town", "founder"): ("Who founded {x}?", "Who was the founder of {x}?"),
    ("river", "length"): ("How long is {x}?", "What is the length of {x}?"),
    ("river", "source"): ("In which lake does {x} rise?", "What is the source of {x}?"),
    ("person", "born"): ("In what year was {x} born?", "When was {x} born?"),
    ("person", "birthplace"): ("Where was {x} born?", "In which town was {x} born?"),
    ("person", "occupation"): ("What was the profession of {x}?", "What did {x} work as?"),
    ("organisation", "founded"): ("In what year was {x} founded?", "When was {x} established?"),
    ("organisation", "president"): ("Who was the first president of {x}?", "Who first presided over {x}?"),
    ("organisation", "seat"): ("Where is {x} based?", "In which town does {x} have its seat?"),
    ("organisation", "members"): ("How many members does {x} have?", "What is the membership of {x}?"),
    ("event", "year"): ("In what year did {x} take place?", "When did {x} happen?"),
    ("event", "place"): ("Where did {x} take place?", "In which town was {x} held?"),
    ("event", "organiser"): ("Who organised {x}?", "Which organisation organised {x}?"),
}

#: Descriptions of a referenced entity through its referrer ``{a}``: the bridge of a two-hop question.
REFERENCES: dict[tuple[str, str], tuple[str, ...]] = {
    ("town", "river"): ("the river on which {a} lies", "the river that flows through {a}"),
    ("town", "founder"): ("the founder of {a}", "the person who founded {a}"),
    ("person", "birthplace"): ("the birthplace of {a}", "the town where {a} was born"),
    ("organisation", "president"): ("the first president of {a}", "the person who first presided over {a}"),
    ("organisation", "seat"): ("the town where {a} is based", "the seat of {a}"),
    ("event", "place"): ("the town where {a} took place", "the town that hosted {a}"),
    ("event", "organiser"): ("the organisation that organised {a}", "the organiser of {a}"),
}

_ONSETS = ("b", "d", "f", "g", "h", "k", "l", "m", "n", "p", "r", "s", "t", "v", "z", "br", "dr", "gr", "kr",
           "th", "sk", "", "")  # fmt: skip
_VOWELS = ("a", "e", "i", "o", "u", "a", "e", "i", "o", "u", "ae", "ei", "ou", "y")
_CODAS = ("", "", "", "", "n", "r", "l", "s", "m", "th", "rn", "sk", "x")
_VOWEL_LETTERS = "aeiouy"
#: Hard to read or to copy: a letter twice in a row, three consonants or three vowels in a row.
_AWKWARD = re.compile(r"(.)\1|[^aeiouy]{3}|[aeiouy]{3}")

#: A few real names the syllables could spell; never used.
REAL_NAMES = frozenset(
    "paris rome oslo lima bern riga kiev baku doha nice bath york perth delhi milan turin genoa sofia "
    "tokyo kyoto osaka peru chad mali oman iran iraq cuba togo niger volga rhine seine thames nile congo "
    "indus danube elbe oder loire tiber ural don dee tay exe lhasa hanoi dakar rabat tunis cairo "
    "sana malta cork derry leeds hull kent essex durham tyne avon severn trent mersey lagos accra "
    "kabul tirana vaduz minsk berlin bonn ghent lyon rouen tours brest dover".split()
)


def invented_word(rng: random.Random, syllables: int) -> str:
    """A capitalised pronounceable word of ``syllables`` invented syllables (no awkward clusters)."""
    while True:
        word = "".join(
            rng.choice(_ONSETS) + rng.choice(_VOWELS) + rng.choice(_CODAS) for _ in range(syllables)
        )
        if not _AWKWARD.search(word):
            return word.capitalize()


def one_letter_variants(rng: random.Random, word: str) -> list[str]:
    """Every spelling of ``word`` with one vowel letter replaced by another, in a seeded order."""
    variants = []
    for i, ch in enumerate(word):
        if ch.lower() in _VOWEL_LETTERS:
            for new in _VOWEL_LETTERS.replace(ch.lower(), ""):
                variants.append(word[:i] + (new.upper() if ch.isupper() else new) + word[i + 1 :])
    rng.shuffle(variants)
    return [v for v in variants if not _AWKWARD.search(v.lower())]


class NameBook:
    """Invented names, each used once in a world, never one of :data:`REAL_NAMES`, 4 to 11 letters long."""

    def __init__(self, rng: random.Random) -> None:
        self.rng, self.used = rng, set(REAL_NAMES)

    def _take(self, word: str) -> bool:
        if word.lower() in self.used or not 4 <= len(word) <= 11:
            return False
        self.used.add(word.lower())
        return True

    def fresh(self, syllables: tuple[int, int] = (2, 3)) -> str:
        """A new word of a random number of syllables in ``syllables`` (inclusive)."""
        while True:
            word = invented_word(self.rng, self.rng.randint(*syllables))
            if self._take(word):
                return word

    def near(self, word: str) -> str | None:
        """A new word one vowel letter away from ``word``, or None when every such word is taken."""
        return next((v for v in one_letter_variants(self.rng, word) if self._take(v)), None)
