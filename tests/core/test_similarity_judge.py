"""The similarity judge (``core/judges/similarity.py``): max(cosine of sentence embeddings, 0) from the
packaged all-MiniLM-L6-v2, checked against sentence-transformers directly; built from a judge config;
empty responses and generative backends fail with reasons; answers come back from the cache."""

from __future__ import annotations

import numpy as np
import pytest

from polyrlaif.core.config import JudgeConfig
from polyrlaif.core.judges.backends import build_backend
from polyrlaif.core.judges.cache import JudgeCache
from polyrlaif.core.judges.similarity import SimilarityJudge, novel_share
from polyrlaif.core.records import Candidate, PromptRecord
from polyrlaif.core.text_encoder import DEFAULT_ENCODER, resolve_encoder


def test_scores_are_the_cosine_of_the_embeddings(tmp_path):
    from sentence_transformers import SentenceTransformer

    prompts = {"p": PromptRecord("p", "In the morning Emma went to the beach. The sea was calm.")}
    texts = ("Emma found shells in the sand.", "Max put the cake in the oven.", "  ")
    cands = [Candidate(c, "p", t) for c, t in zip("abc", texts, strict=True)]
    cache = JudgeCache(tmp_path / "cache.sqlite")
    encoder = build_backend(JudgeConfig(backend="sentence_transformers", model=DEFAULT_ENCODER))
    judge = SimilarityJudge(encoder, cache=cache, progress=False)
    got = judge.judge(prompts, cands)

    direct = SentenceTransformer(resolve_encoder(DEFAULT_ENCODER), device="cpu")
    ctx, *resp = direct.encode([prompts["p"].text, cands[0].text, cands[1].text], normalize_embeddings=True)
    for j, r in zip(got[:2], resp, strict=True):
        assert j.failure is None and j.score == pytest.approx(float(np.dot(ctx, r)), abs=1e-5)
    assert got[0].score > got[1].score + 0.1  # the beach continuation is closer to the beach story
    assert got[2].score is None and got[2].failure.startswith("empty_response")
    assert judge.stats.failures == {"empty_response": 1}
    assert judge.judge_id.startswith(f"similarity:{DEFAULT_ENCODER}:")

    again = SimilarityJudge(encoder, cache=cache, progress=False).judge(prompts, cands[:2])
    assert all(j.cached for j in again) and [j.score for j in again] == [j.score for j in got[:2]]


def test_a_generative_backend_fails_every_judgment_with_its_reason():
    class Endpoint:  # a chat endpoint's surface: no embeddings
        name = "openai:some-model"

    judge = SimilarityJudge(Endpoint(), progress=False)
    got = judge.judge({"p": PromptRecord("p", "a story")}, [Candidate("a", "p", "more of it")])
    assert got[0].score is None and got[0].failure.startswith("unsupported_backend")
    assert judge.stats.failures == {"unsupported_backend": 1}


def test_novelty_weighs_the_cosine_so_restating_the_context_does_not_pay():
    prompts = {"p": PromptRecord("p", "In the morning Emma went to the beach. The sea was calm.")}
    restated = "Emma went to the beach. The sea was calm."
    continued = "Emma found shells in the sand."
    cands = [Candidate("a", "p", restated), Candidate("b", "p", continued)]
    encoder = build_backend(JudgeConfig(backend="sentence_transformers", model=DEFAULT_ENCODER))
    plain = SimilarityJudge(encoder, progress=False)
    novel = SimilarityJudge(encoder, novelty=True, progress=False)
    p, n = plain.judge(prompts, cands), novel.judge(prompts, cands)

    assert p[0].score > p[1].score  # the plain cosine prefers the echo
    assert n[1].score > n[0].score  # weighed by novelty, the continuation wins
    assert novel_share(prompts["p"].text, restated) == 0.0
    assert novel_share(prompts["p"].text, continued) == pytest.approx(3 / 6)  # found, shells, sand
    for a, b in zip(p, n, strict=True):
        assert b.scores["cosine"] == pytest.approx(a.scores["cosine"])
        assert b.score == pytest.approx(a.score * b.scores["novelty"])
    assert novel.judge_id != plain.judge_id and "novelty" not in p[0].scores
