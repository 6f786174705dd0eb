"""Several judges as one (issue 22; "Reward Model Ensembles Help Mitigate Overoptimization").

:class:`EnsembleJudge` asks every member about each candidate and combines their scores:

* ``mean``: the members' mean;
* ``uwo`` (uncertainty-weighted): the mean minus ``lam`` times the members' variance, so a candidate the
  members disagree on scores lower;
* ``wco`` (worst case): the lowest member score.

Its judgment carries each member's score (``scores["members"]``), so lineage shows who said what, and
its :class:`EnsembleStats` report how often each member's verdict (score >= 0.5) agrees with the
ensemble's. A candidate a member could not judge gets no ensemble score (``failure`` names the member):
a worst case over the members that answered would not be one.

``judge.ensemble`` in a config lists the members as overrides of ``judge`` (e.g. another ``model`` or
``base_url``); :func:`ensemble_or_one` builds them with the domain's own judge builder.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from polyrlaif.core.io import sha256_text
from polyrlaif.core.judges.modes import CompositeJudge, JudgeStats
from polyrlaif.core.records import Candidate, Judgment, PromptRecord

__all__ = [
    "AGGREGATES",
    "EnsembleJudge",
    "EnsembleStats",
    "aggregate_scores",
    "ensemble_or_one",
    "ensemble_reward",
    "with_reward_ensemble",
]

#: The ways :class:`EnsembleJudge` combines its members' scores.
AGGREGATES = ("mean", "uwo", "wco")


def aggregate_scores(scores: Sequence[float], how: str, lam: float = 1.0) -> float:
    """``mean``, ``uwo`` (mean - ``lam`` * population variance) or ``wco`` (minimum) of ``scores``.

    Raises:
        ValueError: an unknown ``how``, or no scores.
    """
    if how not in AGGREGATES:
        raise ValueError(f"unknown ensemble aggregate {how!r}; valid: {', '.join(AGGREGATES)}")
    if not scores:
        raise ValueError("no member scores to combine")
    mean = sum(scores) / len(scores)
    if how == "mean":
        return mean
    if how == "wco":
        return min(scores)
    return mean - lam * sum((s - mean) ** 2 for s in scores) / len(scores)


@dataclass
class EnsembleStats(JudgeStats):
    """:class:`JudgeStats` plus, per member, the judgments whose verdict matched the ensemble's."""

    agree: Counter = field(default_factory=Counter)
    compared: int = 0

    def as_dict(self) -> dict[str, Any]:
        """Counters plus ``agreement/<member>``: the share of verdicts that matched the ensemble's."""
        out = {k: v for k, v in super().as_dict().items() if k not in ("agree",)}
        for member, n in self.agree.items():
            out[f"agreement/{member}"] = n / self.compared if self.compared else 0.0
        return out


class EnsembleJudge(CompositeJudge):
    """Judges every candidate with each of ``members`` and combines their scores (``how``: see
    :data:`AGGREGATES`; ``lam``: UWO's variance weight). The members must be of one kind (all pointwise,
    all yes/no, ...), which the ensemble's judgments keep, so a domain's score function reads them as it
    reads one judge's."""

    def __init__(self, members: Sequence[Any], how: str = "mean", lam: float = 1.0) -> None:
        if len(members) < 2:
            raise ValueError("an ensemble needs at least two judges")
        kinds = {getattr(m, "kind", "") for m in members}
        if len(kinds) != 1:
            raise ValueError(f"ensemble members must be of one kind, got {sorted(kinds)}")
        aggregate_scores([0.0], how)  # an unknown aggregate stops here, before any judging
        self.members, self.how, self.lam = list(members), how, lam
        self.kind = kinds.pop()
        ids = [m.judge_id for m in members]
        self.judge_id = f"ensemble-{how}-{sha256_text(repr((ids, how, lam)))[:8]}"
        self.stats = EnsembleStats()

    def parts(self) -> list[Any]:
        """The members."""
        return self.members

    def judge(
        self,
        prompts: Mapping[str, PromptRecord],
        candidates: Sequence[Candidate],
        contexts: Sequence[dict[str, Any]] | None = None,
    ) -> list[Judgment]:
        """One judgment per candidate: the combined score, each member's in ``scores["members"]``."""
        by_member = {
            m.judge_id: {j.candidate_id: j for j in m.judge(prompts, candidates, contexts)}
            for m in self.members
        }
        out = []
        for c in candidates:
            got = {mid: js.get(c.candidate_id) for mid, js in by_member.items()}
            scores = {mid: (j.score if j is not None else None) for mid, j in got.items()}
            hashes = "\n".join(x.judge_prompt_hash for x in got.values() if x)
            j = Judgment(candidate_id=c.candidate_id, judge_id=self.judge_id, kind=self.kind,
                         prompt_id=c.prompt_id, scores={"members": scores, "aggregate": self.how},
                         judge_prompt_hash=sha256_text(hashes))  # fmt: skip
            missing = [mid for mid, s in scores.items() if s is None]
            if missing:
                reasons = [got[mid].failure if got[mid] is not None else "no judgment" for mid in missing]
                named = ", ".join(f"{m} ({r})" for m, r in zip(missing, reasons, strict=True))
                j.failure = f"ensemble_member_failed: {named}"
                self.stats.fail(j.failure)
            else:
                j.score = aggregate_scores(list(scores.values()), self.how, self.lam)  # type: ignore[arg-type]
                self.stats.compared += 1
                for mid, s in scores.items():
                    self.stats.agree[mid] += (s >= 0.5) == (j.score >= 0.5)  # type: ignore[operator]
            self.stats.judgments += 1
            out.append(j)
        return out


