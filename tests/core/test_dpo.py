"""DPO losses against the papers, and the TRL trainer backend end to end on the tiny model.

The loss check feeds fixed sequence log-probs into TRL's own ``DPOTrainer.compute_loss`` (through a
stand-in network that returns them, so the values are exact) and compares with a reference written
here from the papers' formulas, on numbers small enough to check by hand.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from polyrlaif.core.config import LoraConfig, ModelConfig, OptimConfig, RunConfig, TrainConfig
from polyrlaif.core.losses import preference_loss
from polyrlaif.core.records import PreferencePair
from polyrlaif.core.trainers.base import (
    PreferenceTrainer,
    build_trainer,
    finished_result,
    publish_checkpoint,
)
from polyrlaif.core.trainers.trl_dpo import TRLDPOTrainer, pairs_to_rows

# Two pairs. Sequence log-probs under the policy and the reference, and completion lengths in tokens.
#   pair 0: r_w = -10 - (-11) = 1,     r_l = -14 - (-13) = -1,   h = 2,  lengths 2 and 4
#   pair 1: r_w = -8 - (-7.5) = -0.5,  r_l = -5.5 - (-6.5) = 1,  h = -1.5, lengths 4 and 2
# (unequal |h|, so swapping chosen and rejected anywhere changes every loss)
POLICY_CHOSEN, POLICY_REJECTED = [-10.0, -8.0], [-14.0, -5.5]
REF_CHOSEN, REF_REJECTED = [-11.0, -7.5], [-13.0, -6.5]
LEN_CHOSEN, LEN_REJECTED = [2, 4], [4, 2]


def reference_loss(loss_type: str, beta: float) -> float:
    """Batch-mean loss from the papers, in plain floats."""
    losses = []
    for i in range(2):
        r_w = POLICY_CHOSEN[i] - REF_CHOSEN[i]
        r_l = POLICY_REJECTED[i] - REF_REJECTED[i]
        if loss_type == "sigmoid":  # DPO, Rafailov et al. 2023, eq. 7
            losses.append(-math.log(1 / (1 + math.exp(-beta * (r_w - r_l)))))
        elif loss_type == "hinge":  # SLiC-HF, Zhao et al. 2023, on reference-normalised log-ratios
            losses.append(max(0.0, 1 - beta * (r_w - r_l)))
        elif loss_type == "ipo":  # Azar et al. 2023, eq. 17 (tau = beta)
            # log-ratios averaged per completion token: TRL's documented reading, agreed with the authors
            h = r_w / LEN_CHOSEN[i] - r_l / LEN_REJECTED[i]
            losses.append((h - 1 / (2 * beta)) ** 2)
    return sum(losses) / len(losses)


# (loss_type, beta, value worked out by hand)
#   sigmoid: (log(1 + e^(-2 beta)) + log(1 + e^(1.5 beta))) / 2
#   hinge 0.1: (0.8 + 1.15) / 2;  hinge 0.5: (max(0, 1 - 1) + max(0, 1 + 0.75)) / 2
#   ipo: h' = 1/2 + 1/4 = 0.75 and -0.5/4 - 1/2 = -0.625,
#        so ((0.75 - 1/(2 beta))^2 + (-0.625 - 1/(2 beta))^2) / 2
KNOWN = [
    ("sigmoid", 0.1, (math.log1p(math.exp(-0.2)) + math.log1p(math.exp(0.15))) / 2),
    ("sigmoid", 0.5, (math.log1p(math.exp(-1.0)) + math.log1p(math.exp(0.75))) / 2),
    ("hinge", 0.1, 0.975),
    ("hinge", 0.5, 0.875),
    ("ipo", 0.1, (18.0625 + 31.640625) / 2),  # (0.75 - 5)^2, (-0.625 - 5)^2
    ("ipo", 0.5, (0.0625 + 2.640625) / 2),  # (0.75 - 1)^2, (-0.625 - 1)^2
]


@pytest.mark.parametrize(("loss_type", "beta", "expected"), KNOWN)
def test_reference_matches_hand_values(loss_type, beta, expected):
    assert reference_loss(loss_type, beta) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize(("loss_type", "beta", "expected"), KNOWN)
def test_core_preference_loss_matches_reference(loss_type, beta, expected):
    t = lambda xs: torch.tensor(xs, dtype=torch.float64)  # noqa: E731
    loss = preference_loss(
        t(POLICY_CHOSEN) - t(REF_CHOSEN),
        t(POLICY_REJECTED) - t(REF_REJECTED),
        loss_type=loss_type,
        beta=beta,
        chosen_lengths=t(LEN_CHOSEN),
        rejected_lengths=t(LEN_REJECTED),
    ).mean()
    assert loss.item() == pytest.approx(expected, rel=1e-9)


class FixedLogProbs(torch.nn.Module):
    """Stands in for the policy network inside TRL's loss: returns the given per-token log-probs."""

    def __init__(self, per_token: torch.Tensor) -> None:
        super().__init__()
        self.per_token = per_token

    def forward(self, input_ids, attention_mask=None, labels=None, fused_lm_head=False, **kwargs):
        zeros = torch.zeros_like(self.per_token)
        return SimpleNamespace(
            log_probs=self.per_token, entropy=zeros, mean_logits=zeros, is_top1=zeros.bool(), aux_loss=None
        )


