"""Pair building: best vs worst, margins, ties, caps, identical texts, failures counted."""

from polyrlaif.core.pairs import build_pairs
from polyrlaif.core.records import Candidate, PromptRecord


def _setup(scores_by_prompt, texts=None):
    prompts, cands, scores = {}, [], {}
    for pid, scores_list in scores_by_prompt.items():
        prompts[pid] = PromptRecord(
            prompt_id=pid, text=f"question {pid}", messages=[{"role": "user", "content": pid}]
        )
        for j, s in enumerate(scores_list):
            cid = f"{pid}/{j}"
            text = (texts or {}).get(cid, f"answer {pid} {j}")
            cands.append(Candidate(candidate_id=cid, prompt_id=pid, text=text))
            scores[cid] = s
    return prompts, cands, scores


def test_best_against_worst_with_cap():
    prompts, cands, scores = _setup({"p": [0.2, 1.0, 0.0, 0.7]})
    pairs, stats = build_pairs(prompts, cands, scores, max_pairs_per_prompt=2)
    assert [(p.chosen_id, p.rejected_id) for p in pairs] == [("p/1", "p/2"), ("p/3", "p/0")]
    assert [round(p.margin, 6) for p in pairs] == [1.0, 0.5]
    assert pairs[0].prompt == [{"role": "user", "content": "p"}]
    assert pairs[0].provenance["chosen_score"] == 1.0
    pairs1, _ = build_pairs(prompts, cands, scores, max_pairs_per_prompt=1)
    assert len(pairs1) == 1


def test_ties_and_margin_and_failures():
    prompts, cands, scores = _setup({"tie": [1.0, 1.0, 1.0], "small": [0.5, 0.45], "one": [1.0, None]})
    pairs, stats = build_pairs(prompts, cands, scores, min_margin=0.1, max_pairs_per_prompt=2)
    assert pairs == []
    assert stats.prompts_all_tied == 1
    assert stats.below_margin == 1
    assert stats.unscored == 1 and stats.prompts_too_few == 1


def test_identical_texts_are_not_paired():
    prompts, cands, scores = _setup({"p": [1.0, 0.0, 0.5]}, texts={"p/0": "same", "p/1": "same "})
    pairs, stats = build_pairs(prompts, cands, scores, max_pairs_per_prompt=1)
    assert stats.identical_text == 1
    assert [(p.chosen_id, p.rejected_id) for p in pairs] == [("p/0", "p/2")]


def test_pair_ids_are_deterministic():
    prompts, cands, scores = _setup({"p": [0.0, 1.0]})
    a, _ = build_pairs(prompts, cands, scores)
    b, _ = build_pairs(prompts, list(reversed(cands)), scores)
    assert a[0].pair_id == b[0].pair_id


def test_all_strategy_rlaif_v_margin_and_cap():
    # RLAIF-V scores: minus rejected claims. Margin >= 1, at most 2 pairs per prompt, largest margin first.
    prompts, cands, scores = _setup({"p": [0.0, -1.0, -3.0, 0.0]})
    pairs, stats = build_pairs(prompts, cands, scores, min_margin=1.0, max_pairs_per_prompt=2, strategy="all")
    # qualifying: (0,2)=3, (3,2)=3, (0,1)=1, (3,1)=1, (1,2)=2; ties (0,3) never pair
    assert [(p.chosen_id, p.rejected_id, p.margin) for p in pairs] == [
        ("p/0", "p/2", 3.0),
        ("p/3", "p/2", 3.0),
    ]
    assert stats.capped == 3 and stats.below_margin == 1  # the tie
    capped, _ = build_pairs(
        prompts, cands, scores, min_margin=1.0, max_pairs_per_prompt=5, strategy="all",
        max_uses_per_candidate=1,
    )  # fmt: skip
    used = [c for p in capped for c in (p.chosen_id, p.rejected_id)]
    assert len(used) == len(set(used)) == 4  # each response in at most one pair


def test_pairs_carry_the_prompts_media():
    from polyrlaif.core.records import MediaRef

    prompts, cands, scores = _setup({"p": [1.0, 0.0]})
    prompts["p"].media = [MediaRef(kind="image", uri="img/p.png")]
    [pair], _ = build_pairs(prompts, cands, scores)
    assert [m.uri for m in pair.media] == ["img/p.png"]
    back = type(pair).from_dict(pair.to_dict())
    assert back.media == pair.media


def _pairs_with_lengths(lengths):
    from polyrlaif.core.records import PreferencePair

    return [
        PreferencePair(
            pair_id=str(i), prompt_id=str(i), prompt="q", chosen="w " * c, rejected="w " * r, margin=1.0
        )
        for i, (c, r) in enumerate(lengths)
    ]


def test_length_balance_removes_the_length_bias():
    from polyrlaif.core.pairs import length_balance

    # chosen longer on average: 10/5 (ratio 2), 12/4 (3), 6/6 (1), 5/10 (0.5 -> never pushes the bias)
    pairs = _pairs_with_lengths([(10, 5), (12, 4), (6, 6), (5, 10)])
    kept, rep = length_balance(pairs, tolerance=0.02)
    assert rep.direction == "chosen_longer"
    assert (rep.mean_chosen_before, rep.mean_rejected_before) == (8.25, 6.25)
    # threshold 1 keeps (6,6),(5,10): gap 2.5; threshold 2 adds (10,5): gap 0 -> best; 3 adds (12,4): gap 2
    assert rep.threshold == 2.0 and [p.pair_id for p in kept] == ["0", "2", "3"]
    assert rep.mean_chosen_after == rep.mean_rejected_after == 7.0
    # already balanced: nothing is dropped and no threshold is chosen
    same, rep2 = length_balance(_pairs_with_lengths([(5, 6), (6, 5)]))
    assert len(same) == 2 and rep2.threshold is None and rep2.direction == "balanced"


def test_random_direction_control_flips_about_half_the_same_pairs():
    prompts, cands, scores = _setup({f"q{i}": [1.0, 0.0] for i in range(200)})
    judged, _ = build_pairs(prompts, cands, scores)
    control, stats = build_pairs(prompts, cands, scores, random_direction=True)
    assert {frozenset((p.chosen_id, p.rejected_id)) for p in control} == {
        frozenset((p.chosen_id, p.rejected_id)) for p in judged
    }  # the same pairs, only their order changes
    flipped = [p for p in control if p.chosen_id.endswith("/1")]
    assert stats.flipped == len(flipped) and 70 < len(flipped) < 130  # a fair coin over 200 pairs
    assert all(p.margin == -1.0 for p in flipped)
    again, _ = build_pairs(prompts, list(reversed(cands)), scores, random_direction=True)
    assert {p.pair_id for p in again} == {p.pair_id for p in control}  # the same coin on a rerun


def test_reverse_swaps_every_side_of_a_pair():
    from polyrlaif.core.pairs import reverse

    prompts, cands, scores = _setup({"p": [1.0, 0.25]})
    (pair,), _ = build_pairs(prompts, cands, scores, provenance={"p/0": {"j": 1}, "p/1": {"j": 0}})
    back = reverse(pair)
    assert (back.chosen_id, back.rejected_id, back.chosen, back.margin) == ("p/1", "p/0", "answer p 1", -0.75)
    assert back.provenance["chosen"] == {"j": 0} and back.provenance["chosen_score"] == 0.25
    assert reverse(back) == pair
