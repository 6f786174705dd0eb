"""AMBER (Wang et al., 2023): generative object-hallucination metrics and discriminative yes/no accuracy.

Generative queries ("Describe this image.") are scored over AMBER's object vocabulary: the union of
every generative annotation's ``truth`` and ``hallu`` words, matched by an :class:`ObjectVocab` whose
categories are those words with no synonyms (plurals and COCO's compound rules still apply, so "hot dog"
is not a dog). Per response, objects are counted once:

* ``chair``: hallucinated objects (mentioned, not in ``truth``) / mentioned objects, summed over responses;
* ``cover``: mentioned ``truth`` objects / ``truth`` objects;
* ``hal``: fraction of responses with at least one hallucinated object;
* ``cog``: mentioned objects in the annotation's ``hallu`` list (the likely, human-like hallucinations)
  / mentioned objects.

AMBER's reference script also lemmatises with spaCy and forgives "safe" words and associations; this
implementation uses the vocabulary rules instead, so numbers are close to, not identical with, published
ones. Discriminative rows are scored like POPE with AMBER's convention that **"no" is the positive
class** for precision, recall and F1. Everything is a fraction in [0, 1].
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Literal

from polyrlaif.evaluation.hallucination.loaders import AmberAnnotation
from polyrlaif.evaluation.hallucination.pope import PopeMetrics, binary_metrics, parse_yes_no
from polyrlaif.evaluation.hallucination.vocab import ObjectVocab, tokenize

__all__ = ["AmberGenerative", "AmberResult", "AmberRow", "amber_scores", "amber_vocab"]


@dataclass(frozen=True)
class AmberRow:
    """One scored generative response (object names sorted); ``cog``: the mentioned objects that are in
    the annotation's ``hallu`` list."""

    id: Hashable
    response: str
    mentioned: tuple[str, ...]
    hallucinated: tuple[str, ...]
    covered: tuple[str, ...]
    truth: tuple[str, ...]
    cog: tuple[str, ...] = ()


@dataclass(frozen=True)
class AmberGenerative:
    """Generative metrics with their counts and rows."""

    chair: float
    cover: float
    hal: float
    cog: float
    n: int
    rows: tuple[AmberRow, ...]


@dataclass(frozen=True)
class AmberResult:
    """AMBER metrics; a part is ``None`` when no response of that kind was given."""

    generative: AmberGenerative | None
    discriminative: PopeMetrics | None
    discriminative_by_type: dict[str, PopeMetrics]

    def metrics(self) -> dict[str, float]:
        """Flat headline numbers: chair/cover/hal/cog, acc/precision/recall/f1, and the AMBER score
        ``(1 - chair + f1) / 2`` when both parts are present."""
        out: dict[str, float] = {}
        g, d = self.generative, self.discriminative
        if g is not None:
            out.update(chair=g.chair, cover=g.cover, hal=g.hal, cog=g.cog)
        if d is not None:
            out.update(acc=d.accuracy, precision=d.precision, recall=d.recall, f1=d.f1)
        if g is not None and d is not None:
            out["amber_score"] = (1.0 - g.chair + d.f1) / 2
        return out

    def to_dict(self) -> dict:
        """Everything, JSON-ready."""
        return {
            "generative": asdict(self.generative) if self.generative else None,
            "discriminative": self.discriminative.to_dict() if self.discriminative else None,
            "discriminative_by_type": {k: v.to_dict() for k, v in self.discriminative_by_type.items()},
            "metrics": self.metrics(),
        }


def _canon(word: str) -> str:
    """A word as the vocabulary spells it: its tokens joined by spaces ("T-shirt" -> "t shirt")."""
    canon = " ".join(tokenize(word))
    if not canon:
        raise ValueError(f"AMBER object word {word!r} has no letters or digits")
    return canon