def _fixed_batch() -> tuple[dict[str, torch.Tensor], torch.Tensor]:
    """A padded batch [chosen 0, chosen 1, rejected 0, rejected 1] of 8 tokens, in TRL's layout."""
    seq_len = 8
    logps = POLICY_CHOSEN + POLICY_REJECTED
    lengths = LEN_CHOSEN + LEN_REJECTED
    completion_mask = torch.zeros(4, seq_len, dtype=torch.long)
    attention_mask = torch.zeros(4, seq_len, dtype=torch.long)
    per_token = torch.zeros(4, seq_len - 1, dtype=torch.float32)
    for row, (lp, n) in enumerate(zip(logps, lengths, strict=True)):
        completion_mask[row, 2 : 2 + n] = 1  # 2 prompt tokens, then the completion, then padding
        attention_mask[row, : 2 + n] = 1
        # a real fused head gives 0 where the label is masked; spread the sum over the completion
        per_token[row, 1 : 1 + n] = lp / n
    inputs = {
        "input_ids": torch.ones(4, seq_len, dtype=torch.long),
        "attention_mask": attention_mask,
        "completion_mask": completion_mask,
        "ref_chosen_logps": torch.tensor(REF_CHOSEN),
        "ref_rejected_logps": torch.tensor(REF_REJECTED),
    }
    return inputs, per_token


def _pair(i: int) -> PreferencePair:
    # string prompts and message-list prompts, alternating
    prompt = f"Write a function that adds {i} to x." if i % 2 else [{"role": "user", "content": f"Add {i}."}]
    return PreferencePair(
        pair_id=f"p{i}",
        prompt_id=f"q{i}",
        prompt=prompt,
        chosen=f"def f(x):\n    return x + {i}\n",
        rejected="I am not sure how to do that.",
    )


PAIRS = [_pair(i) for i in range(8)]


def _dpo_trainer(model_dir: str, out: Path, loss_type: str, beta: float):
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import DPOConfig, DPOTrainer

    args = DPOConfig(
        output_dir=str(out),
        loss_type=[loss_type],
        beta=beta,
        precompute_ref_log_probs=True,  # the reference log-probs then come from the batch
        use_cpu=True,
        bf16=False,
        report_to="none",
        activation_checkpointing=False,
    )
    return DPOTrainer(
        model=AutoModelForCausalLM.from_pretrained(model_dir),
        args=args,
        train_dataset=Dataset.from_list(pairs_to_rows(PAIRS[:2])),
        processing_class=AutoTokenizer.from_pretrained(model_dir),
    )


@pytest.mark.parametrize(("loss_type", "beta", "expected"), KNOWN)
def test_trl_loss_matches_reference(loss_type, beta, expected, tiny_lm_path, tmp_path):
    trainer = _dpo_trainer(tiny_lm_path, tmp_path, loss_type, beta)
    inputs, per_token = _fixed_batch()
    loss = trainer.compute_loss(FixedLogProbs(per_token), inputs)
    assert loss.item() == pytest.approx(expected, rel=1e-5)


def test_sft_weight_adds_the_chosen_nll(tiny_lm_path, tmp_path):
    """optim.sft_weight (RPO) = the DPO loss plus weight x mean NLL over the chosen completion tokens."""
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import DPOTrainer

    ours = TRLDPOTrainer(
        TrainConfig(
            optim=OptimConfig(loss_type="sigmoid", beta=0.1, sft_weight=0.5), model=ModelConfig(device="cpu")
        )
    )
    args = ours._dpo_config(tmp_path, "cpu", torch.float32)
    args.precompute_ref_log_probs = True  # the reference log-probs then come from the fixed batch
    trainer = DPOTrainer(
        model=AutoModelForCausalLM.from_pretrained(tiny_lm_path),
        args=args,
        train_dataset=Dataset.from_list(pairs_to_rows(PAIRS[:2])),
        processing_class=AutoTokenizer.from_pretrained(tiny_lm_path),
    )
    inputs, per_token = _fixed_batch()
    loss = trainer.compute_loss(FixedLogProbs(per_token), inputs)
    dpo = (math.log1p(math.exp(-0.2)) + math.log1p(math.exp(0.15))) / 2  # KNOWN sigmoid, beta 0.1
    nll = -sum(POLICY_CHOSEN) / sum(LEN_CHOSEN)  # every chosen token carries logp / length
    assert loss.item() == pytest.approx(dpo + 0.5 * nll, rel=1e-5)


