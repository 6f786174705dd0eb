"""Plain-text SFT (``SFTExample(prompt=None, ...)``): language-model pretraining on whole texts, the
stage a unit LM is pretrained with."""

from __future__ import annotations

from pathlib import Path

import pytest

from polyrlaif.core.trainers.trl_sft import SFTExample, SFTSettings, sft_train


def _logprob(model_dir: str, text: str) -> float:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir).eval()
    ids = tok(text, return_tensors="pt").input_ids
    with torch.no_grad():
        logits = model(ids).logits[0, :-1]
    return float(torch.log_softmax(logits, -1).gather(1, ids[0, 1:, None]).sum())


def test_plain_texts_are_modelled_whole(tmp_path: Path, tiny_lm_path: str) -> None:
    text = "def add(a, b): return a + b"
    before = _logprob(tiny_lm_path, text)
    result = sft_train(
        tiny_lm_path,
        [SFTExample(None, text)] * 80,
        tmp_path / "lm",
        SFTSettings(epochs=2, lr=1e-3, batch_size=8),
    )
    assert result.metrics["loss"] < result.metrics["loss_first"]
    assert _logprob(result.model_path, text) > before + 5  # every token of the text, the first ones too
    with pytest.raises(ValueError, match="mix plain texts"):
        sft_train(tiny_lm_path, [SFTExample(None, text), SFTExample([{"role": "user", "content": "x"}], "y")],
                  tmp_path / "mixed")  # fmt: skip
