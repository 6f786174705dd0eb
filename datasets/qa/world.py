"""A generated encyclopedia for search agents: an invented world, its documents and questions about it.

:mod:`~polyrlaif.datasets.qa.fictional` holds 45 hand-written questions, too few for a held-out set
whose EM/F1 intervals can tell two policies apart. :func:`build_world` invents, from a seed, a world
of towns, rivers, people, organisations and events with attributes:

============  ===========================================================================================
kind          attributes (a reference names another entity)
============  ===========================================================================================
town          founded (year), population, river (a river), founder (a person)
river         length (km), source (a lake)
person        born (year), birthplace (a town), occupation
organisation  founded (year), president (its first, a person), seat (a town), members
event         year, place (a town), organiser (an organisation)
============  ===========================================================================================

Names are made of invented syllables (never a real place). Each entity is one short document (title
= its name) written from varied templates: an introduction, then its attribute sentences and a filler
or two in a seeded order, so answers sit at no fixed position. A share of the entities
(``distractor_rate``) gets a near-name twin: same kind, a name one letter apart (Orvask / Orvesk,
Idra Calloway / Idra Callowey), and a different value for every attribute.

Questions are single-hop (one supporting document: the entity's own) or two-hop (the first document
names the entity the second answers about: "In what year was the founder of Orvask born?"). Answers
are short (names, years, numbers); the first is canonical and appears verbatim in the last
supporting document, and the others are aliases: the surname, the river or lake without "River" /
"Lake", the number without its unit, or without thousands separators ("1,204" / "1204"). A two-hop
answer never appears in the first document, and no fact (entity, attribute) is asked twice, so a
held-out question is never a rephrased training question.

:func:`write_world` writes ``corpus.jsonl`` (``{id, title, text}``), ``questions.jsonl`` (``{id,
question, answers, supporting_ids}``, the schema of the fictional questions, which
:func:`~polyrlaif.datasets.qa.loaders.load_qa` reads as format ``fictional`` or auto-detects),
``entities.jsonl`` (the ground truth) and ``world.json`` (the config and the counts), each atomically.
The same config always gives byte-identical files; the corpus does not depend on the question counts.

Example::

    from polyrlaif.datasets.qa.loaders import load_qa
    from polyrlaif.datasets.qa.world import QAWorldConfig, write_world

    files = write_world("runs/world", QAWorldConfig(seed=1))
    two_hop = [q for q in load_qa(files.questions) if q.hops == 2]
"""

from __future__ import annotations

import os
import random
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from polyrlaif.core.io import atomic_write_json, atomic_write_jsonl
from polyrlaif.datasets.qa import world_text as tx
from polyrlaif.datasets.qa.world_entities import REFERENCE_KINDS, draft_entities

__all__ = [
    "WORLD_FORMAT",
    "Entity",
    "QAWorld",
    "QAWorldConfig",
    "WorldFiles",
    "WorldQuestion",
    "build_world",
    "write_world",
]

WORLD_FORMAT = 1
"""Version of the generator; part of the preparation stage's settings, bumped when outputs change."""

_COUNTS = ("towns", "rivers", "people", "organisations", "events")
_KIND_OF = dict(zip(_COUNTS, tx.KINDS, strict=True))


@dataclass
class QAWorldConfig:
    """Everything a generated world depends on; the same values always give the same files.

    The defaults give about 300 documents and 600 questions (360 single-hop, 240 two-hop), of which
    about 180 fall in a 30% held-out split, in well under a second.

    Attributes:
        seed: the world's seed.
        towns, rivers, people, organisations, events: entities of each kind, before distractors.
        distractor_rate: share of each kind's entities given a near-name twin (in [0, 1]).
        single_hop: single-hop questions.
        two_hop: two-hop questions.
    """

    seed: int = 0
    towns: int = 70
    rivers: int = 18
    people: int = 90
    organisations: int = 30
    events: int = 30
    distractor_rate: float = 0.25
    single_hop: int = 360
    two_hop: int = 240

    def __post_init__(self) -> None:
        for name in _COUNTS:
            if getattr(self, name) < 1:
                raise ValueError(f"world.{name} must be at least 1, got {getattr(self, name)}")
        if not 0 <= self.distractor_rate <= 1:
            raise ValueError(f"world.distractor_rate must be in [0, 1], got {self.distractor_rate}")
        if self.single_hop < 0 or self.two_hop < 0 or self.single_hop + self.two_hop < 1:
            raise ValueError(
                f"world.single_hop and world.two_hop must be >= 0 with at least one question, got "
                f"{self.single_hop} and {self.two_hop}"
            )


