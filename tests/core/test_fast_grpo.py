"""The fast GRPO step (``core/trainers/fast_grpo.py``) against TRL's ``GRPOTrainer`` over three optimiser
steps on the tiny chat model. Both get the same rollouts (a deterministic ``rollout_func``: prompt and
completion token ids of several lengths, some completions ending in EOS) and the same rewards (two
functions, one of which does not apply to some completions): the data order, the advantages, the loss,
the optimiser and its schedule must then give TRL's per-step losses and TRL's final weights."""

from __future__ import annotations

import hashlib
import os

import pytest
import torch

from polyrlaif.core.config import RLConfig
from polyrlaif.core.trainers.fast_grpo import fast_grpo_train

G, B, STEPS = 4, 8, 3


def _ids(text: str, n: int, lo: int = 5, hi: int = 300) -> list[int]:
    digest = hashlib.sha256(text.encode()).digest()
    return [lo + digest[i % 32] * 7 % (hi - lo) for i in range(n)]


def _rollout(eos: int):
    seen: dict[str, int] = {}

    def rollout(prompts, trainer):
        prompt_ids, completion_ids, env_mask = [], [], []
        for p in prompts:
            key = p[-1]["content"]
            k = seen.get(key, 0)
            seen[key] = k + 1
            prompt_ids.append(_ids(key, 6))  # every prompt 6 tokens: no left padding in TRL's rows
            length = 1 + (k * 3 + len(key)) % 6
            ids = _ids(f"{key}/{k}", length)
            completion_ids.append([*ids[:-1], eos] if k % 3 == 0 else ids)
            env_mask.append([0 if j % 4 == 2 else 1 for j in range(length)])  # an observation every 4th token
        return {
            "prompt_ids": prompt_ids,
            "completion_ids": completion_ids,
            "logprobs": None,
            "env_mask": env_mask,
        }

    return rollout


def even_share(prompts, completions, completion_ids, **kw):
    return [sum(t % 2 == 0 for t in ids) / len(ids) for ids in completion_ids]


def long_only(prompts, completions, completion_ids, **kw):
    return [None if len(ids) < 3 else float(len(ids)) / 6 for ids in completion_ids]


def _rows():
    return [{"prompt": [{"role": "user", "content": f"task {i}"}], "topic": i % 3} for i in range(6)]


@pytest.mark.parametrize("beta", [0.0, 0.04])
def test_three_steps_match_trls_grpo_trainer(tiny_lm_path, tmp_path, beta):
    from datasets import Dataset
    from safetensors.torch import load_file
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import GRPOConfig, GRPOTrainer

    os.environ["TRL_EXPERIMENTAL_SILENCE"] = "1"
    tok = AutoTokenizer.from_pretrained(tiny_lm_path)
    rl = RLConfig(lr=1e-3, beta=beta, num_generations=G, batch_size=B, max_steps=STEPS, temperature=0.8,
                  max_completion_length=8)  # fmt: skip
    ours = fast_grpo_train(tiny_lm_path, _rows(), {"even_share": even_share, "long_only": long_only},
                           tmp_path / "fast", rl, seed=3, reward_weights=[1.0, 0.5],
                           rollout_func=_rollout(tok.eos_token_id))  # fmt: skip

    args = GRPOConfig(
        output_dir=str(tmp_path / "trl"), learning_rate=1e-3, beta=beta, num_generations=G,
        per_device_train_batch_size=B, max_steps=STEPS, temperature=0.8, max_completion_length=8,
        reward_weights=[1.0, 0.5], seed=3, data_seed=3, use_cpu=True, bf16=False, logging_steps=1,
        save_strategy="no", report_to="none", dataloader_num_workers=0, activation_checkpointing=False,
    )  # fmt: skip
    trainer = GRPOTrainer(
        model=AutoModelForCausalLM.from_pretrained(tiny_lm_path, dtype=torch.float32),
        reward_funcs=[even_share, long_only], args=args, train_dataset=Dataset.from_list(_rows()),
        processing_class=tok, rollout_func=_rollout(tok.eos_token_id),
    )  # fmt: skip
    trainer.train()
    trl_losses = [h["loss"] for h in trainer.state.log_history if "loss" in h and "train_loss" not in h]

    import json

    fast = [json.loads(x) for x in (tmp_path / "fast" / "steps.jsonl").read_text().splitlines()]
    assert len(fast) == len(trl_losses) == STEPS
    for ours_step, theirs in zip(fast, trl_losses, strict=True):
        assert ours_step["loss"] == pytest.approx(theirs, abs=1e-6)
    assert any(abs(x) > 1e-4 for x in trl_losses)  # a real loss, not zeros matching zeros
    mine = load_file(os.path.join(ours.model_path, "model.safetensors"))
    theirs = {k: v.detach() for k, v in trainer.model.state_dict().items()}
    start = load_file(os.path.join(tiny_lm_path, "model.safetensors"))
    # Adam divides by the gradient's running size, so where a gradient is near 0 a float32 rounding
    # difference can flip a weight's step (lr either way): compare the updates as a whole
    ours_update = torch.cat([(mine[k] - start[k]).flatten() for k in mine])
    trl_update = torch.cat([(theirs[k] - start[k]).flatten() for k in mine])
    assert ((ours_update - trl_update).norm() / trl_update.norm()).item() < 1e-2
    assert max((mine[k] - start[k]).abs().max().item() for k in mine) > 1e-4  # it trained


