"""Active pair selection (issue 22; "PILAF", "Active Preference Learning for Large Language Models").

Asking the expensive judge about every candidate is the cost of AI feedback. :class:`ActiveJudge` asks a
cheap judge first, about every candidate; a prompt whose candidates the cheap judge already tells apart
(the spread of its scores over the prompt's candidates is large) keeps the cheap judge's scores, and
only the prompts it is least sure about (the smallest spreads), ``budget`` of them, go to the expensive
judge. Pairs are built within a prompt, so each prompt's candidates are scored by one judge, on one
scale.

Its judgments say which judge decided (``scores["by"]``: ``expensive`` or ``cheap``) and carry the cheap
score; its stats count the expensive judge's candidates (``asked``) and those it was spared
(``saved``). ``judge.active`` in a config names the cheap judge (overrides of ``judge``) and
``judge.active_budget`` the share of prompts the expensive one sees.
"""

from __future__ import annotations

import dataclasses
import math
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from polyrlaif.core.judges.ensemble import ensemble_or_one
from polyrlaif.core.judges.modes import CompositeJudge, JudgeStats
from polyrlaif.core.records import Candidate, Judgment, PromptRecord

__all__ = ["ActiveJudge", "ActiveStats", "active_or_one", "configured_judge"]


@dataclass
class ActiveStats(JudgeStats):
    """:class:`JudgeStats` plus the candidates the expensive judge saw (``asked``) and was spared."""

    asked: int = 0
    saved: int = 0


class ActiveJudge(CompositeJudge):
    """``cheap`` on every candidate, ``expensive`` on the ``budget`` share of prompts whose candidates the
    cheap judge separates least (see the module docstring). Every judgment takes the expensive judge's
    kind, so a domain's score function reads them as it reads that judge's."""

    def __init__(self, cheap: Any, expensive: Any, budget: float = 0.5) -> None:
        if not 0.0 <= budget <= 1.0:
            raise ValueError(f"an active judge's budget is a share of prompts in [0, 1], got {budget}")
        self.cheap, self.expensive, self.budget = cheap, expensive, budget
        self.kind = expensive.kind
        self.judge_id = f"active-{budget:g}:{cheap.judge_id}>{expensive.judge_id}"
        self.stats = ActiveStats()

    def parts(self) -> list[Any]:
        """The cheap judge and the expensive one."""
        return [self.cheap, self.expensive]

    def judge(
        self,
        prompts: Mapping[str, PromptRecord],
        candidates: Sequence[Candidate],
        contexts: Sequence[dict[str, Any]] | None = None,
    ) -> list[Judgment]:
        """One judgment per candidate, from the expensive judge for the chosen prompts, else the cheap."""
        ctx = list(contexts) if contexts is not None else [{} for _ in candidates]
        cheap = {j.candidate_id: j for j in self.cheap.judge(prompts, candidates, ctx)}
        groups: dict[str, list[int]] = defaultdict(list)
        for i, c in enumerate(candidates):
            groups[c.prompt_id].append(i)

        def spread(pid: str) -> float:
            got = [cheap[candidates[i].candidate_id].score for i in groups[pid]]
            if any(s is None for s in got):
                return -math.inf  # the cheap judge failed somewhere: the expensive one decides
            return max(got) - min(got)  # type: ignore[type-var, operator]

        order = sorted(groups, key=lambda pid: (spread(pid), pid))
        chosen = set(order[: math.ceil(self.budget * len(order))])
        picked = [i for pid in chosen for i in groups[pid]]
        expensive = {}
        if picked:
            got = self.expensive.judge(prompts, [candidates[i] for i in picked], [ctx[i] for i in picked])
            expensive = {j.candidate_id: j for j in got}
        out = []
        for c in candidates:
            by_expensive = c.prompt_id in chosen
            base = expensive.get(c.candidate_id) if by_expensive else cheap.get(c.candidate_id)
            j = (
                dataclasses.replace(base, judge_id=self.judge_id, kind=self.kind)
                if base is not None
                else Judgment(
                    candidate_id=c.candidate_id,
                    judge_id=self.judge_id,
                    kind=self.kind,
                    prompt_id=c.prompt_id,
                    failure="no_judgment: the judge returned none",
                )  # fmt: skip
            )
            cheap_score = cheap[c.candidate_id].score if c.candidate_id in cheap else None
            j.scores = {
                **j.scores,
                "by": "expensive" if by_expensive else "cheap",
                "cheap_score": cheap_score,
            }
            self.stats.asked += by_expensive
            self.stats.saved += not by_expensive
            self.stats.judgments += 1
            if j.failure:
                self.stats.fail(j.failure)
            out.append(j)
        return out


def configured_judge(judge_cfg: Any, build: Callable[[Any], Any]) -> Any:
    """The run's judge as the ``judge`` section asks for it: ``build(judge_cfg)``; ``judge.ensemble``'s
    members as one (:func:`~polyrlaif.core.judges.ensemble.ensemble_or_one`); with ``judge.active`` a
    cheap judge first (:func:`active_or_one`). A domain that builds its judge this way sets
    ``judge_sets = True`` on its config (the config check refuses the sets elsewhere)."""
    return active_or_one(judge_cfg, ensemble_or_one(judge_cfg, build), build)


def active_or_one(judge_cfg: Any, judge: Any, build: Callable[[Any], Any]) -> Any:
    """``judge``, or with ``judge.active`` (the cheap judge, as overrides of ``judge``) an
    :class:`ActiveJudge` sending ``judge.active_budget`` of the prompts on to ``judge``."""
    cheap = dict(getattr(judge_cfg, "active", None) or {})
    if not cheap:
        return judge
    cheap_cfg = dataclasses.replace(judge_cfg, **cheap, active={}, ensemble=[])
    return ActiveJudge(build(cheap_cfg), judge, budget=judge_cfg.active_budget)
