"""Repeated ranking and pair screening on hand-made judgments: a repeat that ranks a pair the other way
(or cannot judge it) drops exactly that pair; a verifier that scores the rejected candidate higher drops
the pair; everything dropped is listed with its reasons; the repeats are scored by the domain's own
score function with each judge's judgment swapped for the repeat's."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from polyrlaif.core.records import Candidate, Judgment, PreferencePair, PromptRecord
from polyrlaif.core.screening import RepeatedJudge, repeat_scores, screen_pairs, verifier_agreement


def _pair(chosen, rejected):
    return PreferencePair(pair_id=f"{chosen}>{rejected}", prompt_id="p", prompt="q", chosen=chosen,
                          rejected=rejected, chosen_id=chosen, rejected_id=rejected)  # fmt: skip


def _j(cid, judge, score, kind="pointwise"):
    return Judgment(candidate_id=cid, judge_id=judge, kind=kind, prompt_id="p", score=score)


def test_repeated_ranking_drops_exactly_the_inconsistent_pairs():
    pairs = [_pair("a", "b"), _pair("c", "d"), _pair("e", "f")]
    repeats = [
        {"a": 0.9, "b": 0.1, "c": 0.4, "d": 0.6, "e": 0.7, "f": 0.2},  # c>d reversed
        {"a": 0.8, "b": 0.2, "c": 0.9, "d": 0.1, "e": None, "f": 0.2},  # e not judged: cannot confirm
    ]
    kept, dropped, stats = screen_pairs(pairs, ["repeats"], {}, repeats)
    assert [p.pair_id for p in kept] == ["a>b"]
    assert [(d["pair_id"], d["reasons"]) for d in dropped] == [("c>d", ["repeats"]), ("e>f", ["repeats"])]
    assert stats == {"screen/repeats": 2.0, "screen/dropped": 2.0}
    tie = [{"a": 0.5, "b": 0.5}]
    assert screen_pairs([_pair("a", "b")], ["repeats"], {}, tie)[0] == []  # a tie is not the same ranking


def test_verifier_screen_drops_pairs_the_verifiers_contradict():
    verdicts = {
        "a": [_j("a", "tests", 1.0, "verifier"), _j("a", "judge", 0.9)],
        "b": [_j("b", "tests", 0.0, "verifier"), _j("b", "judge", 0.1)],
        "c": [_j("c", "tests", 0.0, "verifier")],
        "d": [_j("d", "tests", 1.0, "verifier")],  # the judge preferred c, the tests say d
        "e": [_j("e", "tests", None, "verifier")],
        "f": [_j("f", "tests", 1.0, "verifier")],  # no verdict on e: nothing to contradict
    }
    kept, dropped, stats = screen_pairs(
        [_pair("a", "b"), _pair("c", "d"), _pair("e", "f")], ["verifiers"], verdicts
    )
    assert [p.pair_id for p in kept] == ["a>b", "e>f"] and [d["pair_id"] for d in dropped] == ["c>d"]
    assert stats["screen/verifiers"] == 1.0
    with pytest.raises(ValueError, match="unknown pair screen"):
        screen_pairs([], ["vibes"], {})


def test_verifier_agreement_counts_only_pairs_the_verifiers_tell_apart():
    verdicts = {
        "a": [_j("a", "tests", 1.0, "verifier"), _j("a", "api", 1.0, "verifier")],
        "b": [_j("b", "tests", 0.0, "verifier"), _j("b", "api", 1.0, "verifier")],  # a>b: tests agree
        "c": [_j("c", "tests", 0.0, "verifier")],
        "d": [_j("d", "tests", 1.0, "verifier")],  # c>d: the tests say d
        "e": [_j("e", "tests", 0.5, "verifier"), _j("e", "api", 0.0, "verifier")],
        "f": [_j("f", "tests", 0.0, "verifier"), _j("f", "api", 1.0, "verifier")],  # e>f: the two disagree
        "g": [_j("g", "tests", 1.0, "verifier")],
        "h": [_j("h", "tests", 1.0, "verifier")],  # g>h: a tie tells nothing
    }
    pairs = [_pair("a", "b"), _pair("c", "d"), _pair("e", "f"), _pair("g", "h")]
    assert verifier_agreement(pairs, verdicts) == {
        "pairs_verifiers_differ": 3.0,
        "pairs_verifier_agreement": 1 / 3,
    }
    assert verifier_agreement([_pair("g", "h")], verdicts) == {"pairs_verifiers_differ": 0.0}


def test_repeat_scores_use_the_domains_score_with_the_repeat_swapped_in():
    judge = SimpleNamespace(judge_id="judge")
    feedback = SimpleNamespace(
        judges=[judge],
        score=lambda prompt, cand, js: sum(j.score for j in js),  # the domain folds verifier + judge
    )
    cands = [Candidate(candidate_id=c, prompt_id="p", text=c) for c in ("a", "b")]
    verdicts = {c: [_j(c, "tests", 1.0, "verifier"), _j(c, "judge", 0.5)] for c in ("a", "b")}
    repeated = {"a": [_j("a", "judge#r1", 0.25)], "b": [_j("b", "judge#r1", None)]}
    (scores,) = repeat_scores(
        feedback, {"p": PromptRecord(prompt_id="p", text="q")}, cands, verdicts, repeated, 2
    )
    assert scores == {"a": 1.25, "b": None}


def test_with_length_adjustment_a_deterministic_repeat_ranks_pairs_as_the_adjusted_scores_do():
    """The pairs were made on length-adjusted scores; a repeat that judges alike must rank them alike,
    so it is adjusted too (unadjusted, the long candidate's raw lead would contradict the pair)."""
    from polyrlaif.core.screening import length_adjusted

    judge = SimpleNamespace(judge_id="judge")
    feedback = SimpleNamespace(judges=[judge], score=lambda prompt, cand, js: js[0].score)
    texts = {"short": "x", "long": "x" * 40, "s2": "y", "l2": "y" * 40}
    cands = [Candidate(candidate_id=c, prompt_id="p" if c in ("short", "long") else "q", text=t)
             for c, t in texts.items()]  # fmt: skip
    raw = {"short": 0.5, "long": 0.6, "s2": 0.2, "l2": 0.9}  # length buys 0.1 in p and 0.7 in q
    adjusted, slope = length_adjusted(cands, raw)
    assert slope > 0 and adjusted["short"] > adjusted["long"]  # in p, the short one wins once adjusted
    pair = _pair("short", "long")
    repeated = {c: [_j(c, "judge#r1", v)] for c, v in raw.items()}
    prompts = {p: PromptRecord(prompt_id=p, text=p) for p in "pq"}
    plain = repeat_scores(feedback, prompts, cands, {}, repeated, 2)
    fair = repeat_scores(feedback, prompts, cands, {}, repeated, 2, length_adjust=True)
    assert fair == [adjusted]
    assert (
        screen_pairs([pair], ["repeats"], {}, plain)[1] and not screen_pairs([pair], ["repeats"], {}, fair)[1]
    )


def test_a_repeated_judge_asks_afresh_under_its_own_id():
    calls = []

    class Judge:
        judge_id = "j"
        cache = "the cache"

        def judge(self, prompts, candidates, contexts=None):
            calls.append(self.cache)
            return [_j(c.candidate_id, self.judge_id, 0.5) for c in candidates]

    inner = Judge()
    got = RepeatedJudge(inner, 2).judge({}, [Candidate(candidate_id="a", prompt_id="p", text="x")])
    assert calls == [None] and inner.cache == "the cache"  # the cache was off for the repeat only
    assert [j.judge_id for j in got] == ["j#r2"]


def test_poisoned_pairs_are_injected_as_asked_and_the_verifier_screen_finds_the_flips():
    from polyrlaif.core.poison import inject, poison_report

    # ten clean pairs, each ordered as the tests order them; odd pairs have the longer text rejected
    pairs, verdicts = [], {}
    for i in range(10):
        good, bad = f"g{i}", f"b{i}"
        p = PreferencePair(pair_id=f"p{i}", prompt_id="p", prompt="q", chosen="x" * (3 if i % 2 else 9),
                           rejected="x" * (9 if i % 2 else 3), chosen_id=good, rejected_id=bad)  # fmt: skip
        pairs.append(p)
        verdicts[good] = [_j(good, "tests", 1.0, "verifier")]
        verdicts[bad] = [_j(bad, "tests", 0.0, "verifier")]
    poisoned, flags = inject(pairs, 0.3, "flipped", seed=1)
    assert sum(flags) == 3 and all(
        p.chosen_id.startswith("b") for p, f in zip(poisoned, flags, strict=True) if f
    )
    targeted, tflags = inject(pairs, 0.3, "targeted", seed=1)
    assert sum(tflags) == 3 and all(
        i % 2 == 1 for i, f in enumerate(tflags) if f
    )  # only longer-rejected pairs
    assert all(
        len(p.chosen) > len(p.rejected) for p, f in zip(targeted, tflags, strict=True) if f
    )  # now length wins
    report = poison_report(pairs, ["verifiers"], verdicts, rates=[0.3])
    for row in report:
        assert row["poisoned"] == 3 and row["recall"]["value"] == 1.0
        assert row["false_positive_rate"]["value"] == 0.0
    with pytest.raises(ValueError, match="rate"):
        inject(pairs, 1.5, "flipped")


def test_length_adjusted_scores_keep_no_within_group_length_effect():
    from polyrlaif.core.screening import length_adjusted

    # two prompts; within each, every 10 characters buy 0.1 on top of a per-prompt quality
    cands, scores = [], {}
    for pid, base, lengths in (("p", 0.2, [10, 20, 40]), ("q", 0.7, [5, 35])):
        for i, n in enumerate(lengths):
            c = Candidate(candidate_id=f"{pid}/{i}", prompt_id=pid, text="x" * n)
            cands.append(c)
            scores[c.candidate_id] = base + 0.01 * n
    cands.append(Candidate(candidate_id="q/held", prompt_id="q", text="x" * 99))
    scores["q/held"] = None
    adjusted, slope = length_adjusted(cands, scores)
    assert slope == pytest.approx(0.01)
    assert adjusted["q/held"] is None
    for pid in ("p", "q"):  # what is left within a prompt is its quality alone: all equal
        got = [adjusted[c.candidate_id] for c in cands if c.prompt_id == pid and c.candidate_id != "q/held"]
        assert max(got) - min(got) == pytest.approx(0.0, abs=1e-12)
    # each prompt keeps its mean score: between prompts nothing moves
    assert adjusted["q/0"] - adjusted["p/0"] == pytest.approx((0.7 + 0.01 * 20) - (0.2 + 0.01 * 70 / 3))