def amber_vocab(annotations: Iterable[AmberAnnotation]) -> ObjectVocab:
    """The object vocabulary of AMBER's generative annotations: every ``truth`` and ``hallu`` word,
    each its own category with no synonyms."""
    words: dict[str, None] = {}
    for ann in annotations:
        if ann.generative:
            for w in (*ann.truth, *ann.hallu):
                words[_canon(w)] = None
    return ObjectVocab.from_categories([{"id": i, "name": w, "synonyms": []} for i, w in enumerate(words)])


def _generative(items: list[tuple[Hashable, str, AmberAnnotation]], vocab: ObjectVocab) -> AmberGenerative:
    rows = []
    n_mentioned = n_hallucinated = n_truth = n_covered = n_cog = n_with_hallucination = 0
    for rid, response, ann in items:
        truth = {_canon(w) for w in ann.truth}
        hallu = {_canon(w) for w in ann.hallu}
        mentioned = vocab.objects(response)
        hallucinated = mentioned - truth
        covered, cog = mentioned & truth, mentioned & hallu
        n_mentioned += len(mentioned)
        n_hallucinated += len(hallucinated)
        n_truth += len(truth)
        n_covered += len(covered)
        n_cog += len(cog)
        n_with_hallucination += bool(hallucinated)
        rows.append(
            AmberRow(
                rid, response, *(tuple(sorted(s)) for s in (mentioned, hallucinated, covered, truth, cog))
            )
        )
    return AmberGenerative(
        chair=n_hallucinated / n_mentioned if n_mentioned else 0.0,
        cover=n_covered / n_truth if n_truth else 0.0,
        hal=n_with_hallucination / len(rows),
        cog=n_cog / n_mentioned if n_mentioned else 0.0,
        n=len(rows),
        rows=tuple(rows),
    )


def _discriminative(items: list[tuple[str, str]], unparsed_as: str) -> PopeMetrics:
    labels, preds, unparsed = [], [], 0
    for truth, response in items:
        parsed = parse_yes_no(response)
        if parsed is None:
            unparsed += 1
            parsed = unparsed_as
        labels.append(truth)
        preds.append(parsed)
    return binary_metrics(labels, preds, positive="no", unparsed=unparsed)


def amber_scores(
    responses: Mapping[Hashable, str],
    annotations: Mapping[Hashable, AmberAnnotation],
    vocab: ObjectVocab | None = None,
    unparsed_as: Literal["yes", "no"] = "yes",
) -> AmberResult:
    """Score AMBER responses.

    Args:
        responses: query id -> the model's response (generative or discriminative queries, or both).
        annotations: id -> annotation, as read by
            :func:`~polyrlaif.evaluation.hallucination.loaders.load_amber_annotations`.
        vocab: the object matcher; by default :func:`amber_vocab` over all ``annotations``.
        unparsed_as: what a discriminative response without a yes/no word counts as. "yes" by default:
            AMBER's script counts only an explicit "No" as a no, so with "no" positive a non-answer can
            never score as a detected hallucination.

    Raises:
        ValueError: if ``responses`` is empty or names an id with no annotation (the id is named).
    """
    if not responses:
        raise ValueError("AMBER needs at least one response")
    if unparsed_as not in ("yes", "no"):
        raise ValueError(f"unparsed_as must be 'yes' or 'no', got {unparsed_as!r}")
    generative: list[tuple[Hashable, str, AmberAnnotation]] = []
    by_type: dict[str, list[tuple[str, str]]] = {}
    for rid, response in responses.items():
        ann = annotations.get(rid)
        if ann is None:
            raise ValueError(f"response for AMBER id {rid!r}, which has no annotation")
        if ann.generative:
            generative.append((rid, response, ann))
        else:
            by_type.setdefault(ann.type, []).append((str(ann.truth), response))
    gen = None
    if generative:
        gen = _generative(generative, vocab or amber_vocab(annotations.values()))
    all_disc = [item for items in by_type.values() for item in items]
    return AmberResult(
        generative=gen,
        discriminative=_discriminative(all_disc, unparsed_as) if all_disc else None,
        discriminative_by_type={t: _discriminative(items, unparsed_as) for t, items in by_type.items()},
    )
