"""A faster GRPO (and RLOO) step on TRL's semantics (issue 23): ``rl.backend=fast``.

What a step does is TRL's ``GRPOTrainer`` with its defaults (``loss_type="dapo"``, ``scale_rewards=
"group"``, one update per generation batch, AdamW fused with a linear decay, gradients clipped at 1):
the same data order (TRL's ``RepeatSampler`` with the run's seed), the reward callables with TRL's
signature (``None``: does not apply), the advantages and the loss of :mod:`polyrlaif.core.rl_loss`.
What it saves:

* the log-probabilities of a step's completions come from one packed pass in which every prompt is
  laid out once for its ``num_generations`` completions and the LM head runs only where a completion
  token is predicted (:func:`polyrlaif.core.rl_packed.group_token_logps`), for the policy and the
  reference alike; TRL runs each (prompt, completion) as a padded row of its own;
* the reference pass is skipped when beta is 0;
* sampling draws the ``num_generations`` completions of a prompt from one encoded prompt
  (``num_return_sequences``) instead of as repeated rows.

A domain's ``rollout_func(prompts, trainer)`` (multi-turn episodes) is called as TRL calls it, with
this trainer's ``model``, ``processing_class``, ``accelerator.unwrap_model``, ``args`` and ``state``; it
returns ``prompt_ids``, ``completion_ids`` and ``logprobs`` per row, plus extra columns for the rewards.
``env_mask`` (TRL's name; or ``tool_mask``: 1 on tokens the model wrote) masks tool observations out of
the loss. A rollout may also return ``segments`` (this trainer says ``accepts_segments``): per episode,
the list of sequences (``prompt_ids``, ``completion_ids``, ``env_mask``) its turns were sampled over,
for an agent whose actions rewrite earlier context (ReSeek's JUDGE). The model trains on those: each
sequence takes its episode's advantage (GRPO), or its log-probability counts toward its episode's
(RLOO), and the rewards still see one row per episode.

``tests/core/test_fast_grpo.py`` holds it to TRL's ``GRPOTrainer`` over three steps on the same
rollouts: the same losses and the same weights. ``rl.algorithm=rloo`` swaps in RLOO's leave-one-out
advantages (a KL penalty ``beta * sum(old - ref)`` in the reward) and its sequence-level clipped loss
(:func:`~polyrlaif.core.rl_loss.rloo_loss`, TRL's on fixed tensors), with tool observations left out of
a sequence's log-probability; unlike TRL's ``RLOOTrainer`` it takes a ``rollout_func``, so multi-turn
agents (PokeeResearch trains with RLOO) can use it. TRL has no RLOO rollout hook to compare whole steps
against.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from polyrlaif.core.config import ModelConfig, RLConfig
from polyrlaif.core.io import atomic_write_jsonl
from polyrlaif.core.trainers.base import TrainResult, finished_result, freeze_parameters, publish_trained

__all__ = ["fast_grpo_train"]

log = logging.getLogger(__name__)

STEPS_FILE = "steps.jsonl"
#: A rollout's fields that are not columns for the rewards.
ROLLOUT_KEYS = ("prompt_ids", "completion_ids", "logprobs", "tool_mask", "env_mask", "segments")


def _completion_texts(
    tokenizer: Any, prompts: Sequence[Any], completion_ids: Sequence[Sequence[int]]
) -> list:
    """Completions as TRL hands them to rewards: an assistant message for a chat prompt, else text."""
    texts = tokenizer.batch_decode(completion_ids, skip_special_tokens=True)
    chat = isinstance(prompts[0], list)
    return [[{"role": "assistant", "content": t}] for t in texts] if chat else texts


def _groups(prompt_ids: Sequence[Sequence[int]], completion_ids: Sequence[Sequence[int]]) -> list:
    """Consecutive rows with the same prompt become one prefix group (a prompt's completions)."""
    groups: list[tuple[list[int], list[list[int]]]] = []
    for p, c in zip(prompt_ids, completion_ids, strict=True):
        if groups and groups[-1][0] == list(p):
            groups[-1][1].append(list(c))
        else:
            groups.append((list(p), [list(c)]))
    return groups


def _flatten_segments(segments: Sequence[Sequence[dict[str, list[int]]]]) -> tuple[list, list, list, list]:
    """Episodes given as several sequences (a rollout's ``segments``: each ``prompt_ids``,
    ``completion_ids``, ``env_mask``) as training rows, with the episode each row belongs to. Every
    episode's first segment comes first, in episode order, so a group's shared prompt stays one run."""
    depth = max(map(len, segments))
    order = [(e, k) for k in range(depth) for e in range(len(segments)) if k < len(segments[e])]
    rows = [segments[e][k] for e, k in order]
    return ([r["prompt_ids"] for r in rows], [r["completion_ids"] for r in rows],
            [r["env_mask"] for r in rows], [e for e, _ in order])  # fmt: skip


def _generate(model: Any, tokenizer: Any, prompts: Sequence[Any], s: RLConfig) -> tuple[list, list]:
    """``num_generations`` completions of each distinct prompt of the batch (rows come in groups),
    cut after the first EOS token as TRL cuts them."""
    import torch

    unique = prompts[:: s.num_generations]
    texts = [tokenizer.apply_chat_template(p, add_generation_prompt=True, tokenize=False) for p in unique]
    enc = tokenizer(texts, return_tensors="pt", padding=True, padding_side="left", add_special_tokens=False)
    enc = enc.to(model.device)
    with torch.no_grad():
        out = model.generate(
            **enc, do_sample=True, temperature=s.temperature, top_k=0, top_p=1.0,
            max_new_tokens=s.max_completion_length, num_return_sequences=s.num_generations,
            pad_token_id=tokenizer.pad_token_id,
        )  # fmt: skip
    new = out[:, enc["input_ids"].shape[1] :].tolist()
    stop = model.generation_config.eos_token_id
    eos = {tokenizer.eos_token_id, *([stop] if isinstance(stop, int) else stop or [])}
    completions = []
    for row in new:
        cut = next((i + 1 for i, t in enumerate(row) if t in eos), len(row))
        completions.append(row[:cut])
    prompt_ids = []
    for ids, mask in zip(enc["input_ids"].tolist(), enc["attention_mask"].tolist(), strict=True):
        real = [t for t, m in zip(ids, mask, strict=True) if m]
        prompt_ids += [real] * s.num_generations
    return prompt_ids, completions


def _per_episode(values: Any, episodes: Any, n: int) -> Any:
    """Per-sequence values summed over each episode's sequences (``episodes``: a sequence's episode)."""
    if episodes is None:
        return values
    return values.new_zeros(n).index_add(0, episodes, values)


def _rewards(funcs: dict[str, Callable], rows: list[dict], prompts: list, completions: list,
             completion_ids: list, extra: dict) -> Any:  # fmt: skip
    """``(completions, functions)`` rewards, NaN where a function returned ``None``."""
    import torch

    columns = {
        k: [r[k] for r in rows] for k in rows[0] if k not in ("prompt", "completion", "completion_ids")
    }
    columns.update(extra)
    out = torch.full((len(completions), len(funcs)), float("nan"))
    for j, func in enumerate(funcs.values()):
        got = func(prompts=prompts, completions=completions, completion_ids=completion_ids, **columns)
        out[:, j] = torch.tensor([float("nan") if v is None else float(v) for v in got])
    return out


def fast_grpo_train(
    model_path: str,
    prompts: Sequence[dict[str, Any]],
    reward_funcs: dict[str, Callable],
    output_dir: str | Path,
    rl: RLConfig,
    *,
    model: ModelConfig | None = None,
    seed: int = 0,
    reward_weights: list[float] | None = None,
    rollout_func: Callable | None = None,
) -> TrainResult:
    """Train ``model_path`` with GRPO for ``rl.max_steps`` steps; publish to ``output_dir/model``.

    Args:
        prompts: dataset rows, each with a ``prompt`` (chat messages) and the columns rewards read.
        reward_funcs: name -> TRL-style reward callable.
        rl: ``num_generations``, ``batch_size`` (completions a step), ``max_steps``, ``lr``, ``beta``,
            ``temperature``, ``max_completion_length``; ``rl.trl`` may set ``epsilon``/``epsilon_high``.
        seed: data order, sampling.
        reward_weights: one per reward function (default 1).
        rollout_func: TRL's rollout hook (see the module docstring).

    Returns:
        The published result; metrics as TRL's backend reports them: the last step's ``loss``, ``reward``,
        ``reward_std``, ``kl`` (RLOO with beta), mean completion length and each reward's mean, plus
        ``steps`` and ``train_seconds``.
    """
    import copy

    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, set_seed
    from trl.trainer.utils import RepeatSampler

    from polyrlaif.core.rl_loss import group_advantages, grpo_loss, rloo_advantages, rloo_loss
    from polyrlaif.core.rl_packed import group_token_logps

    output_dir = Path(output_dir)
    done = finished_result(output_dir)
    if done is not None:
        return done
    from polyrlaif.core.models import pick_device

    device = pick_device((model or ModelConfig()).device)  # float32 wherever it runs (parity is on CPU)
    G, B = rl.num_generations, rl.batch_size
    eps_low = float(rl.trl.get("epsilon", 0.2))
    eps_high = float(rl.trl.get("epsilon_high") or eps_low)
    weights = torch.tensor(reward_weights or [1.0] * len(reward_funcs))
    set_seed(seed)  # as TRL's Trainer does when it starts
    tokenizer = AutoTokenizer.from_pretrained(model_path)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    policy = AutoModelForCausalLM.from_pretrained(model_path, dtype=torch.float32).to(device)
    freeze_parameters(policy, rl.freeze, f"{model_path} (rl.freeze)")
    policy.train()
    reference = copy.deepcopy(policy).eval() if rl.beta != 0.0 else None
    params = [p for p in policy.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=rl.lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, fused=True)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda k: max(0.0, (rl.max_steps - k) / rl.max_steps))
    sampler = RepeatSampler(
        prompts, mini_repeat_count=G, batch_size=B // G, repeat_count=1, shuffle=True, seed=seed
    )
    state = SimpleNamespace(global_step=0)
    accelerator = SimpleNamespace(
        unwrap_model=lambda model: model
    )  # what rollout funcs call on a TRL trainer
    view = SimpleNamespace(  # accepts_segments: an episode may come back as several sequences
        model=policy, processing_class=tokenizer, state=state, args=rl, accelerator=accelerator,
        accepts_segments=True,
    )  # fmt: skip
    order: list[int] = []
    steps: list[dict[str, float]] = []
    start = time.perf_counter()
    for step in range(rl.max_steps):
        t0 = time.perf_counter()
        while len(order) < B:
            order += list(iter(sampler))  # a new epoch: the sampler's next permutation
        idx, order = order[:B], order[B:]
        rows = [dict(prompts[i]) for i in idx]
        batch_prompts = [r["prompt"] for r in rows]
        extra: dict[str, Any] = {}
        tool_mask, episode_of = None, None
        if rollout_func is not None:
            out = rollout_func(batch_prompts, view)
            prompt_ids, completion_ids = out["prompt_ids"], out["completion_ids"]
            tool_mask = out.get("tool_mask", out.get("env_mask"))  # TRL reads a rollout's mask as env_mask
            extra = {k: v for k, v in out.items() if k not in ROLLOUT_KEYS}
        else:
            prompt_ids, completion_ids = _generate(policy, tokenizer, batch_prompts, rl)
        completions = _completion_texts(tokenizer, batch_prompts, completion_ids)
        rewards = _rewards(reward_funcs, rows, batch_prompts, completions, completion_ids, extra)
        train_prompts, train_completions = prompt_ids, completion_ids
        if rollout_func is not None and out.get("segments") is not None:  # episodes as several sequences
            train_prompts, train_completions, tool_mask, episode_of = _flatten_segments(out["segments"])
        groups = _groups(train_prompts, train_completions)
        pad = tokenizer.pad_token_id
        logps, mask = group_token_logps(policy, groups, pad_token_id=pad, temperature=rl.temperature)
        rewards, weights = rewards.to(logps.device), weights.to(logps.device)
        if tool_mask is not None:
            tm = torch.ones_like(mask)
            for k, row in enumerate(tool_mask):
                tm[k, : len(row)] = torch.tensor(row, dtype=mask.dtype)
            mask = mask * tm
        ref = None
        if reference is not None:
            with torch.no_grad():
                ref, _ = group_token_logps(reference, groups, pad_token_id=pad, temperature=rl.temperature)
        episodes = None if episode_of is None else torch.tensor(episode_of, device=logps.device)
        if rl.algorithm == "rloo":  # leave-one-out baseline; the KL penalty is in the reward
            old = _per_episode((logps.detach() * mask).sum(1), episodes, len(rows))
            kl = None
            if ref is not None:
                kl = _per_episode(((logps.detach() - ref) * mask).sum(1), episodes, len(rows))
            advantages = rloo_advantages(rewards, weights, G, kl=kl, beta=rl.beta)
            loss = rloo_loss(logps, old, advantages, mask, epsilon_low=eps_low, epsilon_high=eps_high,
                             episodes=episodes)  # fmt: skip
            metrics = {"kl": float(kl.mean())} if kl is not None else {}
        else:
            advantages = group_advantages(rewards, weights, G)
            if episodes is not None:  # each sequence of an episode takes the episode's advantage
                advantages = advantages[episodes]
            loss, metrics = grpo_loss(logps, None, advantages, mask, ref_logps=ref, beta=rl.beta,
                                      epsilon_low=eps_low, epsilon_high=eps_high, loss_type="dapo",
                                      num_items=float(mask.sum()))  # fmt: skip
        loss.backward()
        grad_norm = float(torch.nn.utils.clip_grad_norm_(params, 1.0))
        lr = sched.get_last_lr()[0]
        opt.step()
        sched.step()
        opt.zero_grad(set_to_none=True)
        state.global_step = step + 1
        total = (rewards * weights).nansum(1)
        row = {"step": step + 1, "loss": float(loss.detach()), "grad_norm": grad_norm, "learning_rate": lr,
               "reward": float(total.mean()), "reward_std": float(total.std()) if len(total) > 1 else 0.0,
               "completions/mean_length": float(sum(map(len, completion_ids)) / len(completion_ids)),
               "step_time": time.perf_counter() - t0, **metrics}  # fmt: skip
        for j, name in enumerate(reward_funcs):
            row[f"rewards/{name}/mean"] = float(torch.nanmean(rewards[:, j]))
        steps.append(row)
        log.info(
            f"fast grpo step {step + 1}/{rl.max_steps}: loss {row['loss']:.4f} reward {row['reward']:.3f}"
        )
    atomic_write_jsonl(output_dir / STEPS_FILE, steps)
    # what TRL's backend reports: the last step's loss, rewards, KL and length, each reward's mean
    last = steps[-1]
    reported = ("loss", "reward", "reward_std", "kl", "completions/mean_length",
                *(f"rewards/{name}/mean" for name in reward_funcs))  # fmt: skip
    metrics = {k: last[k] for k in reported if k in last}
    metrics |= {"steps": float(len(steps)), "train_seconds": round(time.perf_counter() - start, 3)}
    return publish_trained(output_dir, policy, tokenizer, metrics)
