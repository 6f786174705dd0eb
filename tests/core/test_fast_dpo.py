"""The fast DPO backend against TRL's ``DPOTrainer`` (through the TRL backend) on the tiny model.

Its log-probs are checked against full logits computed here, sequence by sequence without padding; its
tokenisation and batches against TRL's own; and whole training runs against the TRL backend: the loss,
learning rate and gradient norm of every step, the reported metrics and the published weights.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch

from polyrlaif.core.config import LoraConfig, ModelConfig, OptimConfig, RunConfig, TrainConfig
from polyrlaif.core.losses import LOSS_TYPES
from polyrlaif.core.records import MediaRef, PreferencePair
from polyrlaif.core.trainers import trl_dpo
from polyrlaif.core.trainers.base import PreferenceTrainer, TrainResult, build_trainer
from polyrlaif.core.trainers.dpo_step import (
    cached_pair_logps,
    collate_pairs,
    completion_logps,
    dpo_loss,
    pack_pairs,
    pair_logps,
    reference_logps,
    tokenize_pairs,
)
from polyrlaif.core.trainers.fast_dpo import FastDPOTrainer

MAX_LENGTH = 48


def _pair(i: int) -> PreferencePair:
    # string and message-list prompts; completions of different lengths, some cut by MAX_LENGTH
    prompt = f"Write a function that adds {i} to x." if i % 2 else [{"role": "user", "content": f"Add {i}."}]
    return PreferencePair(
        pair_id=f"p{i}",
        prompt_id=f"q{i}",
        prompt=prompt,
        chosen=f"def f(x):\n    return x + {i}\n" * (1 + i % 3),
        rejected="I am not sure how to do that." + " no" * i,
    )


# six pairs, and one whose prompt alone fills MAX_LENGTH: both backends must drop it
PAIRS = [_pair(i) for i in range(6)] + [
    PreferencePair(pair_id="long", prompt_id="long", prompt="word " * 60, chosen="a", rejected="b")
]


def _tokenizer(path: str):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(path)


def test_tokenisation_and_batches_match_trl(tiny_lm_path, tmp_path):
    from datasets import Dataset
    from transformers import AutoModelForCausalLM
    from trl import DPOTrainer

    tok = _tokenizer(tiny_lm_path)
    backend = trl_dpo.TRLDPOTrainer(
        TrainConfig(optim=OptimConfig(max_length=MAX_LENGTH), model=ModelConfig(device="cpu"))
    )
    trainer = DPOTrainer(
        model=AutoModelForCausalLM.from_pretrained(tiny_lm_path),
        args=backend._dpo_config(tmp_path, "cpu", torch.float32),
        train_dataset=Dataset.from_list(trl_dpo.pairs_to_rows(PAIRS)),
        processing_class=tok,
    )
    theirs = trainer.train_dataset
    ours = tokenize_pairs(tok, trl_dpo.pairs_to_rows(PAIRS), MAX_LENGTH)
    assert len(ours) == len(theirs) == len(PAIRS) - 1
    for mine, row in zip(ours, theirs, strict=True):
        assert mine == {k: row[k] for k in ("prompt_ids", "chosen_ids", "rejected_ids")}
    # the chat template closes each turn: the completion ends with <|im_end|> and a newline, no extra EOS
    assert ours[0]["chosen_ids"][-2:] == [tok.convert_tokens_to_ids("<|im_end|>"), tok("\n").input_ids[0]]

    batch = collate_pairs(ours[:4], pad_token_id=tok.pad_token_id, max_length=MAX_LENGTH)
    expected = trainer.data_collator([theirs[i] for i in range(4)])
    for key in ("input_ids", "attention_mask", "completion_mask"):
        assert torch.equal(batch[key], expected[key]), key
    assert batch["attention_mask"].sum(1).max() == MAX_LENGTH  # truncation happened in this batch


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("chunk_size", [1, 5, 1024])
def test_completion_logps_match_full_logits(chunk_size, dtype, tiny_lm_path):
    """Against each sequence alone, unpadded: full logits -> log_softmax -> gather -> masked sum.

    The sums are 100-210 nats, where one float32 ulp is already 1.5e-5: the absolute bound of 1e-5 is
    checked in float64 (where any misplaced token would be off by nats), float32 to 1e-6 relative.
    """
    from transformers import AutoModelForCausalLM

    tok = _tokenizer(tiny_lm_path)
    model = AutoModelForCausalLM.from_pretrained(tiny_lm_path, dtype=dtype).eval()
    examples = tokenize_pairs(tok, trl_dpo.pairs_to_rows(PAIRS[:4]), MAX_LENGTH)
    batch = collate_pairs(examples, pad_token_id=tok.pad_token_id, max_length=MAX_LENGTH)
    with torch.no_grad():
        logps, n_tokens = completion_logps(model, batch, chunk_size=chunk_size)
        expected, counts = [], []
        rows = zip(batch["input_ids"], batch["attention_mask"], batch["completion_mask"], strict=True)
        for ids, attn, comp in rows:
            n = int(attn.sum())
            per_token = model(ids[None, :n]).logits[0].log_softmax(-1)[:-1].gather(1, ids[1:n, None])[:, 0]
            mask = comp[1:n].bool()
            expected.append(per_token[mask].sum().item())
            counts.append(int(mask.sum()))
    assert n_tokens.tolist() == counts
    assert min(counts) > 0 and len(set(counts)) > 1
    assert logps.shape == (8,) and logps.dtype == dtype
    assert max(expected) < -1.0  # real log-probs, not an empty sum
    diff = (logps - torch.tensor(expected, dtype=torch.float64)).abs()
    if dtype == torch.float64:
        assert diff.max().item() <= 1e-5
    else:
        assert (diff / torch.tensor(expected).abs()).max().item() <= 1e-6


@pytest.mark.parametrize(
    ("max_length", "attention", "row_tokens", "fn"),
    [
        (MAX_LENGTH, "sdpa", 1024, pair_logps),  # packed, all pairs in one row
        (None, "sdpa", 1024, pair_logps),
        (MAX_LENGTH, "sdpa", 60, pair_logps),  # packed, several rows, ends padded
        (MAX_LENGTH, "eager", 60, pair_logps),  # the mask as additive scores
        (MAX_LENGTH, "sdpa", None, cached_pair_logps),  # the fallback: a shared key-value cache
        (None, "sdpa", None, cached_pair_logps),
    ],
)
def test_pair_logps_share_the_prompt_and_match_whole_sequences(
    max_length, attention, row_tokens, fn, tiny_lm_path
):
    """Each prompt run once for both completions gives the log-probs and the gradient of running every
    whole sequence on its own (checked against :func:`completion_logps` on the collated batch)."""
    from transformers import AutoModelForCausalLM

    tok = _tokenizer(tiny_lm_path)
    model = AutoModelForCausalLM.from_pretrained(
        tiny_lm_path, dtype=torch.float64, attn_implementation=attention
    )
    options = {"row_tokens": row_tokens} if row_tokens else {}
    examples = tokenize_pairs(tok, trl_dpo.pairs_to_rows(PAIRS[:5]), MAX_LENGTH)
    weights = torch.linspace(-1.0, 2.0, 10, dtype=torch.float64)  # any weighting of the ten rows

    def run(fn):
        model.zero_grad()
        logps, n = fn()
        (logps * weights).sum().backward()
        return logps.detach(), n, [p.grad.clone() for p in model.parameters()]

    full = run(
        lambda: completion_logps(
            model, collate_pairs(examples, pad_token_id=tok.pad_token_id, max_length=max_length)
        )
    )
    shared = run(lambda: fn(model, examples, pad_token_id=tok.pad_token_id, max_length=max_length, **options))
    assert shared[1].tolist() == full[1].tolist()
    if max_length is not None:
        assert 0 < min(full[1].tolist()) and full[1].tolist() != [len(e["chosen_ids"]) for e in examples] * 2
    # eager attention takes its softmax in float32, also in a float64 model
    tol = 1e-9 if attention == "sdpa" else 1e-7 * full[0].abs().max().item()
    assert (shared[0] - full[0]).abs().max().item() <= tol
    # RMSNorm computes in float32 even in a float64 model: gradients agree to float32 precision
    for a, b in zip(shared[2], full[2], strict=True):
        assert (a - b).abs().max().item() <= 1e-5 * max(b.abs().max().item(), 1.0)


def test_pack_pairs_layout():
    """Pairs end to end without padding; the rejected completion sees its prompt, not the chosen one;
    both continue the prompt's positions; a pair that does not fit starts a row; truncation as TRL's."""
    examples = [
        {"prompt_ids": [1, 2, 3], "chosen_ids": [4, 5], "rejected_ids": [6]},
        {"prompt_ids": [7, 8], "chosen_ids": [9], "rejected_ids": [10, 11, 12, 13]},
    ]
    one = pack_pairs(examples, pad_token_id=0, max_length=None, row_tokens=13)
    assert one["packed"].input_ids.tolist() == [[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13]]
    assert one["packed"].position_ids.tolist() == [[0, 1, 2, 3, 4, 3, 0, 1, 2, 2, 3, 4, 5]]
    mask = one["packed"].attention_mask[0, 0]
    assert mask[5].nonzero().flatten().tolist() == [0, 1, 2, 5]  # rejected 6: its prompt and itself
    assert mask[10].nonzero().flatten().tolist() == [6, 7, 9, 10]  # rejected 11: not the chosen 9
    assert one["targets"].tolist() == [4, 5, 6, 9, 10, 11, 12, 13]
    assert one["predictors"].tolist() == [2, 3, 2, 7, 7, 9, 10, 11]
    assert one["rows"].tolist() == [0, 0, 2, 1, 3, 3, 3, 3]
    two = pack_pairs(examples, pad_token_id=0, max_length=None, row_tokens=8)
    assert two["packed"].input_ids.tolist() == [[1, 2, 3, 4, 5, 6, 0], [7, 8, 9, 10, 11, 12, 13]]
    assert two["predictors"].tolist() == [2, 3, 2, 8, 8, 10, 11, 12]
    assert two["packed"].attention_mask[0, 0, 6].tolist() == [False] * 6 + [True]  # padding sees itself
    cut = pack_pairs(examples, pad_token_id=0, max_length=4, row_tokens=8)
    assert cut["packed"].input_ids.tolist() == [[1, 2, 3, 4, 6], [7, 8, 9, 10, 11]]
    assert cut["predictors"].tolist() == [2, 2, 6, 6, 8]


def test_dpo_loss_known_values():
    """Sigmoid DPO plus the SFT term on hand-checkable numbers.

    log-ratios: chosen 1 and -0.5, rejected -1 and 1 (beta 0.1); DPO loss
    (log(1 + e^-0.2) + log(1 + e^0.15)) / 2; SFT: -(-10 - 8) / (2 + 4) = 3 nats per chosen token.
    """
    policy = torch.tensor([-10.0, -8.0, -14.0, -5.5])
    reference = torch.tensor([-11.0, -7.5, -13.0, -6.5])
    n_tokens = torch.tensor([2, 4, 4, 2])
    loss, metrics = dpo_loss(policy, reference, n_tokens, loss_type="sigmoid", beta=0.1, sft_weight=0.5)
    dpo = (math.log1p(math.exp(-0.2)) + math.log1p(math.exp(0.15))) / 2
    assert loss.item() == pytest.approx(dpo + 0.5 * 3.0, rel=1e-6)
    assert metrics == pytest.approx(
        {
            "rewards/chosen": 0.025,
            "rewards/rejected": 0.0,
            "rewards/accuracies": 0.5,
            "rewards/margins": 0.025,
        },
        abs=1e-7,
    )


def _cfg(optim: OptimConfig, seed: int = 0) -> TrainConfig:
    return TrainConfig(optim=optim, model=ModelConfig(device="cpu"), run=RunConfig(seed=seed))


def _optim(loss_type: str, sft_weight: float, lora: bool, **kw) -> OptimConfig:
    # 6 kept pairs in micro-batches of 2 and 2 per step: 2 steps per epoch, the second with one
    # micro-batch; step 3 starts a second epoch with a new order
    return OptimConfig(
        loss_type=loss_type,
        beta=0.1,
        sft_weight=sft_weight,
        lr=2e-3 if lora else 2e-4,
        batch_size=2,
        grad_accum=2,
        max_length=MAX_LENGTH,
        max_steps=3,
        lora=LoraConfig(enabled=lora, r=4, alpha=8, dropout=0.05),
        **kw,
    )


CASES = [(t, 0.0) for t in LOSS_TYPES] + [("sigmoid", 0.5)]


@pytest.fixture()
def trl_log(monkeypatch) -> dict:
    """``{"history": ...}``: the TRL backend's log history of its next run, one row per step."""
    logged: dict = {}
    summarise = trl_dpo.summarise_history

    def keep_history(history, *args):
        logged["history"] = history
        return summarise(history, *args)

    monkeypatch.setattr(trl_dpo, "summarise_history", keep_history)
    return logged


