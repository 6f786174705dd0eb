"""The log-likelihood judge (``core/judges/loglik.py``): exp(mean token log-prob of the response after
the rendered context) from a real local LM, checked against a direct transformers computation; empty
responses and backends without log-probs fail with reasons; answers come back from the cache."""

from __future__ import annotations

import math

import pytest
import torch

from polyrlaif.core.judges.backends import TransformersBackend
from polyrlaif.core.judges.cache import JudgeCache
from polyrlaif.core.judges.loglik import LogLikelihoodJudge
from polyrlaif.core.records import Candidate, PromptRecord


def _direct(path: str, context: str, response: str) -> float:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(path)
    model = AutoModelForCausalLM.from_pretrained(path).eval()
    ctx = tok(context, add_special_tokens=False)["input_ids"]
    res = tok(" " + response, add_special_tokens=False)["input_ids"]
    with torch.no_grad():
        logits = model(torch.tensor([ctx + res])).logits[0, :-1].log_softmax(-1)
    target = torch.tensor(ctx + res)[1:]
    lp = logits.gather(1, target[:, None])[:, 0][len(ctx) - 1 :]
    return math.exp(float(lp.mean()))


def test_scores_are_the_geometric_mean_token_probability(tiny_lm_path, tmp_path):
    prompts = {"p": PromptRecord("p", "Tom went to the park. He")}
    cands = [Candidate("a", "p", "played with a ball."), Candidate("b", "p", "ball ball the the."),
             Candidate("c", "p", "   ")]  # fmt: skip
    cache = JudgeCache(tmp_path / "cache.sqlite")
    judge = LogLikelihoodJudge(TransformersBackend(tiny_lm_path, device="cpu", batch_size=2), cache=cache)
    got = judge.judge(prompts, cands)

    for j, c in zip(got[:2], cands[:2], strict=True):
        assert j.failure is None and 0 < j.score <= 1
        assert j.score == pytest.approx(_direct(tiny_lm_path, prompts["p"].text, c.text), rel=1e-4)
        assert j.scores["tokens"] >= 1 and j.scores["mean_logprob"] == pytest.approx(math.log(j.score))
    assert got[2].failure == "empty_response: no token to score" and got[2].score is None
    assert judge.stats.failures == {"empty_response": 1}

    fresh = LogLikelihoodJudge(TransformersBackend(tiny_lm_path, device="cpu"), cache=cache)
    again = fresh.judge(prompts, cands)
    assert all(j.cached for j in again) and [j.score for j in again] == [j.score for j in got]


def test_a_backend_without_log_probs_fails_every_judgment_with_its_reason():
    class Endpoint:  # an OpenAI-compatible backend's surface: no continuation_logprobs
        name = "openai:some-model"

    judge = LogLikelihoodJudge(Endpoint())  # type: ignore[arg-type]
    (j,) = judge.judge({"p": PromptRecord("p", "x")}, [Candidate("a", "p", "y")])
    assert j.score is None and j.failure.startswith("unsupported_backend: openai:some-model")


def test_pmi_scores_how_much_the_context_raises_the_response(tiny_lm_path):
    """``pmi``: sigmoid of the per-token log-prob after the context minus after nothing."""
    prompts = {"p": PromptRecord("p", "Tom went to the park. He")}
    cand = Candidate("a", "p", "played with a ball.")
    backend = TransformersBackend(tiny_lm_path, device="cpu")
    plain = LogLikelihoodJudge(backend)
    (j,) = LogLikelihoodJudge(backend, pmi=True).judge(prompts, [cand])
    (bare,) = backend.continuation_logprobs([("", "played with a ball.")])

    assert j.scores["bare_logprob"] == pytest.approx(bare[0])
    want = (j.scores["logprob"] - bare[0]) / j.scores["tokens"]
    assert j.scores["mean_pmi"] == pytest.approx(want)
    assert j.score == pytest.approx(1 / (1 + math.exp(-want)))
    assert LogLikelihoodJudge(backend, pmi=True).judge_id != plain.judge_id
