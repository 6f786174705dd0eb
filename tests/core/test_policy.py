"""CausalLMPolicy on the tiny model: seeding, n samples, greedy vs sampling, batching."""

from __future__ import annotations

import pytest
import torch

from polyrlaif.core.policy import CausalLMPolicy
from polyrlaif.core.protocols import Policy

CONVS = [
    [{"role": "user", "content": text}]
    for text in [
        "hi",
        "What is the capital of France? Tell me now, please.",
        "def add(a, b):",
        "xxx",
        "The quick brown fox jumps over the lazy dog again and again and again.",
    ]
]


@pytest.fixture(scope="module")
def policy(tiny_lm_path):
    pol = CausalLMPolicy(tiny_lm_path, device="cpu", batch_size=3)
    yield pol
    pol.close()


def test_is_a_policy_with_resolved_path(policy, tiny_lm_path):
    assert isinstance(policy, Policy)
    assert policy.model_id == tiny_lm_path and policy.model_path == tiny_lm_path


def test_same_seed_same_samples_other_seed_other_samples(policy):
    kw = dict(n=3, temperature=1.0, top_p=0.95, max_new_tokens=12)
    a = policy.generate(CONVS, seed=7, **kw)
    assert policy.generate(CONVS, seed=7, **kw) == a
    assert policy.generate(CONVS, seed=8, **kw) != a


def test_n_samples_per_prompt_differ_when_sampling(policy):
    out = policy.generate(CONVS, n=4, temperature=1.0, max_new_tokens=12, seed=0)
    assert [len(r) for r in out] == [4] * len(CONVS)
    assert all(isinstance(t, str) for r in out for t in r)
    assert sum(len(set(r)) for r in out) > len(CONVS)  # not all n copies identical


def test_greedy_repeats_and_ignores_seed(policy):
    a = policy.generate(CONVS, n=3, temperature=0.0, max_new_tokens=12, seed=1)
    assert all(len(set(r)) == 1 for r in a)
    assert policy.generate(CONVS, n=3, temperature=0.0, max_new_tokens=12, seed=2) == a
    # greedy continuations differ between prompts (the batching test below relies on it)
    assert len({r[0] for r in a}) > 1


def test_batched_greedy_equals_one_by_one(policy, tiny_lm_path):
    batched = policy.generate(CONVS, max_new_tokens=16)
    single = CausalLMPolicy(tiny_lm_path, device="cpu", batch_size=1)
    try:
        assert single.generate(CONVS, max_new_tokens=16) == batched
    finally:
        single.close()


def test_returns_only_the_new_text(policy):
    """The completion equals a hand-run generate, decoded from the first new token."""
    tok, model = policy.tokenizer, policy.model
    prompt = policy.render(CONVS[1])
    ids = tok(prompt, return_tensors="pt", add_special_tokens=False).input_ids
    with torch.no_grad():
        out = model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=10, do_sample=False)
    expected = tok.decode(out[0, ids.shape[1] :], skip_special_tokens=True)
    assert policy.generate([CONVS[1]], max_new_tokens=10) == [[expected]]


def test_caller_rng_is_untouched(policy):
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    policy.generate(CONVS[:2], n=2, temperature=1.0, max_new_tokens=4, seed=5)
    assert torch.equal(torch.rand(3), expected)


def test_bad_arguments(policy, tiny_lm_path):
    with pytest.raises(ValueError, match="n must be"):
        policy.generate(CONVS, n=0)
    with pytest.raises(ValueError, match="batch_size"):
        CausalLMPolicy(tiny_lm_path, batch_size=0)


def test_stats_count_generated_tokens(tiny_lm_path):
    pol = CausalLMPolicy(tiny_lm_path, device="cpu", batch_size=2)
    pol.generate(CONVS[:3], n=2, temperature=1.0, max_new_tokens=5)
    assert pol.stats["sequences"] == 6
    assert 6 <= pol.stats["new_tokens"] <= 30
    pol.close()
    assert pol.model is None


def test_the_bar_moves_with_each_decoding_step_inside_a_batch(policy):
    """The generate bar counts decoding steps, so it advances (and shows an ETA) while a batch decodes,
    not once per batch; a batch that stops early is settled to its full share."""
    from polyrlaif.core.policy import DecodeSteps

    class Counter:
        n = 0

        def update(self, k=1):
            self.n += k

    seen = Counter()
    convs = [[{"role": "user", "content": f"count to {i}"}] for i in range(3)]
    out = policy._generate_batch(convs, n=2, temperature=1.0, top_p=1.0, max_new_tokens=6, seed=0,
                                 streamer=DecodeSteps(seen))  # fmt: skip
    assert len(out) == 3 and 1 <= seen.n <= 6  # one tick per step of the batch, never more than the budget
    out = policy.generate(convs, n=2, temperature=1.0, max_new_tokens=6)
    assert [len(x) for x in out] == [2, 2, 2]  # the bar's streamer leaves the completions as they are