@pytest.mark.parametrize("lora", [False, True], ids=["full", "lora"])
@pytest.mark.parametrize(("loss_type", "sft_weight"), CASES, ids=[f"{t}-sft{w}" for t, w in CASES])
def test_steps_match_trl(loss_type, sft_weight, lora, tiny_lm_path, tmp_path, trl_log):
    """Three steps with gradient accumulation, a short last micro-batch group and a new epoch."""
    from safetensors.torch import load_file

    logged = trl_log
    optim = _optim(loss_type, sft_weight, lora)
    theirs = trl_dpo.TRLDPOTrainer(_cfg(optim, seed=3)).train(tiny_lm_path, PAIRS, tmp_path / "trl")
    ours = FastDPOTrainer(_cfg(optim, seed=3)).train(tiny_lm_path, PAIRS, tmp_path / "fast")
    trl_steps = [h for h in logged["history"] if "loss" in h and "train_loss" not in h]
    steps = [json.loads(line) for line in (tmp_path / "fast" / "steps.jsonl").read_text().splitlines()]

    assert [s["step"] for s in steps] == [1, 2, 3] and len(trl_steps) == 3
    diffs = [abs(a["loss"] - b["loss"]) for a, b in zip(steps, trl_steps, strict=True)]
    assert max(diffs) <= 1e-4, diffs
    assert abs(trl_steps[2]["loss"] - trl_steps[0]["loss"]) > 0.01  # the policy moved: not a vacuous match
    for a, b in zip(steps, trl_steps, strict=True):
        assert a["learning_rate"] == pytest.approx(b["learning_rate"], rel=1e-9)
        assert a["grad_norm"] == pytest.approx(b["grad_norm"], rel=1e-3)
        assert a["rewards/margins"] == pytest.approx(b["rewards/margins"], abs=1e-4)

    assert set(ours.metrics) - {"reference_seconds"} == set(theirs.metrics)  # ours also times its reference
    for key in (
        "loss",
        "loss_first",
        "train_loss",
        "rewards/margins",
        "rewards/accuracies",
        "steps",
        "pairs",
        "fit/margin",  # the trained policy against its reference over every pair, after training
        "fit/accuracy",
    ):
        assert ours.metrics[key] == pytest.approx(theirs.metrics[key], abs=1e-4), key
    # the third update, whose effect no logged loss shows, must match too
    a = load_file(Path(theirs.model_path) / "model.safetensors")
    b = load_file(Path(ours.model_path) / "model.safetensors")
    assert sorted(a) == sorted(b) and not any("lora" in k for k in b)
    assert max((a[k] - b[k]).abs().max().item() for k in a) <= 1e-5