def ensemble_or_one(judge_cfg: Any, build: Callable[[Any], Any]) -> Any:
    """The run's judge: ``build(judge_cfg)``, or with ``judge.ensemble`` an :class:`EnsembleJudge` of
    ``build`` applied to ``judge_cfg`` updated by each member's overrides (``judge.ensemble_aggregate``,
    ``judge.uwo_lambda``)."""
    members = list(getattr(judge_cfg, "ensemble", None) or [])
    if not members:
        return build(judge_cfg)
    built = [build(dataclasses.replace(judge_cfg, **dict(m), ensemble=[])) for m in members]
    return EnsembleJudge(built, how=judge_cfg.ensemble_aggregate, lam=judge_cfg.uwo_lambda)


def ensemble_reward(members: Mapping[str, Callable], how: str = "mean", lam: float = 1.0) -> Callable:
    """Online rewards (TRL's signature) as one: each completion's member rewards combined by ``how``
    (:data:`AGGREGATES`); ``None`` where a member's is ``None`` (it does not apply, or could not decide)."""
    aggregate_scores([0.0], how)  # an unknown aggregate stops here

    def reward(prompts: Any, completions: Any, **kwargs: Any) -> list[float | None]:
        got = [list(fn(prompts=prompts, completions=completions, **kwargs)) for fn in members.values()]
        return [
            None if any(v is None for v in vs) else aggregate_scores([float(v) for v in vs], how, lam)
            for vs in zip(*got, strict=True)
        ]

    reward.__name__ = reward.__qualname__ = "ensemble"
    return reward


def with_reward_ensemble(task: Any, names: Sequence[str], how: str) -> Any:
    """``task`` (an :class:`~polyrlaif.core.protocols.OnlineTask`) with its rewards ``names`` combined into
    one reward, ``ensemble``, which takes their summed weight; the members stay, weighted 0, so their
    means are still logged. ``names`` empty: ``task`` unchanged.

    Raises:
        ValueError: a name the task has no reward for, or fewer than two names.
    """
    if not names:
        return task
    unknown = sorted(set(names) - set(task.rewards))
    if unknown or len(set(names)) < 2:
        raise ValueError(
            f"rl.reward_ensemble names {list(names)}: it needs two or more of the task's rewards "
            f"{sorted(task.rewards)}" + (f"; unknown: {unknown}" if unknown else "")
        )
    members = {n: task.rewards[n] for n in names}
    weight = sum(float(task.weights.get(n, 1.0)) for n in names)
    weights = {**{n: float(task.weights.get(n, 1.0)) for n in task.rewards}, **dict.fromkeys(names, 0.0)}
    rewards = {**task.rewards, "ensemble": ensemble_reward(members, how)}
    return dataclasses.replace(task, rewards=rewards, weights={**weights, "ensemble": weight})
