"""The search agent's sampler: multi-turn agent rollouts, the agent loop as TRL's GRPO ``rollout_func``.

This domain trains online, so its sampler is the rollout: it turns the GRPO prompts (each
:func:`~polyrlaif.domains.search_agent.prompts.agent_prompt` of a question) into completions, whole
agent episodes, with the trainer's current model.

:func:`make_rollout_func` returns the hook ``rollout_func(prompts, trainer)`` that TRL 1.16's
``GRPOTrainer`` calls instead of its own generation. TRL's sampler has already repeated each prompt
``num_generations`` times, so the hook returns exactly one rollout per prompt it receives (TRL checks
one reward per prompt and groups them ``num_generations`` at a time). For each prompt it runs
:func:`~polyrlaif.domains.search_agent.agent.run_agents` with the trainer's current model, sampling,
and returns:

* ``prompt_ids``: the initial context (system prompt and question) as the chat template renders it
  with the generation prompt.
* ``completion_ids``: everything after it in the rendered whole conversation (each model turn,
  each observation message), up to the last model turn's end-of-turn token. The observation of a
  last turn that ended in ``turn_limit`` is left out: the model never acted on it.
* ``env_mask``: 1 on model-turn tokens (the turn's text and the template's end-of-turn after it),
  0 on observation messages and the next assistant header. TRL multiplies it into the loss mask.
* ``logprobs``: each completion token's log-probability under the sampling model (teacher-forced
  over the returned sequence, logits divided by the temperature as TRL does), only when the trainer
  reads them: TRL 1.16 does for vLLM importance sampling and off-policy masking (``use_vllm``,
  ``off_policy_mask_threshold``), and otherwise computes its own; else ``None``, which saves a forward
  pass per episode. Masked tokens' values never matter.
* ``trajectory``: each rollout's :meth:`Trajectory.to_dict`, which TRL forwards to every reward
  function as the ``trajectory`` keyword (rewards should read the answer there: TRL's ``completions``
  argument is the decoded completion, observations included).

Approximations: the training sequence is the *re-rendered* conversation, not the sampled token ids.
A model turn is kept up to its first complete action (see ``Step.text``), and re-tokenising its text
may split it differently from how it was sampled; the policy gradient is taken on the re-tokenised
turn. ReSeek's ``judge`` action edits earlier context, which no single token sequence represents: with
``judge_action`` the rollout also returns ``segments``, each episode cut after every turn that dropped
an observation into sequences over the contexts its turns actually saw (:func:`encode_segments`); the
fast backend (``rl.backend=fast``) trains on those, and TRL's trainers, which take one sequence per
rollout, are refused.

Example::

    rows = [{"prompt": agent_prompt(q.question, cfg), "answers": list(q.answers)} for q in questions]
    rollout = make_rollout_func(tools, cfg, max_new_tokens=256, temperature=1.0)
    grpo_train(policy_path, rows, {"answer_f1": answer_f1}, out_dir, RLConfig(), rollout_func=rollout)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from polyrlaif.domains.search_agent.agent import AgentConfig, Trajectory, agent_context, run_agents
from polyrlaif.domains.search_agent.prompts import DROPPED_NOTE, QUESTION_PREFIX, agent_prompt
from polyrlaif.domains.search_agent.tools import SearchTools

__all__ = ["RolloutEncoding", "encode_segments", "encode_trajectory", "make_rollout_func"]


@dataclass(frozen=True)
class _Asked:
    id: str
    question: str


@dataclass
class RolloutEncoding:
    """One trajectory as TRL trains on it.

    Attributes:
        prompt_ids: the initial context's tokens.
        completion_ids: every later token of the rendered conversation.
        env_mask: per completion token, 1 if the model wrote it, 0 if the environment did.
    """

    prompt_ids: list[int]
    completion_ids: list[int]
    env_mask: list[int]


def _render(tokenizer: Any, messages: list[dict[str, str]], generation_prompt: bool) -> str:
    return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=generation_prompt)


def encode_trajectory(tokenizer: Any, traj: Trajectory, cfg: AgentConfig) -> RolloutEncoding:
    """Tokenise a finished trajectory's conversation into prompt, completion and ``env_mask``.

    Raises:
        ValueError: the trajectory has no step, or the chat template does not render a conversation
            as an extension of its prefixes (then no token split of it exists).
    """
    if not traj.steps:
        raise ValueError(f"trajectory {traj.question_id!r} has no model turn")
    messages = agent_context(traj, cfg)[:-1]  # the last observation was never acted on
    return _encode(tokenizer, messages, 2, len(traj.steps))


def _drops(traj: Trajectory) -> dict[int, int]:
    """``{judging step index: dropped step index}`` for each accepted "not useful" judgment (accepted
    judgments are the judge steps without an error, in the order of ``traj.judgments``)."""
    judging = [k for k, st in enumerate(traj.steps) if st.action.kind == "judge" and st.error is None]
    return {k: target for k, (target, useful) in zip(judging, traj.judgments, strict=False) if not useful}


def _seen_context(traj: Trajectory, cfg: AgentConfig, start: int, drops: dict[int, int]) -> list:
    """The conversation as the model saw it at step ``start``: observations dropped by then replaced."""
    gone = {target for k, target in drops.items() if k < start}
    messages = agent_prompt(traj.question, cfg)
    for i, st in enumerate(traj.steps[:start]):
        messages.append({"role": "assistant", "content": st.text})
        messages.append({"role": "user", "content": DROPPED_NOTE if i in gone else st.observation})
    return messages


def encode_segments(tokenizer: Any, traj: Trajectory, cfg: AgentConfig) -> list[RolloutEncoding]:
    """The trajectory as the training sequences its turns were sampled over (ReSeek's JUDGE trains so).

    A "not useful" judgment replaces an earlier observation in every later context, so no one token
    sequence holds what each turn saw. The episode is cut after each turn that dropped an observation:
    each segment's prompt is the context its first turn saw (earlier drops applied), its completion that
    turn and the following ones up to the next drop, with their observations masked out as in
    :func:`encode_trajectory`. An episode without drops is one segment, equal to it.

    Raises:
        ValueError: as :func:`encode_trajectory`.
    """
    if not traj.steps:
        raise ValueError(f"trajectory {traj.question_id!r} has no model turn")
    drops = _drops(traj)
    starts = [0, *sorted(k + 1 for k in drops if k + 1 < len(traj.steps))]
    out = []
    for start, end in zip(starts, [*starts[1:], len(traj.steps)], strict=True):
        context = _seen_context(traj, cfg, start, drops)
        messages = list(context)
        for st in traj.steps[start:end]:
            messages.append({"role": "assistant", "content": st.text})
            messages.append({"role": "user", "content": st.observation})
        out.append(_encode(tokenizer, messages[:-1], len(context), end - start))
    return out


def _encode(tokenizer: Any, messages: list[dict[str, str]], first: int, turns: int) -> RolloutEncoding:
    """``messages[:first]`` as the prompt, then ``turns`` assistant turns (at ``first``, ``first + 2``,
    ...) with the observations between them: tokens, and 1 on the tokens the model wrote."""
    # Spans of the rendered text the model wrote: from the end of each generation prompt to the end
    # of the rendered turn. Everything between is the environment's (observation + next header).
    model_spans: list[tuple[int, int]] = []
    before = _render(tokenizer, messages[:first], True)
    prompt_text = before
    for k in range(turns):
        after_turn = _render(tokenizer, messages[: first + 1 + 2 * k], False)
        if not after_turn.startswith(before):
            raise ValueError("the chat template does not render a conversation as an extension of its prefix")
        model_spans.append((len(before), len(after_turn)))
        if first + 2 + 2 * k <= len(messages):
            before = _render(tokenizer, messages[: first + 2 + 2 * k], True)
            if not before.startswith(after_turn):
                raise ValueError("the chat template does not render an observation as an extension")
    full = after_turn
    enc = tokenizer(full, add_special_tokens=False, return_offsets_mapping=True)
    ids, offsets = enc["input_ids"], enc["offset_mapping"]
    prompt_ids = tokenizer(prompt_text, add_special_tokens=False)["input_ids"]
    if ids[: len(prompt_ids)] != prompt_ids:
        raise ValueError("the rendered conversation does not start with the prompt's tokens")
    completion = ids[len(prompt_ids) :]
    mask = [int(any(a <= start < b for a, b in model_spans)) for start, _ in offsets[len(prompt_ids) :]]
    eos = tokenizer.eos_token_id
    if eos in completion:  # end on the last end-of-turn token: TRL reads a sequence without it as clipped
        end = len(completion) - completion[::-1].index(eos)
        completion, mask = completion[:end], mask[:end]
    return RolloutEncoding(prompt_ids, completion, mask)


def _sampler(
    model: Any, tokenizer: Any, max_new_tokens: int, temperature: float, reuse: bool = True
) -> Callable:
    """A :data:`~polyrlaif.domains.search_agent.agent.Generate` sampling from ``model`` as it is now.

    With ``reuse`` each conversation's keys and values are kept from one turn to the next
    (:class:`~polyrlaif.core.prefix_cache.PrefixCache`), so a turn runs the model only on what is new in
    the batch's contexts (the last observation, the next assistant header), not the whole conversation."""
    import torch

    from polyrlaif.core.prefix_cache import PrefixCache

    cache = PrefixCache() if reuse else None
    # pure temperature sampling (no top-k or top-p), the distribution TRL's loss is written for
    settings = {"do_sample": True, "temperature": temperature, "top_k": 0, "top_p": 1.0}
    settings["max_new_tokens"] = max_new_tokens

    def generate(conversations: list[list[dict[str, str]]]) -> list[str]:
        texts = [_render(tokenizer, c, True) for c in conversations]
        if cache is not None:
            ids = [tokenizer(t, add_special_tokens=False)["input_ids"] for t in texts]
            new = cache.generate(model, ids, tokenizer.pad_token_id, **settings)
            return tokenizer.batch_decode(new, skip_special_tokens=True)
        side, tokenizer.padding_side = tokenizer.padding_side, "left"
        try:
            batch = tokenizer(texts, add_special_tokens=False, padding=True, return_tensors="pt")
        finally:
            tokenizer.padding_side = side
        batch = batch.to(model.device)
        with torch.no_grad():
            out = model.generate(**batch, pad_token_id=tokenizer.pad_token_id, **settings)
        return tokenizer.batch_decode(out[:, batch["input_ids"].shape[1] :], skip_special_tokens=True)

    generate.cache = cache  # type: ignore[attr-defined]  # its counters: tokens reused and computed
    return generate


def _reads_logprobs(trainer: Any) -> bool:
    """Whether the trainer reads a rollout's ``logprobs`` (TRL's vLLM importance sampling or off-policy
    masking); TRL otherwise, and the fast backend always, compute the old policy's log-probs themselves."""
    args = getattr(trainer, "args", None)
    masking = getattr(args, "off_policy_mask_threshold", None) is not None
    return bool(getattr(args, "use_vllm", False)) or masking


def _logprobs(model: Any, enc: RolloutEncoding, temperature: float) -> list[float]:
    """Teacher-forced log-probability of each completion token, logits scaled as TRL scales them."""
    import torch

    ids = torch.tensor([enc.prompt_ids + enc.completion_ids], device=model.device)
    with torch.no_grad():
        logits = model(input_ids=ids).logits[0, len(enc.prompt_ids) - 1 : -1].float() / temperature
        logps = torch.log_softmax(logits, dim=-1).gather(-1, ids[0, len(enc.prompt_ids) :, None])
    return logps[:, 0].tolist()


def make_rollout_func(
    tools: SearchTools,
    cfg: AgentConfig,
    max_new_tokens: int = 256,
    temperature: float = 1.0,
    reuse_kv_cache: bool = True,
) -> Callable[[list[Any], Any], dict[str, list[Any]]]:
    """TRL's ``rollout_func`` running the search agent with the trainer's current model.

    Args:
        tools: the search and read tools the agent calls.
        cfg: the agent settings; with ``judge_action`` each episode also comes back as ``segments``
            (:func:`encode_segments`), which the trainer must take (``trainer.accepts_segments``).
        max_new_tokens: tokens per model turn.
        temperature: sampling temperature; pass the same value as the trainer's ``temperature``.
        reuse_kv_cache: keep each conversation's keys and values across its turns
            (:class:`~polyrlaif.core.prefix_cache.PrefixCache`) instead of re-encoding it every turn.

    Returns:
        ``rollout_func(prompts, trainer)``: one rollout per prompt, each prompt being
        :func:`agent_prompt` of a question. See the module docstring for the returned fields.

    Raises:
        ValueError: (per call) a prompt that is not an agent prompt, or ``cfg.judge_action`` with a
            trainer that does not take segments.
        RuntimeError: (per call) generation failed during a rollout.
    """

    def rollout_func(prompts: list[Any], trainer: Any) -> dict[str, list[Any]]:
        if cfg.judge_action and not getattr(trainer, "accepts_segments", False):
            raise ValueError(
                "judge_action rewrites earlier context, so its episodes train as segments, which only "
                "rl.backend=fast takes (TRL's trainers take one token sequence per rollout)"
            )
        asked = []
        for i, prompt in enumerate(prompts):
            question = prompt[-1]["content"].removeprefix(QUESTION_PREFIX) if prompt else ""
            if prompt != agent_prompt(question, cfg):
                raise ValueError(f"prompt {i} is not an agent prompt (build it with agent_prompt)")
            asked.append(_Asked(str(i), question))  # position in the batch; dataset columns carry real ids
        model = trainer.accelerator.unwrap_model(trainer.model)
        tokenizer = trainer.processing_class
        was_training = model.training
        model.eval()
        try:
            generate = _sampler(model, tokenizer, max_new_tokens, temperature, reuse=reuse_kv_cache)
            trajs = run_agents(generate, tools, asked, cfg)
            if generate.cache is not None:  # context tokens taken from the cache, and run through the model
                rollout_func.kv["reused"] += generate.cache.reused  # type: ignore[attr-defined]
                rollout_func.kv["computed"] += generate.cache.computed  # type: ignore[attr-defined]
            failed = [t for t in trajs if t.status == "error"]
            if failed:
                raise RuntimeError(f"rollout generation failed: {failed[0].error}")
            encs = [encode_trajectory(tokenizer, t, cfg) for t in trajs]
            logprobs = [_logprobs(model, e, temperature) for e in encs] if _reads_logprobs(trainer) else None
        finally:
            model.train(was_training)
        out = {
            "prompt_ids": [e.prompt_ids for e in encs],
            "completion_ids": [e.completion_ids for e in encs],
            "logprobs": logprobs,
            "env_mask": [e.env_mask for e in encs],
            "trajectory": [t.to_dict() for t in trajs],
        }
        if cfg.judge_action:  # what each turn saw: the sequences the fast backend trains on
            out["segments"] = [[vars(e) for e in encode_segments(tokenizer, t, cfg)] for t in trajs]
        return out

    rollout_func.kv = {"reused": 0, "computed": 0}  # type: ignore[attr-defined]
    return rollout_func