@pytest.fixture(scope="module")
def other_lm_path(tiny_lm_path, tmp_path_factory) -> str:
    """The tiny LM with every weight nudged: a reference that is not the policy (``optim.reference``)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(tiny_lm_path)
    torch.manual_seed(11)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.05 * torch.randn_like(p))
    out = tmp_path_factory.mktemp("other_lm")
    model.save_pretrained(out)
    AutoTokenizer.from_pretrained(tiny_lm_path).save_pretrained(out)
    return str(out)


@pytest.mark.parametrize("lora", [False, True], ids=["full", "lora"])
def test_a_separate_reference_matches_trl_ref_model(lora, tiny_lm_path, other_lm_path, tmp_path, trl_log):
    """``reference=`` another model: both backends hold the update to it (TRL as its ``ref_model``), so
    the first step's loss is no longer log 2, and every step, metric and weight still agree."""
    from safetensors.torch import load_file

    logged = trl_log
    optim = _optim("sigmoid", 0.0, lora)
    theirs = trl_dpo.TRLDPOTrainer(_cfg(optim, seed=3)).train(
        tiny_lm_path, PAIRS, tmp_path / "trl", reference=other_lm_path
    )
    ours = FastDPOTrainer(_cfg(optim, seed=3)).train(
        tiny_lm_path, PAIRS, tmp_path / "fast", reference=other_lm_path
    )
    trl_steps = [h for h in logged["history"] if "loss" in h and "train_loss" not in h]
    steps = [json.loads(line) for line in (tmp_path / "fast" / "steps.jsonl").read_text().splitlines()]
    assert abs(steps[0]["loss"] - math.log(2)) > 1e-3  # the reference is not the starting policy
    for a, b in zip(steps, trl_steps, strict=True):
        assert a["loss"] == pytest.approx(b["loss"], abs=1e-4)
        assert a["rewards/margins"] == pytest.approx(b["rewards/margins"], abs=1e-4)
    assert ours.metrics["fit/margin"] == pytest.approx(theirs.metrics["fit/margin"], abs=1e-4)
    a = load_file(Path(theirs.model_path) / "model.safetensors")
    b = load_file(Path(ours.model_path) / "model.safetensors")
    assert max((a[k] - b[k]).abs().max().item() for k in a) <= 1e-5

    # the starting policy as its own reference, passed by path: the usual log-2 start
    same = FastDPOTrainer(_cfg(optim, seed=3)).train(
        tiny_lm_path, PAIRS, tmp_path / "same", reference=tiny_lm_path
    )
    first = json.loads((tmp_path / "same" / "steps.jsonl").read_text().splitlines()[0])
    assert first["loss"] == pytest.approx(math.log(2), abs=1e-6) and same.metrics["steps"] == 3