def test_sampling_its_own_completions_trains_and_logs(tiny_lm_path, tmp_path):
    """Without a rollout function the step samples each prompt's group itself (one encoded prompt,
    ``num_return_sequences``), cut after the first EOS as TRL cuts them, and trains on them."""
    import json

    seen: list[list[int]] = []

    def length(prompts, completions, completion_ids, topic, **kw):
        seen.extend(completion_ids)
        assert len(topic) == len(completions) == B  # dataset columns reach the rewards, one per row
        return [len(ids) / 8 for ids in completion_ids]

    rl = RLConfig(
        lr=1e-3, num_generations=G, batch_size=B, max_steps=2, temperature=1.0, max_completion_length=8
    )
    result = fast_grpo_train(tiny_lm_path, _rows(), {"length": length}, tmp_path / "own", rl, seed=0)
    steps = [json.loads(x) for x in (tmp_path / "own" / "steps.jsonl").read_text().splitlines()]
    assert [s["step"] for s in steps] == [1, 2] and all("rewards/length/mean" in s for s in steps)
    assert len(seen) == 2 * B and all(1 <= len(ids) <= 8 for ids in seen)
    from transformers import AutoTokenizer

    eos = AutoTokenizer.from_pretrained(tiny_lm_path).eos_token_id
    assert all(eos not in ids[:-1] for ids in seen)  # nothing after an EOS
    assert len({tuple(ids) for ids in seen}) > 1 and result.metrics["steps"] == 2


@pytest.mark.parametrize("algorithm", ["grpo", "rloo"])
def test_the_rewarded_completion_gains_probability(tiny_lm_path, tmp_path, algorithm):
    """Three steps on fixed rollouts whose first completion of every group is the only one rewarded:
    under GRPO and under RLOO (with its KL penalty in the reward) the rewarded completions become more
    likely relative to their siblings, so the update goes the way the rewards point."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from polyrlaif.core.rl_packed import group_token_logps
    from polyrlaif.core.trainers.fast_grpo import _groups

    tok = AutoTokenizer.from_pretrained(tiny_lm_path)
    rollout = _rollout(tok.eos_token_id)

    def first_only(prompts, completions, completion_ids, **kw):
        return [1.0 if i % G == 0 else 0.0 for i in range(len(completions))]

    rl = RLConfig(algorithm=algorithm, lr=3e-3, beta=0.05 if algorithm == "rloo" else 0.0, num_generations=G,
                  batch_size=B, max_steps=3, max_completion_length=8)  # fmt: skip
    out = fast_grpo_train(tiny_lm_path, _rows(), {"first": first_only}, tmp_path / algorithm, rl, seed=1,
                          rollout_func=_rollout(tok.eos_token_id))  # fmt: skip
    batch = rollout([r["prompt"] for r in _rows() for _ in range(G)], None)
    groups = _groups(batch["prompt_ids"], batch["completion_ids"])

    def margin(path):
        model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32)
        with torch.no_grad():
            logps, mask = group_token_logps(model, groups, pad_token_id=tok.pad_token_id)
        seq = (logps * mask).sum(1).view(-1, G)
        return (seq[:, 0] - seq[:, 1:].mean(1)).mean().item()

    assert margin(out.model_path) > margin(tiny_lm_path) + 0.05