def _mean_margin(model_dir: str, pairs) -> float:
    """Mean of log p(chosen) - log p(rejected) over pairs, summed over completion tokens (our own code)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(model_dir).eval()
    tok = AutoTokenizer.from_pretrained(model_dir)

    def seq_logp(prompt, completion) -> float:
        text = tok.apply_chat_template(prompt, tokenize=False, add_generation_prompt=True)
        full = tok.apply_chat_template(prompt + completion, tokenize=False)
        p_ids = tok(text, add_special_tokens=False).input_ids
        ids = torch.tensor([tok(full, add_special_tokens=False).input_ids])
        with torch.no_grad():
            logp = model(ids).logits.log_softmax(-1)[0, :-1].gather(1, ids[0, 1:, None])[:, 0]
        return logp[len(p_ids) - 1 :].sum().item()

    margins = [
        seq_logp(r["prompt"], r["chosen"]) - seq_logp(r["prompt"], r["rejected"])
        for r in pairs_to_rows(pairs)
    ]
    return sum(margins) / len(margins)


@pytest.mark.parametrize("backend", ["trl", "fast"])
@pytest.mark.parametrize("lora", [True, False], ids=["lora", "full"])
def test_trainer_learns_publishes_and_resumes(backend, lora, tiny_lm_path, tmp_path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from polyrlaif.core.trainers.fast_dpo import FastDPOTrainer

    optim = OptimConfig(
        backend=backend,
        lr=1e-2 if lora else 1e-3,
        batch_size=4,
        epochs=3,
        max_length=128,
        lora=LoraConfig(enabled=lora, r=8, alpha=16, dropout=0.0),
    )
    trainer = build_trainer(TrainConfig(optim=optim, model=ModelConfig(device="cpu"), run=RunConfig(seed=0)))
    assert isinstance(trainer, {"trl": TRLDPOTrainer, "fast": FastDPOTrainer}[backend])
    assert isinstance(trainer, PreferenceTrainer)
    result = trainer.train(tiny_lm_path, PAIRS, tmp_path / "round0")

    m = result.metrics
    assert not result.resumed
    assert m["steps"] == 6 and m["pairs"] == 8
    assert m["loss"] < m["loss_first"]
    assert m["rewards/margins"] > m["rewards/margins_first"] + 0.05
    assert json.loads((tmp_path / "round0" / "train_metrics.json").read_text()) == m

    ckpt = Path(result.model_path)
    assert ckpt == tmp_path / "round0" / "model"
    merged = AutoModelForCausalLM.from_pretrained(ckpt)
    assert not any("lora" in k for k in merged.state_dict())
    assert "quantization_config" not in json.loads((ckpt / "config.json").read_text())
    assert AutoTokenizer.from_pretrained(ckpt).chat_template
    # measured with our own log-prob code, not TRL's metrics: the preference actually moved
    assert _mean_margin(str(ckpt), PAIRS) > _mean_margin(tiny_lm_path, PAIRS) + 0.1

    stamp = (ckpt / "model.safetensors").stat().st_mtime_ns
    again = build_trainer(TrainConfig(optim=optim, model=ModelConfig(device="cpu"))).train(
        tiny_lm_path, [], tmp_path / "round0"
    )
    assert again.resumed and again.metrics == m and again.model_path == str(ckpt)
    assert (ckpt / "model.safetensors").stat().st_mtime_ns == stamp


def test_no_pairs_is_an_error(tiny_lm_path, tmp_path):
    trainer = TRLDPOTrainer(TrainConfig(model=ModelConfig(device="cpu")))
    with pytest.raises(ValueError, match="no preference pairs"):
        trainer.train(tiny_lm_path, [], tmp_path)


def test_unfinished_checkpoint_is_not_a_result(tmp_path):
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "config.json").write_text("{}")
    assert finished_result(tmp_path) is None
    res = publish_checkpoint(tmp_path, lambda d: (d / "weights.bin").write_text("w"), {"loss": 0.5})
    assert res.model_path == str(tmp_path / "model")
    assert sorted(p.name for p in (tmp_path / "model").iterdir()) == ["DONE", "weights.bin"]
    assert finished_result(tmp_path).metrics == {"loss": 0.5}
    assert not (tmp_path / "model.partial").exists()


def test_unknown_backend_lists_registered_ones():
    with pytest.raises(KeyError, match="trl"):
        build_trainer(TrainConfig(optim=OptimConfig(backend="nope")))