@dataclass(frozen=True)
class Entity:
    """One entity of the world and its document.

    Attributes:
        id: the document id (``gw-0001``).
        kind: one of ``town``, ``river``, ``person``, ``organisation``, ``event``.
        name: the document title (``Orvask``, ``River Sallow``, ``Idra Calloway``, ``Kethran Guild``).
        attrs: attribute -> value: an int (years, counts, km), a string, or an entity id (references).
        twin_of: for a distractor, the id of the entity whose name it nearly shares.
    """

    id: str
    kind: str
    name: str
    attrs: dict[str, Any] = field(hash=False)
    twin_of: str | None = None


@dataclass(frozen=True)
class WorldQuestion:
    """A question with what it asks: ``entity``'s ``attribute`` (the entity of the last supporting doc)."""

    id: str
    question: str
    answers: tuple[str, ...]
    supporting_ids: tuple[str, ...]
    entity: str
    attribute: str

    @property
    def hops(self) -> int:
        """How many documents the answer needs."""
        return len(self.supporting_ids)

    def row(self) -> dict[str, Any]:
        """The question as a ``questions.jsonl`` row."""
        return {
            "id": self.id,
            "question": self.question,
            "answers": list(self.answers),
            "supporting_ids": list(self.supporting_ids),
        }


@dataclass(frozen=True)
class QAWorld:
    """A generated world: its entities, their documents (``{id, title, text}``, by id), its questions."""

    config: QAWorldConfig
    entities: dict[str, Entity]
    documents: list[dict[str, str]]
    questions: list[WorldQuestion]


@dataclass(frozen=True)
class WorldFiles:
    """Where :func:`write_world` put the world, and what it holds (``counts``: entities per kind,
    ``documents``, ``distractors``, ``single_hop``, ``two_hop``)."""

    corpus: Path
    questions: Path
    entities: Path
    manifest: Path
    counts: dict[str, int] = field(hash=False)


# ---------------------------------------------------------------- documents and questions


def _subject(e: Entity) -> str:
    """How a sentence or a question names ``e``: with "the" for rivers, organisations and events."""
    return e.name if e.kind in ("town", "person") else f"the {e.name}"


def _value(world: dict[str, Entity], e: Entity, attr: str) -> tuple[str, list[str]]:
    """``e.attr`` as a document writes it, and the answers to a question about it (canonical first)."""
    v = e.attrs[attr]
    if attr in REFERENCE_KINDS:
        ref = world[v]
        short = ref.name.removeprefix("River ").split(" ")[-1] if ref.kind in ("river", "person") else None
        return ref.name, [ref.name] + ([short] if short else [])
    if attr in ("population", "members"):
        return f"{v:,}", list(dict.fromkeys([f"{v:,}", str(v)]))
    if attr == "length":
        return f"{v} km", [f"{v} km", str(v)]
    if attr == "source":
        return f"Lake {v}", [f"Lake {v}", v]
    if attr == "occupation":
        return ("an " if v[0] in "aeiou" else "a ") + v, [v]
    return str(v), [str(v)]


def _document(rng: random.Random, world: dict[str, Entity], e: Entity, region: str) -> str:
    name = e.name
    body = [
        rng.choice(tx.SENTENCES[e.kind, a]).format(name=name, v=_value(world, e, a)[0])
        for a in tx.ATTRIBUTES[e.kind]
    ]
    body += rng.sample(tx.FILLERS[e.kind], rng.randint(0, 2))
    rng.shuffle(body)
    if e.twin_of is not None and rng.random() < 0.5:
        body.append(rng.choice(tx.CONFUSION).format(other=_subject(world[e.twin_of])))
    intro = rng.choice(tx.INTROS[e.kind]).format(name=name, region=region)
    return " ".join([intro, *body])


