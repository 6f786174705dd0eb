"""KV reuse across turns (``core/prefix_cache.py``): on the tiny chat model, four turns of greedy
generation over conversations that grow by what was generated and an observation of a different
length each give exactly the tokens a plain left-padded ``generate`` over the whole contexts gives,
while most context tokens come from the cache; a conversation that departs from what was kept (the
agent keeps only a turn's first action) reuses only the common prefix."""

from __future__ import annotations

import torch

from polyrlaif.core.prefix_cache import PrefixCache


def _plain(model, contexts, pad, **kw):
    longest = max(map(len, contexts))
    ids = torch.full((len(contexts), longest), pad)
    mask = torch.zeros_like(ids)
    for i, c in enumerate(contexts):
        ids[i, longest - len(c) :] = torch.tensor(c)
        mask[i, longest - len(c) :] = 1
    with torch.no_grad():
        out = model.generate(input_ids=ids, attention_mask=mask, pad_token_id=pad, **kw)
    return out[:, longest:].tolist()


def test_reused_turns_generate_what_plain_generation_does(tiny_lm_path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_lm_path)
    model = AutoModelForCausalLM.from_pretrained(tiny_lm_path, dtype=torch.float32).eval()
    pad, eos = tok.pad_token_id, tok.eos_token_id
    settings = {"do_sample": False, "max_new_tokens": 6}
    # two rows of one question (they share their start) and a third
    contexts = [[5, 6, 7, 8, 9], [5, 6, 7, 8, 9], [11, 12, 13]]
    cache = PrefixCache()
    for turn in range(4):
        plain = _plain(model, contexts, pad, **settings)
        assert cache.generate(model, contexts, pad, **settings) == plain, f"turn {turn}"
        grown = []
        for i, (c, g) in enumerate(zip(contexts, plain, strict=True)):
            cut = next((j + 1 for j, t in enumerate(g) if t == eos), len(g))
            kept = g[:cut] if i != 1 else g[: max(1, cut // 2)]  # row 1 keeps only part of its turn
            grown.append(c + kept + [20 + i] * (1 + 3 * i + turn))  # an observation, a different length each
        contexts = grown
    assert cache.reused > cache.computed  # by the last turns most of every context is cached
    first = PrefixCache()
    first.generate(model, [[5, 6, 7]], pad, **settings)
    assert first.reused == 0 and first.computed == 3
