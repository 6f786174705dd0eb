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
