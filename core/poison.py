"""How well pair screening catches poisoned preference data (issue 22; "Best-of-Venom").

A round's own pairs are poisoned at a rate, two ways, and screened (:func:`polyrlaif.core.screening
.screen_pairs`) with the screens the run configures:

* ``flipped``: pairs drawn at random have chosen and rejected swapped;
* ``targeted``: the flips go to pairs whose rejected response is the longer one, so the poison teaches
  one behaviour (longer answers win), as a targeted attack would.

Recall is the share of poisoned pairs the screens drop; the false-positive rate the share of clean pairs
they drop. Each is reported with its 95% bootstrap interval over pairs.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from typing import Any

from polyrlaif.core.pairs import reverse
from polyrlaif.core.records import Judgment, PreferencePair
from polyrlaif.core.screening import screen_pairs
from polyrlaif.core.significance import bootstrap_intervals

__all__ = ["KINDS", "inject", "poison_report"]

#: The poisonings :func:`inject` makes.
KINDS = ("flipped", "targeted")


def inject(
    pairs: Sequence[PreferencePair], rate: float, kind: str, seed: int = 0
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