def _questions(cfg: QAWorldConfig, world: dict[str, Entity], text: dict[str, str]) -> list[WorldQuestion]:
    """Two-hop questions first (their facts are the scarcer), then single-hop ones from unused facts.

    Raises:
        ValueError: the world has too few usable facts for the counts asked.
    """
    rng = random.Random(f"{cfg.seed}:questions")
    used: set[tuple[str, str]] = set()
    bridges = [  # (first entity, its reference attribute, the attribute asked of the entity it names)
        (a, r, attr)
        for a in world.values()
        for r in tx.ATTRIBUTES[a.kind]
        if (a.kind, r) in tx.REFERENCES
        for attr in tx.ATTRIBUTES[world[a.attrs[r]].kind]
    ]
    rng.shuffle(bridges)
    two_hop: list[WorldQuestion] = []
    for a, r, attr in bridges:
        if len(two_hop) == cfg.two_hop:
            break
        b = world[a.attrs[r]]
        answers = _value(world, b, attr)[1]
        if (b.id, attr) in used or answers[0] in text[a.id]:
            continue  # the answer must need the second document
        used.add((b.id, attr))
        x = rng.choice(tx.REFERENCES[a.kind, r]).format(a=_subject(a))
        question = rng.choice(tx.QUESTIONS[b.kind, attr]).format(x=x)
        two_hop.append(
            WorldQuestion(f"gq-t{len(two_hop) + 1:04d}", question, tuple(answers), (a.id, b.id), b.id, attr)
        )
    facts = [(e, attr) for e in world.values() for attr in tx.ATTRIBUTES[e.kind] if (e.id, attr) not in used]
    rng.shuffle(facts)
    single = [
        WorldQuestion(
            f"gq-s{i:04d}",
            rng.choice(tx.QUESTIONS[e.kind, attr]).format(x=_subject(e)),
            tuple(_value(world, e, attr)[1]),
            (e.id,),
            e.id,
            attr,
        )
        for i, (e, attr) in enumerate(facts[: cfg.single_hop], 1)
    ]
    if len(two_hop) < cfg.two_hop or len(single) < cfg.single_hop:
        raise ValueError(
            f"the world has room for {len(two_hop)} two-hop and {len(single)} single-hop questions, fewer "
            f"than the {cfg.two_hop} and {cfg.single_hop} asked; add entities or ask fewer questions"
        )
    return single + two_hop


def build_world(config: QAWorldConfig | None = None) -> QAWorld:
    """Generate the world ``config`` describes (default: :class:`QAWorldConfig`'s defaults), in memory.

    Raises:
        ValueError: the config asks for more questions than its entities can support.
    """
    cfg = config or QAWorldConfig()
    counts = {kind: getattr(cfg, plural) for plural, kind in _KIND_OF.items()}
    drafts, regions = draft_entities(cfg.seed, counts, cfg.distractor_rate)
    ids = [
        f"gw-{n:04d}" for n in random.Random(f"{cfg.seed}:ids").sample(range(1, len(drafts) + 1), len(drafts))
    ]
    world: dict[str, Entity] = {}
    for i, d in sorted(enumerate(drafts), key=lambda p: ids[p[0]]):
        attrs = {k: ids[v] if k in REFERENCE_KINDS else v for k, v in d.attrs.items()}
        world[ids[i]] = Entity(
            ids[i], d.kind, d.name, attrs, ids[d.twin_of] if d.twin_of is not None else None
        )
    for e in world.values():  # a distractor is only one if every attribute it could be asked about differs
        same = [a for a in e.attrs if e.twin_of is not None and e.attrs[a] == world[e.twin_of].attrs[a]]
        if same:
            raise ValueError(
                f"distractor {e.name!r} shares {same} with {world[e.twin_of].name!r}; add entities"
            )
    rng = random.Random(f"{cfg.seed}:documents")
    text = {e.id: _document(rng, world, e, rng.choice(regions)) for e in world.values()}
    documents = [{"id": e.id, "title": e.name, "text": text[e.id]} for e in world.values()]
    return QAWorld(cfg, world, documents, _questions(cfg, world, text))


def write_world(out_dir: str | os.PathLike, config: QAWorldConfig | None = None) -> WorldFiles:
    """Generate the world and write its files into ``out_dir`` (created if missing), each atomically.

    Raises:
        ValueError: as :func:`build_world`.
    """
    world = build_world(config)
    entities = list(world.entities.values())
    counts = {k: sum(e.kind == kind for e in entities) for k, kind in _KIND_OF.items()}
    counts |= {
        "documents": len(world.documents),
        "distractors": sum(e.twin_of is not None for e in entities),
        "single_hop": world.config.single_hop,
        "two_hop": world.config.two_hop,
    }
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    files = WorldFiles(
        out / "corpus.jsonl", out / "questions.jsonl", out / "entities.jsonl", out / "world.json", counts
    )
    atomic_write_jsonl(files.corpus, world.documents)
    atomic_write_jsonl(files.questions, [q.row() for q in world.questions])
    atomic_write_jsonl(files.entities, [asdict(e) for e in entities])
    manifest = {"format": WORLD_FORMAT, "config": asdict(world.config), "counts": counts}
    atomic_write_json(files.manifest, manifest)
    return files
