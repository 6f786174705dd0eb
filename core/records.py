"""Records that flow through a run, each carrying its lineage.

A :class:`PromptRecord` is sampled into :class:`Candidate` s, which verifiers and judges turn into
:class:`Judgment` s, from which the pair builder makes :class:`PreferencePair` s. Every record is a
plain dataclass that round-trips through JSON (``to_dict`` / ``from_dict``), so each stage can be
written to disk, inspected and replayed.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar

from polyrlaif.core.io import InputError

__all__ = ["MediaRef", "PromptRecord", "Candidate", "Judgment", "PreferencePair", "Record"]

T = TypeVar("T", bound="Record")


class Record:
    """Mixin: JSON round-trip with errors that name the missing or mistyped field."""

    _required: ClassVar[tuple[str, ...]] = ()

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form of the record."""
        return dataclasses.asdict(self)  # type: ignore[arg-type]

    @classmethod
    def from_dict(cls: type[T], row: dict[str, Any], where: str = "") -> T:
        """Build a record from a dict, ignoring unknown keys.

        Args:
            row: the parsed JSON object.
            where: ``file:line`` prefix for error messages.

        Raises:
            InputError: naming the first missing required field.
        """
        prefix = f"{where}: " if where else ""
        missing = [f for f in cls._required if f not in row]
        if missing:
            raise InputError(f"{prefix}{cls.__name__} is missing field(s) {', '.join(map(repr, missing))}")
        names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
        kwargs = {k: v for k, v in row.items() if k in names}
        for key in ("media", "chosen_media", "rejected_media"):
            if key in kwargs:
                kwargs[key] = [MediaRef(**m) if isinstance(m, dict) else m for m in kwargs[key]]
        return cls(**kwargs)


@dataclass
class MediaRef(Record):
    """A reference to an image, video or audio file: what a prompt is about, or what a policy produced.

    ``sha256`` is the file's content hash; media a policy produced always carries it
    (:func:`polyrlaif.core.media.write_media`), so judges' cache keys and pairs' lineage name the exact
    bytes, not just a path.
    """

    kind: str  # "image" | "video" | "audio"
    uri: str
    sha256: str | None = None


@dataclass
class PromptRecord(Record):
    """One prompt: text (or chat messages) plus references to media and task metadata.

    ``meta`` carries what the domain needs to verify or judge (for code: tests and entry point).
    """

    _required: ClassVar[tuple[str, ...]] = ("prompt_id", "text")

    prompt_id: str
    text: str
    messages: list[dict[str, str]] | None = None
    media: list[MediaRef] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass
class Candidate(Record):
    """One sampled response, with the policy and decoding settings that produced it.

    A policy that produces media (an image, a waveform) leaves ``text`` empty (or a caption) and lists
    what it produced in ``media``, each with its content hash; ``sampling`` then holds everything needed
    to produce it again (scheduler, steps, guidance, the candidate's own seed).
    """

    _required: ClassVar[tuple[str, ...]] = ("candidate_id", "prompt_id", "text")

    candidate_id: str
    prompt_id: str
    text: str
    policy: str = ""
    round: int = 0
    sampling: dict[str, Any] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)
    media: list[MediaRef] = field(default_factory=list)  # what a media-producing policy made


@dataclass
class Judgment(Record):
    """A verdict on one candidate (or on a pair, for pairwise judges).

    A judge that could not decide leaves ``score`` as ``None`` and says why in ``failure``.

    Attributes:
        judge_id: stable name of the judge, its backend model and its template version.
        kind: ``verifier``, ``pointwise``, ``pairwise``, ``yesno`` or ``reward``.
        score: the scalar the pair builder reads, or ``None`` on failure.
        scores: per-criterion scores (rubrics) or per-check results.
        rationale: the judge's own words, when it gave any.
        judge_prompt_hash: SHA-256 of the exact prompt the judge saw; the cache key.
        context: what the domain showed the judge (test results, a reference, a description).
        cached: True when replayed from the cache without a model call.
    """

    _required: ClassVar[tuple[str, ...]] = ("candidate_id", "judge_id", "kind")

    candidate_id: str
    judge_id: str
    kind: str
    prompt_id: str = ""
    score: float | None = None
    scores: dict[str, Any] = field(default_factory=dict)
    rationale: str = ""
    judge_prompt_hash: str = ""
    context: dict[str, Any] = field(default_factory=dict)
    failure: str | None = None
    cached: bool = False
    other_candidate_id: str | None = None  # pairwise judgments only

    @property
    def ok(self) -> bool:
        """True when the judge reached a verdict."""
        return self.failure is None and self.score is not None


@dataclass
class PreferencePair(Record):
    """A chosen/rejected pair for preference optimisation, with where it came from.

    ``provenance`` holds the candidate ids, their scores, the judges involved and the round, so a
    pair can be traced back to the exact judgments that made it. ``media`` is the prompt's media (the
    image a caption is about); ``chosen_media``/``rejected_media`` are the candidates' own outputs when
    the policy produces media (the images of a text-to-image pair), in which case ``chosen`` and
    ``rejected`` may be empty.
    """

    _required: ClassVar[tuple[str, ...]] = ("pair_id", "prompt_id", "prompt", "chosen", "rejected")

    pair_id: str
    prompt_id: str
    prompt: list[dict[str, str]] | str
    chosen: str
    rejected: str
    margin: float = 0.0
    chosen_id: str = ""
    rejected_id: str = ""
    provenance: dict[str, Any] = field(default_factory=dict)
    media: list[MediaRef] = field(default_factory=list)  # the prompt's images, for vision-language DPO
    chosen_media: list[MediaRef] = field(default_factory=list)  # the chosen candidate's own media
    rejected_media: list[MediaRef] = field(default_factory=list)
