"""How well pair screening catches poisoned preference data (issue 22; "Best-of-Venom").

A round's own pairs are poisoned at a rate, two ways, and screened (:func:`polyrlaif.core.screening
.screen_pairs`) with the screens the run configures:

* ``flipped``: pairs drawn at random have chosen and rejected swapped;
* ``targeted``: the flips go to pairs whose rejected response is the longer one, so the poison teaches
  one behaviour (longer answers win), as a targeted attack would.

Recall is the share of poisoned pairs the screens drop; the false-positive rate the share of clean pairs
they drop. Each is reported with its 95% bootstrap interval over pairs.

The same poisoning can go into a training run (``pairs.poison``, :func:`poison_pairs`), before the
screens, so what screening buys shows in the trained policy's metrics and not only in recall: each
poisoned pair says so in its provenance, and the round counts how many the screens caught.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from typing import Any

from polyrlaif.core.pairs import reverse
from polyrlaif.core.records import Judgment, PreferencePair
from polyrlaif.core.screening import screen_pairs
from polyrlaif.core.significance import bootstrap_intervals

__all__ = ["KINDS", "caught", "inject", "poison_pairs", "poison_report"]

#: The poisonings :func:`inject` makes.
KINDS = ("flipped", "targeted")


def inject(
    pairs: Sequence[PreferencePair], rate: float, kind: str, seed: int | str = 0
) -> tuple[list[PreferencePair], list[bool]]:
    """``pairs`` with ``round(rate * len(pairs))`` of them poisoned (see the module docstring), and which.

    Raises:
        ValueError: an unknown ``kind`` or a rate outside (0, 1).
    """
    if kind not in KINDS:
        raise ValueError(f"unknown poisoning {kind!r}; valid: {', '.join(KINDS)}")
    if not 0 < rate < 1:
        raise ValueError(f"a poisoning rate is in (0, 1), got {rate}")
    rng = random.Random(f"{seed}/{kind}/{rate}")
    pool = list(range(len(pairs)))
    if kind == "targeted":
        pool = [i for i in pool if len(pairs[i].rejected) > len(pairs[i].chosen)]
    n = min(len(pool), round(rate * len(pairs)))
    hit = set(rng.sample(pool, n))
    return [reverse(p) if i in hit else p for i, p in enumerate(pairs)], [i in hit for i in range(len(pairs))]


def poison_report(
    pairs: Sequence[PreferencePair],
    screens: Sequence[str],
    verdicts: Mapping[str, Sequence[Judgment]],
    repeated: Sequence[Mapping[str, float | None]] = (),
    rates: Sequence[float] = (0.01, 0.05, 0.10),
    seed: int = 0,
) -> list[dict[str, Any]]:
    """For each poisoning and rate: how many pairs were poisoned, and the screens' recall and
    false-positive rate with their intervals."""
    out = []
    for kind in KINDS:
        for rate in rates:
            poisoned, flags = inject(pairs, rate, kind, seed)
            _, dropped, _ = screen_pairs(poisoned, screens, verdicts, repeated)
            gone = {d["pair_id"] for d in dropped}
            rows = [
                {"id": p.pair_id, "poison": f, "dropped": p.pair_id in gone}
                for p, f in zip(poisoned, flags, strict=True)
            ]
            row: dict[str, Any] = {"kind": kind, "rate": rate, "pairs": len(rows), "poisoned": sum(flags)}
            for name, wanted in (("recall", True), ("false_positive_rate", False)):
                part = [r for r in rows if r["poison"] is wanted]
                if part:
                    iv = bootstrap_intervals(part, _dropped_share, ["share"], seed=seed)["share"]
                    row[name] = iv.as_dict()
            out.append(row)
    return out


def _dropped_share(rows: Sequence[Mapping[str, Any]]) -> dict[str, float]:
    return {"share": sum(r["dropped"] for r in rows) / len(rows)}


def poison_pairs(
    pairs: Sequence[PreferencePair], rate: float, kind: str, seed: int | str
) -> list[PreferencePair]:
    """:func:`inject` for a training run: the poisoned pairs carry ``provenance["poisoned"] = kind``."""
    out, flags = inject(pairs, rate, kind, seed)
    for pair, hit in zip(out, flags, strict=True):
        if hit:
            pair.provenance = {**pair.provenance, "poisoned": kind}
    return out


def caught(pairs: Sequence[PreferencePair], dropped: Sequence[Mapping[str, Any]]) -> dict[str, float]:
    """What the screens did to a poisoned round: ``pairs`` as they went in, ``dropped`` as
    :func:`~polyrlaif.core.screening.screen_pairs` returns them. Counts, recall and false-positive rate."""
    gone = {d["pair_id"] for d in dropped}
    bad = [p.pair_id for p in pairs if p.provenance.get("poisoned")]
    clean = len(pairs) - len(bad)
    hits = sum(pid in gone for pid in bad)
    stats = {"poison/poisoned": float(len(bad)), "poison/caught": float(hits),
             "poison/clean_dropped": float(len(gone) - hits)}  # fmt: skip
    if bad:
        stats["poison/recall"] = hits / len(bad)
    if clean:
        stats["poison/false_positive_rate"] = (len(gone) - hits) / clean
    return stats