def test_frozen_parameters_stay_and_both_backends_agree(tiny_lm_path, tmp_path):
    """``optim.freeze``: the named parameters are not trained by either backend, the rest match TRL's; a
    prefix that matches nothing stops before training."""
    from safetensors.torch import load_file
    from transformers import AutoModelForCausalLM

    optim = _optim("sigmoid", 0.0, False, freeze=["model.layers.0.", "model.embed_tokens"])
    theirs = trl_dpo.TRLDPOTrainer(_cfg(optim, seed=3)).train(tiny_lm_path, PAIRS, tmp_path / "trl")
    ours = FastDPOTrainer(_cfg(optim, seed=3)).train(tiny_lm_path, PAIRS, tmp_path / "fast")
    start = AutoModelForCausalLM.from_pretrained(tiny_lm_path).state_dict()
    a = load_file(Path(theirs.model_path) / "model.safetensors")
    b = load_file(Path(ours.model_path) / "model.safetensors")
    assert max((a[k] - b[k]).abs().max().item() for k in a) <= 1e-5
    frozen = [k for k in b if k.startswith(("model.layers.0.", "model.embed_tokens"))]
    assert frozen and all(torch.equal(b[k], start[k]) for k in frozen)
    assert any(not torch.equal(b[k], start[k]) for k in b if k.startswith("model.layers.1."))
    with pytest.raises(ValueError, match="match no parameter"):
        FastDPOTrainer(_cfg(_optim("sigmoid", 0.0, False, freeze=["model.nope"]))).train(
            tiny_lm_path, PAIRS, tmp_path / "none"
        )


