"""The unit LM (``domains/spoken_lm/adapter.py``): the tiny model and its tokenizer, the continuation
template under the policy and DPO's prompt/completion split, and packed utterance scoring against
one-at-a-time forward passes."""

from __future__ import annotations

import random
import re

import pytest
import torch

from polyrlaif.domains.spoken_lm.adapter import (
    ADAPTER,
    CONTINUATION_TEMPLATE,
    UnitLMPolicy,
    build_tiny_unit_lm,
    score_utterances,
)
from polyrlaif.domains.spoken_lm.units import units_to_text

N_UNITS = 24
UNITS = [f"<u{i}>" for i in range(N_UNITS)]
PATTERN = [1, 2, 3, 4, 5, 6]  # the sequence the trained model learns, repeated


@pytest.fixture(autouse=True)
def _one_thread(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # the policy would otherwise take every core
    torch.set_num_threads(1)


@pytest.fixture(scope="module")
def unit_lm(tmp_path_factory):
    return build_tiny_unit_lm(tmp_path_factory.mktemp("lm") / "unit_lm", UNITS, hidden=32, max_positions=256)


@pytest.fixture(scope="module")
def loaded(unit_lm):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    return AutoModelForCausalLM.from_pretrained(unit_lm).eval(), AutoTokenizer.from_pretrained(unit_lm)


@pytest.fixture(scope="module")
def trained(unit_lm, tmp_path_factory):
    """The tiny LM after 40 SFT steps on the pattern repeated, saved as a new model directory."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.set_num_threads(1)
    model = AutoModelForCausalLM.from_pretrained(unit_lm)
    tok = AutoTokenizer.from_pretrained(unit_lm)
    ids = torch.tensor([tok(units_to_text(PATTERN * 5))["input_ids"]])  # BOS + 30 units
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
    model.train()
    for _ in range(40):
        loss = model(input_ids=ids, labels=ids).loss
        loss.backward()
        opt.step()
        opt.zero_grad()
    out = tmp_path_factory.mktemp("lm") / "trained"
    model.eval().save_pretrained(out)
    tok.save_pretrained(out)
    return out


def test_tokenizer_reads_unit_text(loaded):
    _, tok = loaded
    assert len(tok) == N_UNITS + 4
    ids = tok("<u3> <u17>\n<u0>")["input_ids"]
    assert ids == [tok.bos_token_id, 7, 21, 4]  # BOS in front, units after the 4 special tokens
    assert tok.decode(ids, skip_special_tokens=True) == "<u3> <u17> <u0>"
    assert tok("<u99>", add_special_tokens=False)["input_ids"] == [tok.unk_token_id]
    assert tok.chat_template == CONTINUATION_TEMPLATE
    conv = [{"role": "user", "content": "<u1> <u2>"}, {"role": "assistant", "content": "<u3>"}]
    assert tok.apply_chat_template(conv, tokenize=False) == "<s><u1> <u2> <u3> "
    assert tok.apply_chat_template(conv[:1], tokenize=False, add_generation_prompt=True) == "<s><u1> <u2> "


def test_dpo_tokenisation_splits_prompt_and_completion(loaded):
    from polyrlaif.core.trainers.dpo_step import tokenize_pairs

    _, tok = loaded
    rows = [
        {
            "prompt": [{"role": "user", "content": "<u1> <u2> <u3>"}],
            "chosen": [{"role": "assistant", "content": "<u4> <u5>"}],
            "rejected": [{"role": "assistant", "content": "<u9>"}],
        },
        {  # a prompt of two turns is their concatenation
            "prompt": [{"role": "user", "content": "<u1>"}, {"role": "user", "content": "<u2>"}],
            "chosen": [{"role": "assistant", "content": "<u1> <u1>"}],
            "rejected": [{"role": "assistant", "content": "<u2> <u1> <u3>"}],
        },
    ]
    unit = tok.convert_tokens_to_ids
    first, second = tokenize_pairs(tok, rows, max_length=None)
    assert first["prompt_ids"] == [tok.bos_token_id, unit("<u1>"), unit("<u2>"), unit("<u3>")]
    assert first["chosen_ids"] == [unit("<u4>"), unit("<u5>")]
    assert first["rejected_ids"] == [unit("<u9>")]
    assert second["prompt_ids"] == [tok.bos_token_id, unit("<u1>"), unit("<u2>")]
    assert second["chosen_ids"] == [unit("<u1>"), unit("<u1>")]
    assert second["rejected_ids"] == [unit("<u2>"), unit("<u1>"), unit("<u3>")]


def test_policy_generates_unit_strings(unit_lm):
    policy = ADAPTER.load(str(unit_lm), device="cpu", batch_size=2)
    assert isinstance(policy, UnitLMPolicy)
    convs = [[{"role": "user", "content": "<u1> <u2> <u3>"}], [{"role": "user", "content": "<u7>"}]] * 2
    out = policy.generate(convs, n=3, temperature=1.0, max_new_tokens=12, seed=0)
    assert len(out) == 4 and all(len(c) == 3 for c in out)
    texts = [t for c in out for t in c]
    assert all(re.fullmatch(r"(<u\d+>( <u\d+>)*)?", t) for t in texts), texts
    assert sum(len(t.split()) for t in texts) > 12 * 3  # mostly full continuations, not empty ones
    assert out == policy.generate(convs, n=3, temperature=1.0, max_new_tokens=12, seed=0)
    policy.close()


def test_policy_gives_a_templateless_unit_lm_the_continuation_template(unit_lm, tmp_path):
    import shutil

    from polyrlaif.core.policy import CausalLMPolicy

    bare = tmp_path / "bare"
    shutil.copytree(unit_lm, bare)
    (bare / "chat_template.jinja").unlink()
    with pytest.raises(ValueError, match="no chat template"):
        CausalLMPolicy(str(bare), device="cpu")
    policy = ADAPTER.load(str(bare), device="cpu")
    assert policy.tokenizer.chat_template == CONTINUATION_TEMPLATE
    assert policy.render([{"role": "user", "content": "<u5> <u6>"}]) == "<s><u5> <u6> "


def one_at_a_time(model, tok, texts):
    """The reference: each utterance alone through the model, full log-softmax, gather."""
    out = []
    with torch.no_grad():
        for text in texts:
            ids = torch.tensor([[tok.bos_token_id] + tok(text, add_special_tokens=False)["input_ids"]])
            logps = model(input_ids=ids).logits[0, :-1].log_softmax(-1).gather(1, ids[0, 1:, None])[:, 0]
            out.append((logps.sum().item(), logps.mean().item() if len(logps) else 0.0))
    return out


def test_score_utterances_packed_equals_padded_equals_one_at_a_time(loaded, monkeypatch):
    from polyrlaif.domains.spoken_lm import adapter

    model, tok = loaded
    rng = random.Random(0)
    texts = [units_to_text(rng.choices(range(N_UNITS), k=rng.randint(1, 120))) for _ in range(11)]
    texts.insert(3, "")  # nothing to score
    reference = one_at_a_time(model, tok, texts)
    padded = score_utterances(model, tok, texts, batch_size=4, packed=False)
    with monkeypatch.context() as m:  # the packed path must not fall back to padding here
        m.setattr(adapter, "_padded_sums", lambda *a, **k: pytest.fail("packed scoring fell back to padding"))
        packed = score_utterances(model, tok, texts, batch_size=5)
        single_batch = score_utterances(model, tok, texts, batch_size=100)
    assert packed[3] == padded[3] == (0.0, 0.0)
    for got in (padded, packed, single_batch):
        assert torch.allclose(torch.tensor(got), torch.tensor(reference), rtol=1e-5, atol=1e-4)
    # an eager-attention model packs the same way (its attention swapped for per-utterance sdpa)
    model.set_attn_implementation("eager")
    try:
        eager = score_utterances(model, tok, texts, batch_size=5)
    finally:
        model.set_attn_implementation("sdpa")
    assert torch.allclose(torch.tensor(eager), torch.tensor(reference), rtol=1e-5, atol=1e-4)


def test_trained_pattern_scores_higher_and_is_continued(trained):
    policy = ADAPTER.load(str(trained), device="cpu", batch_size=4)
    pattern = units_to_text(PATTERN * 3)
    shuffled = units_to_text([3, 1, 6, 2, 5, 4, 2, 6, 1, 4, 3, 5, 6, 4, 2, 1, 5, 3])
    other = units_to_text([9, 10, 11, 12, 13, 14] * 3)
    (s_pat, m_pat), (s_shuf, _), (s_other, _) = policy.score([pattern, shuffled, other])
    assert s_pat > s_shuf + 10 and s_pat > s_other + 10
    assert m_pat > -0.5  # under 0.6 nats per unit: the pattern is learnt
    out = policy.generate([[{"role": "user", "content": units_to_text(PATTERN[:4])}]], max_new_tokens=8)
    assert out[0][0].split()[:4] == ["<u5>", "<u6>", "<u1>", "<u2>"]
    policy.close()


def test_packed_scoring_restarts_positions_for_absolute_position_models(loaded, tmp_path):
    """TWIST's smaller models are OPT: learned absolute positions, so each utterance must start at 0."""
    from transformers import AutoModelForCausalLM, OPTConfig, OPTForCausalLM

    _, tok = loaded
    config = OPTConfig(
        vocab_size=len(tok),
        hidden_size=32,
        ffn_dim=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        word_embed_proj_dim=32,
        max_position_embeddings=256,
        pad_token_id=tok.pad_token_id,
        bos_token_id=tok.bos_token_id,
        eos_token_id=tok.eos_token_id,
    )
    torch.manual_seed(0)
    OPTForCausalLM(config).save_pretrained(tmp_path / "opt")
    model = AutoModelForCausalLM.from_pretrained(tmp_path / "opt").eval()
    rng = random.Random(1)
    texts = [units_to_text(rng.choices(range(N_UNITS), k=rng.randint(1, 60))) for _ in range(6)]
    reference = torch.tensor(one_at_a_time(model, tok, texts))
    packed = torch.tensor(score_utterances(model, tok, texts, batch_size=6))
    assert torch.allclose(packed, reference, rtol=1e-5, atol=1e-4)
