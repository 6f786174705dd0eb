"""Pairs the feedback cannot stand behind, found and dropped before training (issue 22).

* **Repeated ranking** ("Are You Sure? Rank Them Again"): with ``pairs.repeats: k`` every judge judges
  each candidate ``k - 1`` more times (:class:`RepeatedJudge`: its cache off, its judgments stored in the
  round's ``judgments.jsonl`` under ``<judge id>#r<i>``, so a rerun replays them), each repeat gives every
  candidate a score through the domain's own score function, and a pair is kept only when every repeat
  ranks its chosen above its rejected.
* **Screening** (``pairs.screen``; Best-of-Venom's poisoned pairs are the threat): ``verifiers`` flags a
  pair whose rejected candidate a verifier scores above its chosen one (the verifiers know better than
  the judge where they apply); ``repeats`` is the repeated ranking above; ``injection`` flags a pair
  whose chosen response addresses the grader (:func:`polyrlaif.core.judges.guard.addresses_grader`).

Dropped pairs go to the round's ``screened.jsonl``, each with its reasons, and are counted in the round's
stats (``screen/<reason>``), never silently.
"""

from __future__ import annotations

import dataclasses
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

from polyrlaif.core.judges.guard import addresses_grader
from polyrlaif.core.records import Candidate, Judgment, PreferencePair, PromptRecord

__all__ = [
    "SCREENS",
    "RepeatedJudge",
    "length_adjusted",
    "repeat_scores",
    "screen_pairs",
    "verifier_agreement",
]

#: The screens ``pairs.screen`` may name.
SCREENS = ("verifiers", "repeats", "injection")


class RepeatedJudge:
    """``judge`` asked again, with its cache off: the ``index``-th repeat, under its own judge id.

    Args:
        judge: a :class:`~polyrlaif.core.protocols.Judge`.
        index: the repeat's number (1 for the first repeat).
    """

    def __init__(self, judge: Any, index: int) -> None:
        self.inner, self.index = judge, index
        self.base_id = judge.judge_id
        self.judge_id = f"{judge.judge_id}#r{index}"
        self.required = False  # a repeat that fails leaves its pairs out of the check, not the round

    def judge(
        self,
        prompts: Mapping[str, PromptRecord],
        candidates: Sequence[Candidate],
        contexts: Sequence[dict[str, Any]] | None = None,
    ) -> list[Judgment]:
        """The inner judge's judgments, asked afresh, relabelled with this repeat's id."""
        cache = getattr(self.inner, "cache", None)
        try:
            if cache is not None:
                self.inner.cache = None
            got = self.inner.judge(prompts, candidates, contexts)
        finally:
            if cache is not None:
                self.inner.cache = cache
        return [dataclasses.replace(j, judge_id=self.judge_id) for j in got]


def repeat_scores(
    feedback: Any,
    by_id: Mapping[str, PromptRecord],
    cands: Sequence[Candidate],
    verdicts: Mapping[str, Sequence[Judgment]],
    repeated: Mapping[str, Sequence[Judgment]],
    repeats: int,
    length_adjust: bool = False,
) -> list[dict[str, float | None]]:
    """Each repeat's score of every candidate: the domain's score function on the candidate's
    judgments with each judge's own judgment swapped for that repeat's (``repeated``: judgments by
    candidate id, judge ids ``<id>#r<i>``). A candidate a repeat could not judge scores ``None`` there.
    ``length_adjust``: each repeat's scores adjusted for length as the pairs' were
    (:func:`length_adjusted`), so a repeat ranks pairs on the scale they were made on."""
    judge_ids = {j.judge_id for j in feedback.judges}
    out: list[dict[str, float | None]] = []
    for r in range(1, repeats):
        tag = f"#r{r}"
        scores: dict[str, float | None] = {}
        for c in cands:
            again = [j for j in repeated.get(c.candidate_id, ()) if j.judge_id.endswith(tag)]
            if len(again) < len(judge_ids) or any(j.score is None for j in again):
                scores[c.candidate_id] = None
                continue
            kept = [j for j in verdicts.get(c.candidate_id, ()) if j.judge_id not in judge_ids]
            swapped = [dataclasses.replace(j, judge_id=j.judge_id.removesuffix(tag)) for j in again]
            scores[c.candidate_id] = feedback.score(by_id[c.prompt_id], c, [*kept, *swapped])
        out.append(length_adjusted(cands, scores)[0] if length_adjust else scores)
    return out


def _verifier_gaps(pair: PreferencePair, verdicts: Mapping[str, Sequence[Judgment]]) -> list[float]:
    """Chosen minus rejected, for each verifier that scored both candidates differently."""

    def by_name(cid: str) -> dict[str, float]:
        return {
            j.judge_id: j.score for j in verdicts.get(cid, ()) if j.kind == "verifier" and j.score is not None
        }

    chosen, rejected = by_name(pair.chosen_id), by_name(pair.rejected_id)
    return [
        chosen[n] - rejected[n] for n in sorted(chosen.keys() & rejected.keys()) if chosen[n] != rejected[n]
    ]