def test_finished_run_is_not_trained_again(tiny_lm_path, tmp_path):
    trainer = build_trainer(_cfg(_optim("sigmoid", 0.0, True, backend="fast")))
    assert isinstance(trainer, FastDPOTrainer) and isinstance(trainer, PreferenceTrainer)
    first = trainer.train(tiny_lm_path, PAIRS, tmp_path)
    assert not first.resumed and first.metrics["steps"] == 3
    weights = Path(first.model_path) / "model.safetensors"
    stamp = weights.stat().st_mtime_ns

    again = FastDPOTrainer(_cfg(_optim("sigmoid", 0.0, True))).train(tiny_lm_path, [], tmp_path)
    assert again.resumed and again.metrics == first.metrics and again.model_path == first.model_path
    assert weights.stat().st_mtime_ns == stamp


def test_image_pairs_are_trained_by_trl(tmp_path, monkeypatch):
    calls = []

    def fake_train(self, model_path, pairs, output_dir, *, seed=None, reference=None):
        calls.append((model_path, list(pairs), output_dir))
        return TrainResult(model_path="from-trl")

    monkeypatch.setattr(trl_dpo.TRLDPOTrainer, "train", fake_train)
    pair = PreferencePair(
        pair_id="v",
        prompt_id="v",
        prompt="What is shown?",
        chosen="a cat",
        rejected="a dog",
        media=[MediaRef(kind="image", uri=str(tmp_path / "cat.png"))],
    )
    optim = OptimConfig(backend="fast")
    result = FastDPOTrainer(_cfg(optim)).train("no-model-needed", [pair], tmp_path)
    assert result.model_path == "from-trl"
    assert calls == [("no-model-needed", [pair], tmp_path)]
    assert not (tmp_path / "steps.jsonl").exists()


