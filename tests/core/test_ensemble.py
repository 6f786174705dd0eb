"""Judge ensembles on hand-made member scores: mean, UWO (mean minus lambda times variance) and WCO (the
minimum); a member that fails fails the candidate, with its reason; each member's agreement with the
ensemble's verdict is counted. (End to end: tests/cli/test_ensemble_feedback.py.)"""

from __future__ import annotations

import pytest

from polyrlaif.core.judges.ensemble import EnsembleJudge, aggregate_scores
from polyrlaif.core.records import Candidate, Judgment


class Fixed:
    """A member judge that returns planned scores (None: a failed judgment)."""

    kind = "yesno"

    def __init__(self, judge_id, scores):
        self.judge_id, self.scores, self.cache = judge_id, scores, "cache"

    def judge(self, prompts, candidates, contexts=None):
        out = []
        for c in candidates:
            s = self.scores[c.candidate_id]
            j = Judgment(
                candidate_id=c.candidate_id, judge_id=self.judge_id, kind=self.kind, prompt_id="p", score=s
            )
            j.failure = None if s is not None else "timeout: no answer"
            out.append(j)
        return out


def test_aggregates_by_hand():
    assert aggregate_scores([0.2, 0.6, 1.0], "mean") == pytest.approx(0.6)
    assert aggregate_scores([0.2, 0.6, 1.0], "wco") == 0.2
    var = ((0.4**2) * 2) / 3
    assert aggregate_scores([0.2, 0.6, 1.0], "uwo", lam=2.0) == pytest.approx(0.6 - 2 * var)
    with pytest.raises(ValueError, match="unknown ensemble aggregate"):
        aggregate_scores([1.0], "median")


def test_ensemble_combines_members_and_fails_with_a_member():
    cands = [Candidate(candidate_id=c, prompt_id="p", text=c) for c in ("a", "b", "c")]
    one = Fixed("one", {"a": 0.9, "b": 0.4, "c": 0.7})
    two = Fixed("two", {"a": 0.7, "b": 0.8, "c": None})
    wco = EnsembleJudge([one, two], how="wco")
    got = {j.candidate_id: j for j in wco.judge({}, cands)}
    assert got["a"].score == 0.7 and got["b"].score == 0.4 and got["a"].kind == "yesno"
    assert got["a"].scores["members"] == {"one": 0.9, "two": 0.7}
    assert got["c"].score is None and "two (timeout: no answer)" in got["c"].failure
    stats = wco.stats.as_dict()
    # verdicts (>= 0.5): a: both agree with the ensemble's yes; b: ensemble no, one agrees, two does not
    assert stats["agreement/one"] == 1.0 and stats["agreement/two"] == 0.5
    assert stats["failures"] == {"ensemble_member_failed": 1}
    wco.cache = None  # repeated ranking and the audit switch every member's cache off together
    assert one.cache is None and two.cache is None
    with pytest.raises(ValueError, match="one kind"):
        EnsembleJudge([one, type("P", (Fixed,), {"kind": "pairwise"})("p", {})])


def test_active_judge_sends_only_the_prompts_the_cheap_judge_is_least_sure_of():
    from polyrlaif.core.judges.active import ActiveJudge

    cands = [Candidate(candidate_id=f"{p}/{i}", prompt_id=p, text="x") for p in "wxyz" for i in range(2)]
    # spreads: w 0.8, x 0.1, y 0.5, z: a failed cheap judgment (the expensive judge decides)
    cheap = Fixed("cheap", {"w/0": 0.9, "w/1": 0.1, "x/0": 0.5, "x/1": 0.4, "y/0": 0.7, "y/1": 0.2,
                            "z/0": None, "z/1": 0.3})  # fmt: skip
    asked = []

    class Expensive(Fixed):
        kind = "pointwise"

        def judge(self, prompts, candidates, contexts=None):
            asked.extend(c.candidate_id for c in candidates)
            return super().judge(prompts, candidates, contexts)

    expensive = Expensive("big", {c.candidate_id: 0.6 for c in cands})
    active = ActiveJudge(cheap, expensive, budget=0.5)
    got = {j.candidate_id: j for j in active.judge({}, cands)}
    assert sorted(asked) == ["x/0", "x/1", "z/0", "z/1"]  # the two least separated prompts
    assert got["x/0"].scores["by"] == "expensive" and got["x/0"].score == 0.6
    assert got["w/0"].scores["by"] == "cheap" and got["w/0"].score == 0.9 and got["w/0"].kind == "pointwise"
    assert active.stats.asked == 4 and active.stats.saved == 4
    none = ActiveJudge(cheap, expensive, budget=0.0)
    asked.clear()
    none.judge({}, cands[:2])
    assert asked == []
    with pytest.raises(ValueError, match="budget"):
        ActiveJudge(cheap, expensive, budget=1.5)


def test_online_rewards_as_an_ensemble():
    from polyrlaif.core.judges.ensemble import ensemble_reward, with_reward_ensemble
    from polyrlaif.core.protocols import OnlineTask

    def a(prompts, completions, **kw):
        return [0.9, 0.2, None]

    def b(prompts, completions, **kw):
        return [0.5, 0.6, 0.1]

    assert ensemble_reward({"a": a, "b": b}, "wco")(["p"] * 3, ["c"] * 3) == [0.5, 0.2, None]
    assert ensemble_reward({"a": a, "b": b}, "mean")(["p"] * 3, ["c"] * 3)[:2] == pytest.approx([0.7, 0.4])
    task = OnlineTask(prompts=[], rewards={"a": a, "b": b, "c": b}, weights={"a": 2.0, "c": 0.5})
    got = with_reward_ensemble(task, ["a", "b"], "wco")
    assert got.weights == {"a": 0.0, "b": 0.0, "c": 0.5, "ensemble": 3.0}  # b weighed 1 by default
    assert got.rewards["ensemble"].__name__ == "ensemble" and with_reward_ensemble(task, [], "wco") is task
    with pytest.raises(ValueError, match="unknown"):
        with_reward_ensemble(task, ["a", "zzz"], "mean")
