"""Preference-pair building: best against worst, a margin threshold, ties dropped, capped per prompt."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from polyrlaif.core.io import sha256_text
from polyrlaif.core.records import Candidate, PreferencePair, PromptRecord

__all__ = ["PairStats", "build_pairs"]


@dataclass
class PairStats:
    """Why candidates did or did not become pairs; printed in the run summary."""

    prompts: int = 0
    pairs: int = 0
    unscored: int = 0  # candidates whose score was None (a judge or verifier failed)
    prompts_all_tied: int = 0
    prompts_too_few: int = 0
    below_margin: int = 0
    identical_text: int = 0
    margins: list[float] = field(default_factory=list)

    def as_dict(self) -> dict[str, float]:
        """Counts plus the mean margin, for metrics.json."""
        out = {k: v for k, v in self.__dict__.items() if k != "margins"}
        out["mean_margin"] = sum(self.margins) / len(self.margins) if self.margins else 0.0
        return out


def build_pairs(
    prompts: Mapping[str, PromptRecord],
    candidates: Sequence[Candidate],
    scores: Mapping[str, float | None],
    *,
    min_margin: float = 0.0,
    max_pairs_per_prompt: int = 1,
    provenance: Mapping[str, dict] | None = None,
) -> tuple[list[PreferencePair], PairStats]:
    """Pair each prompt's best candidates against its worst.

    Candidates are ranked by score; the i-th best is paired with the i-th worst while the margin is
    at least ``min_margin`` (strictly positive, so ties never form a pair) and the texts differ.

    Args:
        prompts: prompt records by id.
        candidates: all candidates of the round.
        scores: candidate id -> scalar score (``None`` = unscored; such candidates are skipped and counted).
        min_margin: smallest score gap that makes a pair.
        max_pairs_per_prompt: cap per prompt.
        provenance: optional candidate id -> extra lineage copied into the pair (judge ids, verdicts).

    Returns:
        The pairs, in prompt order, and counts of what was dropped and why.
    """
    stats = PairStats()
    by_prompt: dict[str, list[Candidate]] = defaultdict(list)
    for cand in candidates:
        if scores.get(cand.candidate_id) is None:
            stats.unscored += 1
            continue
        by_prompt[cand.prompt_id].append(cand)

    pairs: list[PreferencePair] = []
    for prompt_id, group in by_prompt.items():
        stats.prompts += 1
        if len(group) < 2:
            stats.prompts_too_few += 1
            continue
        # stable sort: equal scores keep sampling order, so the result is deterministic
        ranked = sorted(group, key=lambda c: -float(scores[c.candidate_id]))  # type: ignore[arg-type]
        if scores[ranked[0].candidate_id] == scores[ranked[-1].candidate_id]:
            stats.prompts_all_tied += 1
            continue
        made = 0
        lo, hi = 0, len(ranked) - 1
        while lo < hi and made < max_pairs_per_prompt:
            chosen, rejected = ranked[lo], ranked[hi]
            margin = float(scores[chosen.candidate_id]) - float(scores[rejected.candidate_id])  # type: ignore[arg-type]
            if margin <= 0 or margin < min_margin:
                stats.below_margin += 1
                break
            if chosen.text.strip() == rejected.text.strip():
                stats.identical_text += 1
                hi -= 1
                continue
            prompt = prompts[prompt_id]
            prov = {
                "round": chosen.round,
                "policy": chosen.policy,
                "chosen_score": scores[chosen.candidate_id],
                "rejected_score": scores[rejected.candidate_id],
            }
            if provenance:
                prov["chosen"] = provenance.get(chosen.candidate_id, {})
                prov["rejected"] = provenance.get(rejected.candidate_id, {})
            pairs.append(
                PreferencePair(
                    pair_id=sha256_text(f"{chosen.candidate_id}|{rejected.candidate_id}")[:16],
                    prompt_id=prompt_id,
                    prompt=prompt.messages if prompt.messages is not None else prompt.text,
                    chosen=chosen.text,
                    rejected=rejected.text,
                    margin=margin,
                    chosen_id=chosen.candidate_id,
                    rejected_id=rejected.candidate_id,
                    provenance=prov,
                )
            )
            stats.margins.append(margin)
            made += 1
            lo, hi = lo + 1, hi - 1
    stats.pairs = len(pairs)
    return pairs, stats