def test_fit_reports_how_well_the_trained_policy_separates_its_own_pairs(tiny_lm_path, tmp_path):
    """``fit/margin`` and ``fit/accuracy`` over every training pair, checked against the published model's
    own log-probs against the starting model's (the reference); after a few steps on separable pairs
    the policy prefers the chosen answers (from 0 margin, where policy and reference are one model)."""
    from dataclasses import replace

    from transformers import AutoModelForCausalLM

    optim = replace(_optim("sigmoid", 0.0, False, backend="fast"), max_steps=12, lr=1e-3)
    result = FastDPOTrainer(_cfg(optim)).train(tiny_lm_path, PAIRS, tmp_path)
    tok = _tokenizer(tiny_lm_path)
    examples = tokenize_pairs(tok, trl_dpo.pairs_to_rows(PAIRS), MAX_LENGTH)
    kw = {"pad_token_id": tok.pad_token_id, "max_length": MAX_LENGTH, "batch_size": 4}
    base = AutoModelForCausalLM.from_pretrained(tiny_lm_path).eval()
    trained = AutoModelForCausalLM.from_pretrained(result.model_path).eval()
    rc, rr = reference_logps(base, examples, **kw)
    pc, pr = reference_logps(trained, examples, **kw)
    margins = 0.1 * ((pc - rc) - (pr - rr))

    assert result.metrics["fit/margin"] == pytest.approx(float(margins.mean()), abs=1e-4)
    assert result.metrics["fit/accuracy"] == pytest.approx(float((margins > 0).float().mean()))
    assert result.metrics["fit/accuracy"] > 0.5 and result.metrics["fit/margin"] > 0
    assert result.metrics["fit_seconds"] >= 0
