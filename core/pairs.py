"""Preference-pair building and length balancing.

Two pairing strategies share one entry point, :func:`build_pairs`:

* ``"best_worst"`` (default): the i-th best candidate of a prompt against its i-th worst.
* ``"all"`` (RLAIF-V): every two candidates of a prompt whose scores differ by at least the margin.

:func:`length_balance` then drops the pairs that make chosen responses systematically longer (or
shorter) than rejected ones, RLAIF-V's guard against a length bias in the feedback.

``random_direction`` is a control experiment, not a method: the same pairs, each one's order flipped by
a fair coin (a function of its two candidates' ids, so reruns agree). Trained the same way, it shows
how much of a run's change comes from the update itself rather than from the judge's preferences.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace

from polyrlaif.core.io import sha256_text
from polyrlaif.core.records import Candidate, PreferencePair, PromptRecord

__all__ = [
    "PAIR_STRATEGIES",
    "PairStats",
    "LengthReport",
    "build_pairs",
    "coin",
    "length_balance",
    "len_in_words",
    "make_pair",
    "reverse",
    "same_output",
]

PAIR_STRATEGIES = ("best_worst", "all")


@dataclass
class PairStats:
    """Why candidates did or did not become pairs; printed in the run summary.

    ``below_margin`` counts, for ``best_worst``, the prompts where pairing stopped at a small margin,
    and for ``all``, the candidate pairs whose gap was below the margin (ties included).
    ``capped`` (``all`` only) counts qualifying pairs left out by ``max_pairs_per_prompt`` or
    ``max_uses_per_candidate``.
    """

    prompts: int = 0
    pairs: int = 0
    unscored: int = 0  # candidates whose score was None (a judge or verifier failed)
    prompts_all_tied: int = 0
    prompts_too_few: int = 0
    below_margin: int = 0
    identical_text: int = 0
    capped: int = 0
    curriculum: int = 0  # pairs left out by the chosen_min / rejected_max thresholds
    flipped: int = 0  # pairs whose order the random_direction control reversed
    margins: list[float] = field(default_factory=list)

    def as_dict(self) -> dict[str, float]:
        """Counts plus the mean margin, for metrics.json."""
        out = {k: v for k, v in self.__dict__.items() if k != "margins"}
        out["mean_margin"] = sum(self.margins) / len(self.margins) if self.margins else 0.0
        return out


def make_pair(
    prompt: PromptRecord,
    chosen: Candidate,
    rejected: Candidate,
    scores: Mapping[str, float | None],
    provenance: Mapping[str, dict] | None,
) -> PreferencePair:
    """One pair for ``prompt``: ``chosen`` over ``rejected``, with their scores and lineage.

    The candidates may come from different prompts (cross-validation pairs of analogous prompts):
    the pair is always trained under ``prompt``; ``provenance`` keeps both candidate ids.
    """
    margin = float(scores[chosen.candidate_id]) - float(scores[rejected.candidate_id])  # type: ignore[arg-type]
    prov = {
        "round": chosen.round,
        "policy": chosen.policy,
        "chosen_score": scores[chosen.candidate_id],
        "rejected_score": scores[rejected.candidate_id],
    }
    if provenance:
        prov["chosen"] = provenance.get(chosen.candidate_id, {})
        prov["rejected"] = provenance.get(rejected.candidate_id, {})
    return PreferencePair(
        pair_id=sha256_text(f"{chosen.candidate_id}|{rejected.candidate_id}")[:16],
        prompt_id=prompt.prompt_id,
        prompt=prompt.messages if prompt.messages is not None else prompt.text,
        chosen=chosen.text,
        rejected=rejected.text,
        margin=margin,
        chosen_id=chosen.candidate_id,
        rejected_id=rejected.candidate_id,
        provenance=prov,
        media=list(prompt.media),
        chosen_media=list(chosen.media),
        rejected_media=list(rejected.media),
    )


def same_output(a: Candidate, b: Candidate) -> bool:
    """True when two candidates produced the same thing: the same text and the same media bytes."""
    if a.text.strip() != b.text.strip():
        return False
    return [m.sha256 or m.uri for m in a.media] == [m.sha256 or m.uri for m in b.media]


def coin(a: str, b: str) -> bool:
    """A fair coin for a pair of candidate ids, the same for either order and on every rerun."""
    ids = sorted((a, b))
    return int(sha256_text("\x00".join(ids))[-1], 16) % 2 == 1


def reverse(pair: PreferencePair) -> PreferencePair:
    """``pair`` with chosen and rejected swapped (texts, ids, media, scores; the margin negated)."""
    prov = dict(pair.provenance)
    prov["chosen_score"], prov["rejected_score"] = prov.get("rejected_score"), prov.get("chosen_score")
    if "chosen" in prov or "rejected" in prov:
        prov["chosen"], prov["rejected"] = prov.get("rejected", {}), prov.get("chosen", {})
    return replace(
        pair,
        pair_id=sha256_text(f"{pair.rejected_id}|{pair.chosen_id}")[:16],
        chosen=pair.rejected,
        rejected=pair.chosen,
        chosen_id=pair.rejected_id,
        rejected_id=pair.chosen_id,
        chosen_media=pair.rejected_media,
        rejected_media=pair.chosen_media,
        margin=-pair.margin,
        provenance=prov,
    )


def _best_worst(ranked, scores, min_margin, max_pairs_per_prompt, stats) -> list[tuple[Candidate, Candidate]]:
    """The i-th best against the i-th worst, stopping at the first gap below the margin."""
    out: list[tuple[Candidate, Candidate]] = []
    lo, hi = 0, len(ranked) - 1
    while lo < hi and len(out) < max_pairs_per_prompt:
        chosen, rejected = ranked[lo], ranked[hi]
        margin = float(scores[chosen.candidate_id]) - float(scores[rejected.candidate_id])
        if margin <= 0 or margin < min_margin:
            stats.below_margin += 1
            break
        if same_output(chosen, rejected):
            stats.identical_text += 1
            hi -= 1
            continue
        out.append((chosen, rejected))
        lo, hi = lo + 1, hi - 1
    return out


def _all_pairs(
    ranked, scores, min_margin, max_pairs_per_prompt, max_uses, stats
) -> list[tuple[Candidate, Candidate]]:
    """Every qualifying pair, highest margin first; ties broken by rank (best chosen, then worst rejected)."""
    options: list[tuple[float, int, int]] = []
    for i in range(len(ranked)):
        for j in range(i + 1, len(ranked)):
            margin = float(scores[ranked[i].candidate_id]) - float(scores[ranked[j].candidate_id])
            if margin <= 0 or margin < min_margin:
                stats.below_margin += 1
            elif same_output(ranked[i], ranked[j]):
                stats.identical_text += 1
            else:
                options.append((-margin, i, -j))
    options.sort()
    uses: dict[int, int] = defaultdict(int)
    out: list[tuple[Candidate, Candidate]] = []
    for _, i, neg_j in options:
        j = -neg_j
        full = len(out) >= max_pairs_per_prompt
        if full or (max_uses is not None and (uses[i] >= max_uses or uses[j] >= max_uses)):
            stats.capped += 1
            continue
        uses[i] += 1
        uses[j] += 1
        out.append((ranked[i], ranked[j]))
    return out


def build_pairs(
    prompts: Mapping[str, PromptRecord],
    candidates: Sequence[Candidate],
    scores: Mapping[str, float | None],
    *,
    min_margin: float = 0.0,
    max_pairs_per_prompt: int = 1,
    provenance: Mapping[str, dict] | None = None,
    strategy: str = "best_worst",
    max_uses_per_candidate: int | None = None,
    chosen_min: float | None = None,
    rejected_max: float | None = None,
    random_direction: bool = False,
) -> tuple[list[PreferencePair], PairStats]:
    """Pair each prompt's candidates by score.

    Candidates are ranked by score (a stable sort, so equal scores keep sampling order). A pair needs
    a margin of at least ``min_margin`` and strictly positive (ties never pair), and texts that differ
    once stripped.

    * ``"best_worst"``: the i-th best is paired with the i-th worst while the margin holds; an
      identical text moves on to the next-worst.
    * ``"all"`` (RLAIF-V): every qualifying pair, sorted by margin (largest first; equal margins
      prefer the better-ranked chosen, then the worse-ranked rejected), then taken while fewer than
      ``max_pairs_per_prompt`` are made. A candidate may appear in several pairs, as in RLAIF-V;
      ``max_uses_per_candidate`` caps how many (either role), so that one response cannot dominate a
      prompt's pairs. Highest margin first keeps the pairs the feedback is most sure of.

    Args:
        prompts: prompt records by id.
        candidates: all candidates of the round.
        scores: candidate id -> scalar score (``None`` = unscored; such candidates are skipped and counted).
        min_margin: smallest score gap that makes a pair.
        max_pairs_per_prompt: cap per prompt.
        provenance: optional candidate id -> extra lineage copied into the pair (judge ids, verdicts).
        strategy: ``"best_worst"`` or ``"all"``.
        max_uses_per_candidate: ``"all"`` only: pairs one candidate may be part of (``None``: no cap).
        chosen_min: keep a pair only when its chosen score is at least this (a curriculum threshold).
        rejected_max: keep a pair only when its rejected score is at most this.
        random_direction: the control: flip each kept pair's order with probability 1/2 (a coin that
            is a function of the two candidate ids); its ``margin`` is then negative.

    Returns:
        The pairs, in prompt order, and counts of what was dropped and why.

    Raises:
        ValueError: for an unknown strategy or a non-positive ``max_uses_per_candidate``.
    """
    if strategy not in PAIR_STRATEGIES:
        raise ValueError(f"pairs strategy must be one of {PAIR_STRATEGIES}, got {strategy!r}")
    if max_uses_per_candidate is not None and max_uses_per_candidate < 1:
        raise ValueError(f"max_uses_per_candidate must be >= 1 or None, got {max_uses_per_candidate}")
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
        if strategy == "best_worst":
            chosen_rejected = _best_worst(ranked, scores, min_margin, max_pairs_per_prompt, stats)
        else:
            chosen_rejected = _all_pairs(
                ranked, scores, min_margin, max_pairs_per_prompt, max_uses_per_candidate, stats
            )
        for chosen, rejected in chosen_rejected:
            too_low = chosen_min is not None and float(scores[chosen.candidate_id]) < chosen_min  # type: ignore[arg-type]
            too_high = rejected_max is not None and float(scores[rejected.candidate_id]) > rejected_max  # type: ignore[arg-type]
            if too_low or too_high:
                stats.curriculum += 1
                continue
            if random_direction and coin(chosen.candidate_id, rejected.candidate_id):
                chosen, rejected = rejected, chosen
                stats.flipped += 1
            pair = make_pair(prompts[prompt_id], chosen, rejected, scores, provenance)
            pairs.append(pair)
            stats.margins.append(pair.margin)
    stats.pairs = len(pairs)
    return pairs, stats


def len_in_words(text: str) -> int:
    """Whitespace-separated words in ``text``; the default length of :func:`length_balance`."""
    return len(text.split())


@dataclass
class LengthReport:
    """What :func:`length_balance` did.

    Attributes:
        n_before: pairs given.
        n_after: pairs kept.
        mean_chosen_before: mean chosen length of the given pairs (``length_fn`` units).
        mean_rejected_before: mean rejected length of the given pairs.
        mean_chosen_after: mean chosen length of the kept pairs.
        mean_rejected_after: mean rejected length of the kept pairs.
        threshold: the largest length ratio kept (longer over shorter side, in the dominant
            direction); ``None`` when no filter was needed.
        direction: ``"chosen_longer"``, ``"chosen_shorter"`` or ``"balanced"`` (before filtering).
        tolerance: the absolute gap (length units) counted as equal.
    """

    n_before: int = 0
    n_after: int = 0
    mean_chosen_before: float = 0.0
    mean_rejected_before: float = 0.0
    mean_chosen_after: float = 0.0
    mean_rejected_after: float = 0.0
    threshold: float | None = None
    direction: str = "balanced"
    tolerance: float = 0.0

    def as_dict(self) -> dict[str, float | str | None]:
        """Plain dict for metrics.json."""
        return dict(self.__dict__)


def _mean(xs: Sequence[float]) -> float:
    return sum(xs) / len(xs) if xs else 0.0


def length_balance(
    pairs: Sequence[PreferencePair],
    *,
    length_fn: Callable[[str], float] = len_in_words,
    tolerance: float = 0.02,
) -> tuple[list[PreferencePair], LengthReport]:
    """Drop the pairs that make chosen responses systematically longer (or shorter) than rejected ones.

    The rule, with ``c`` and ``r`` the chosen and rejected lengths of a pair:

    1. ``tol = tolerance * mean`` of all ``2n`` lengths. If the mean chosen and mean rejected
       lengths already differ by at most ``tol``, every pair is kept (``threshold=None``).
    2. Otherwise the dominant direction is the sign of ``mean(c) - mean(r)``. Each pair gets the ratio
       ``rho = c / r`` when chosen responses are longer, else ``r / c`` (lengths floored at 1), so a
       pair with ``rho > 1`` pushes the imbalance further and ``rho <= 1`` never does.
    3. Candidate thresholds are ``1`` and every ``rho > 1`` in the data; threshold ``t`` keeps the
       pairs with ``rho <= t``. ``gap(t) = |mean(c) - mean(r)|`` over the kept pairs.
    4. With ``g*`` the smallest gap over thresholds that keep at least one pair, the largest ``t``
       with ``gap(t) <= g* + tol`` wins: as balanced as possible, then as many pairs as possible.

    Args:
        pairs: preference pairs (their order is kept).
        length_fn: length of a text (default: words).
        tolerance: the fraction of the mean length that counts as equal.

    Returns:
        The kept pairs and a :class:`LengthReport`.
    """
    pairs = list(pairs)
    c = [float(length_fn(p.chosen)) for p in pairs]
    r = [float(length_fn(p.rejected)) for p in pairs]
    report = LengthReport(n_before=len(pairs), mean_chosen_before=_mean(c), mean_rejected_before=_mean(r))
    report.tolerance = tolerance * _mean(c + r)
    diff = report.mean_chosen_before - report.mean_rejected_before
    if abs(diff) <= report.tolerance:
        report.n_after, report.mean_chosen_after, report.mean_rejected_after = len(pairs), _mean(c), _mean(r)
        return pairs, report
    report.direction = "chosen_longer" if diff > 0 else "chosen_shorter"
    if diff > 0:
        rho = [max(a, 1.0) / max(b, 1.0) for a, b in zip(c, r, strict=True)]
    else:
        rho = [max(b, 1.0) / max(a, 1.0) for a, b in zip(c, r, strict=True)]

    # scan thresholds in increasing order with running sums (pairs sorted by rho)
    order = sorted(range(len(pairs)), key=lambda k: rho[k])
    gaps: list[tuple[float, float]] = []  # (threshold, gap)
    sum_c = sum_r = 0.0
    for pos, k in enumerate(order):
        sum_c, sum_r = sum_c + c[k], sum_r + r[k]
        last_of_group = pos + 1 == len(order) or rho[order[pos + 1]] != rho[k]
        if last_of_group and (rho[k] > 1.0 or pos + 1 == len(order) or rho[order[pos + 1]] > 1.0):
            gaps.append((max(rho[k], 1.0), abs(sum_c - sum_r) / (pos + 1)))
    best = min(g for _, g in gaps)
    threshold = max(t for t, g in gaps if g <= best + report.tolerance + 1e-12)
    kept = [p for p, x in zip(pairs, rho, strict=True) if x <= threshold]
    kc = [a for a, x in zip(c, rho, strict=True) if x <= threshold]
    kr = [b for b, x in zip(r, rho, strict=True) if x <= threshold]
    report.threshold, report.n_after = threshold, len(kept)
    report.mean_chosen_after, report.mean_rejected_after = _mean(kc), _mean(kr)
    return kept, report
