"""The fused head log-probabilities against the composed operations they replace: values and the
gradients of the hidden states and of the head (tied to the embeddings or not, with a bias, a logit
scale, a temperature, several chunks), and the composed path for heads it does not fuse."""

from __future__ import annotations

import pytest
import torch

from polyrlaif.core.packed_lm import head_logits
from polyrlaif.core.token_logps import token_logps


def _lm(tie: bool = True, **extra):
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    cfg = LlamaConfig(vocab_size=97, hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                      num_attention_heads=4, num_key_value_heads=2, tie_word_embeddings=tie,
                      **extra)  # fmt: skip
    return LlamaForCausalLM(cfg).float()


def _composed(lm, states, targets, temperature):
    logits = head_logits(lm, states) / temperature
    return (logits.gather(1, targets[:, None]) - logits.logsumexp(1, keepdim=True))[:, 0]


def _grads(lm, fn, states, targets):
    lm.zero_grad(set_to_none=True)
    x = states.clone().requires_grad_()
    out = fn(x)
    (out * torch.linspace(-1.0, 2.0, len(out))).sum().backward()  # a weight per token, some negative
    return out.detach(), x.grad, lm.get_output_embeddings().weight.grad.clone()


@pytest.mark.parametrize("tie", [True, False])
@pytest.mark.parametrize(("temperature", "chunk_size"), [(1.0, 1024), (0.7, 5)])
def test_fused_head_equals_the_composed_operations(tie, temperature, chunk_size):
    lm = _lm(tie)
    states = torch.randn(23, 32)
    targets = torch.randint(0, 97, (23,))
    ref = _grads(lm, lambda x: _composed(lm, x, targets, temperature), states, targets)

    def fused(x):
        return token_logps(lm, x, targets, temperature=temperature, chunk_size=chunk_size)

    got = _grads(lm, fused, states, targets)
    for a, b in zip(ref, got, strict=True):
        torch.testing.assert_close(b, a, rtol=1e-5, atol=1e-6)


def test_a_head_with_a_bias_and_a_logit_scale():
    lm = _lm(False, logit_scale=0.5)  # Cohere-style multiplier, read from the config
    head = lm.get_output_embeddings()
    lm.lm_head = torch.nn.Linear(32, 97, bias=True)
    with torch.no_grad():
        lm.lm_head.weight.copy_(head.weight)
        lm.lm_head.bias.normal_()
    states, targets = torch.randn(9, 32), torch.randint(0, 97, (9,))
    ref = _composed(lm, states.requires_grad_(), targets, 1.0)
    ref.sum().backward()
    want_bias = lm.lm_head.bias.grad.clone()
    lm.zero_grad(set_to_none=True)
    got = token_logps(lm, states, targets, chunk_size=4)
    got.sum().backward()
    torch.testing.assert_close(got, ref, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(lm.lm_head.bias.grad, want_bias, rtol=1e-5, atol=1e-6)


def test_without_gradients_and_with_a_head_it_does_not_fuse():
    lm = _lm()
    states, targets = torch.randn(7, 32), torch.randint(0, 97, (7,))
    with torch.no_grad():
        torch.testing.assert_close(token_logps(lm, states, targets), _composed(lm, states, targets, 1.0))
    lm.config.final_logit_softcapping = 3.0  # Gemma-style soft cap: the composed path, the same numbers
    torch.testing.assert_close(token_logps(lm, states, targets), _composed(lm, states, targets, 1.0))
    assert token_logps(lm, states[:0], targets[:0]).shape == (0,)