def _verifier_contradicts(pair: PreferencePair, verdicts: Mapping[str, Sequence[Judgment]]) -> bool:
    return any(gap < 0 for gap in _verifier_gaps(pair, verdicts))


def verifier_agreement(
    pairs: Sequence[PreferencePair], verdicts: Mapping[str, Sequence[Judgment]]
) -> dict[str, float]:
    """How far a round's pairs agree with its verifiers, where they can tell (issue 22's agreement with
    the ground truth, pair by pair): ``pairs_verifiers_differ``, the pairs whose two candidates some
    verifier scores differently, and ``pairs_verifier_agreement``, the share of those every such verifier
    scores the chosen one higher (absent when no pair qualifies)."""
    gaps = [g for g in (_verifier_gaps(p, verdicts) for p in pairs) if g]
    agree = sum(all(x > 0 for x in g) for g in gaps)
    return {
        "pairs_verifiers_differ": float(len(gaps)),
        **({"pairs_verifier_agreement": agree / len(gaps)} if gaps else {}),
    }


def _repeats_contradict(pair: PreferencePair, repeated: Sequence[Mapping[str, float | None]]) -> bool:
    for scores in repeated:
        a, b = scores.get(pair.chosen_id), scores.get(pair.rejected_id)
        if a is None or b is None or not a > b:
            return True
    return False


def screen_pairs(
    pairs: Sequence[PreferencePair],
    screens: Sequence[str],
    verdicts: Mapping[str, Sequence[Judgment]],
    repeated: Sequence[Mapping[str, float | None]] = (),
) -> tuple[list[PreferencePair], list[dict[str, Any]], dict[str, float]]:
    """``(kept, dropped, counts)``: the pairs no screen flags; each dropped pair as a dict with its
    ``reasons``; how many each screen flagged (``screen/<reason>``) and in all (``screen/dropped``).

    Args:
        screens: names from :data:`SCREENS`.
        verdicts: every candidate's judgments (verifiers and judges).
        repeated: each repeat's candidate scores (:func:`repeat_scores`), for ``repeats``.

    Raises:
        ValueError: an unknown screen.
    """
    unknown = sorted(set(screens) - set(SCREENS))
    if unknown:
        raise ValueError(f"unknown pair screen(s) {unknown}; known: {', '.join(SCREENS)}")
    kept, dropped, counts = [], [], Counter()
    for pair in pairs:
        reasons = []
        if "verifiers" in screens and _verifier_contradicts(pair, verdicts):
            reasons.append("verifiers")
        if "repeats" in screens and repeated and _repeats_contradict(pair, repeated):
            reasons.append("repeats")
        if "injection" in screens and addresses_grader(pair.chosen):
            reasons.append("injection")
        if reasons:
            dropped.append({**pair.to_dict(), "reasons": reasons})
            counts.update(reasons)
        else:
            kept.append(pair)
    stats = {f"screen/{k}": float(v) for k, v in counts.items()}
    return kept, dropped, {**stats, "screen/dropped": float(len(dropped))}


def group_by_candidate(judgments: Sequence[Judgment]) -> dict[str, list[Judgment]]:
    """Judgments by candidate id."""
    out: dict[str, list[Judgment]] = defaultdict(list)
    for j in judgments:
        out[j.candidate_id].append(j)
    return out


def length_adjusted(
    cands: Sequence[Candidate], scores: Mapping[str, float | None]
) -> tuple[dict[str, float | None], float]:
    """Scores with their dependence on length removed within each prompt's group (``pairs.length_adjust``).

    The slope of score on length (characters) is fitted once, pooled over the groups with each group's
    means removed (so it measures what length buys *within* a prompt, where pairs are made), and each
    score moves by ``-slope * (its length - its group's mean length)``. Held-back candidates stay
    ``None``. Returns the scores and the slope (per character).
    """
    groups: dict[str, list[Candidate]] = defaultdict(list)
    for c in cands:
        if scores.get(c.candidate_id) is not None:
            groups[c.prompt_id].append(c)
    dev: dict[str, float] = {}
    sxy = sxx = 0.0
    for members in groups.values():
        ml = sum(len(c.text) for c in members) / len(members)
        ms = sum(scores[c.candidate_id] for c in members) / len(members)  # type: ignore[misc]
        for c in members:
            dev[c.candidate_id] = len(c.text) - ml
            sxy += dev[c.candidate_id] * (scores[c.candidate_id] - ms)  # type: ignore[operator]
            sxx += dev[c.candidate_id] ** 2
    slope = sxy / sxx if sxx > 0 else 0.0
    out = {cid: (s - slope * dev[cid] if s is not None else None) for cid, s in scores.items()}
    return out, slope
