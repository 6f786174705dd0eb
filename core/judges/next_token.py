"""Reading a judge's next token: yes against no, or one word among several.

A local model's next-token distribution, or an OpenAI-compatible endpoint's ``top_logprobs``, is folded
into :class:`YesNo` (the yes/no judges' probability) or :class:`Choices` (the probability of each of a
closed set of answer words, for a judge that answers a question itself). Each word counts with and
without a leading space; the probabilities of its variants are summed, then normalised over the words.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "Choices",
    "YesNo",
    "choice_token_ids",
    "choices_from_masses",
    "choices_from_top_logprobs",
    "variant_ids",
    "yes_no_from_masses",
    "yes_no_from_top_logprobs",
    "yes_no_token_ids",
]


@dataclass
class YesNo:
    """``p_yes = P(yes) / (P(yes) + P(no))`` for the next token; ``mass`` = P(yes) + P(no)."""

    p_yes: float | None
    error: str | None = None
    mass: float | None = None

    @property
    def ok(self) -> bool:
        """True when a probability was read."""
        return self.error is None and self.p_yes is not None


@dataclass
class Choices:
    """The next token's probability of each word, normalised over the words; ``mass`` is their total
    before normalising (how much of the distribution the words hold)."""

    probs: dict[str, float] | None
    error: str | None = None
    mass: float | None = None

    @property
    def ok(self) -> bool:
        """True when the probabilities were read."""
        return self.error is None and self.probs is not None


def yes_no_from_masses(p_yes: float, p_no: float) -> YesNo:
    """:class:`YesNo` from the summed probabilities of the yes and the no tokens."""
    mass = p_yes + p_no
    if not mass > 0.0:
        return YesNo(None, "no_yes_no_mass: neither yes nor no has probability mass", mass=0.0)
    return YesNo(p_yes / mass, mass=mass)


def choices_from_masses(masses: dict[str, float]) -> Choices:
    """:class:`Choices` from each word's summed token probability."""
    mass = sum(masses.values())
    if not mass > 0.0:
        return Choices(None, f"no_choice_mass: none of {sorted(masses)} has probability mass", mass=0.0)
    return Choices({w: m / mass for w, m in masses.items()}, mass=mass)


def _top_masses(top: Sequence[dict[str, Any]], groups: dict[str, set[str]]) -> dict[str, float]:
    masses = dict.fromkeys(groups, 0.0)
    for entry in top:
        token = str(entry.get("token", "")).strip()
        prob = math.exp(float(entry.get("logprob", -math.inf)))
        for name, tokens in groups.items():
            if token in tokens:
                masses[name] += prob
                break
    return masses


def yes_no_from_top_logprobs(top: Sequence[dict[str, Any]], yes: Sequence[str], no: Sequence[str]) -> YesNo:
    """Fold an OpenAI ``top_logprobs`` list into :class:`YesNo`.

    Tokens are compared after stripping whitespace (``" Yes"`` counts as ``"Yes"``); the
    probabilities of all matching variants are summed.
    """
    m = _top_masses(top, {"yes": set(yes), "no": set(no)})
    if m["yes"] == 0.0 and m["no"] == 0.0:
        seen = [str(e.get("token")) for e in top[:5]]
        return YesNo(None, f"no_yes_no_tokens: none of {sorted(set(yes) | set(no))} in top tokens {seen}")
    return yes_no_from_masses(m["yes"], m["no"])


def choices_from_top_logprobs(top: Sequence[dict[str, Any]], words: Sequence[str]) -> Choices:
    """Fold an OpenAI ``top_logprobs`` list into :class:`Choices` over ``words`` (whitespace stripped,
    as :func:`yes_no_from_top_logprobs`). A word outside the top list gets probability 0."""
    m = _top_masses(top, {w: {w} for w in words})
    if not any(m.values()):
        seen = [str(e.get("token")) for e in top[:5]]
        return Choices(None, f"no_choice_tokens: none of {sorted(words)} in top tokens {seen}")
    return choices_from_masses(m)


def variant_ids(tok: Any, words: Sequence[str]) -> list[int]:
    """Ids of the words, with and without a leading space, that are one token each.

    When no variant is a single token (small vocabularies), the first token of each is used.
    """
    single: set[int] = set()
    first: set[int] = set()
    for word in words:
        for variant in (word, " " + word):
            ids = tok.encode(variant, add_special_tokens=False)
            if len(ids) == 1:
                single.add(ids[0])
            elif ids:
                first.add(ids[0])
    return sorted(single or first)


def yes_no_token_ids(tok: Any, yes: Sequence[str], no: Sequence[str]) -> tuple[list[int], list[int]]:
    """The next-token ids read as "yes" and as "no" (what the yes/no mode compares, and what a yes/no
    trainer fits).

    Raises:
        ValueError: no distinct ids for one of the two.
    """
    yes_ids, no_ids = choice_token_ids(tok, [yes, no], names=["yes", "no"])
    return yes_ids, no_ids


def choice_token_ids(
    tok: Any, groups: Sequence[Sequence[str]], *, names: Sequence[str] | None = None
) -> list[list[int]]:
    """The next-token ids of each group of words (:func:`variant_ids`), without the ids two groups share:
    a first-token fallback can share pieces (a bare leading space), and a shared id says nothing.

    Raises:
        ValueError: a group left with no id of its own.
    """
    ids = [variant_ids(tok, g) for g in groups]
    counts: dict[int, int] = {}
    for group in ids:
        for i in group:
            counts[i] = counts.get(i, 0) + 1
    ids = [[i for i in group if counts[i] == 1] for group in ids]
    empty = [list(g) for g, own in zip(groups, ids, strict=True) if not own]
    if empty:
        what = " / ".join(f"{n} {list(g)}" for n, g in zip(names or [""] * len(groups), groups, strict=True))
        raise ValueError(f"no distinct token ids for {what.strip()}")
    return ids
