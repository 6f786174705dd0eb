"""The search agent loop (PokeeResearch + ReSeek): batched multi-turn rollouts with tools.

Text protocol (the model sees it in the system prompt; every text the model is shown lives in
:mod:`~polyrlaif.domains.search_agent.prompts`, the parsing in
:mod:`~polyrlaif.domains.search_agent.actions`). Each turn the model writes one action, optionally
after a ``<think>...</think>`` block:

* ``<tool_call>{"name": "search"|"read", "arguments": {...}}</tool_call>``: the call runs through
  :meth:`SearchTools.call` and its output comes back as a user message ``<observation>...</observation>``
  (cut to ``max_observation_chars``). A tool error comes back the same way, starting ``Error:``.
* ``<judge>useful</judge>`` / ``<judge>not useful</judge>`` (ReSeek's JUDGE, when ``judge_action``):
  a verdict on the latest tool observation. One judged not useful is replaced, in every later
  context, by ``DROPPED_NOTE``; a placeholder rather than a deletion, so user and assistant turns
  keep alternating as strict chat templates require. The trajectory keeps it, marked ``dropped``.
* ``<answer>text</answer><cite>doc-id, doc-id</cite>``: the final answer. With ``verify``
  (PokeeResearch), the first answer is only a draft: the model is shown ``VERIFY_PROMPT`` with
  its draft and may research further; its next answer commits.

Anything else gets an error observation with the expected format, never an exception. All unfinished
trajectories advance together: one ``generate`` call per turn (per ``batch_size`` chunk). A chunk whose
``generate`` raises ends with status ``error``; the others continue. A trajectory still unanswered
after ``max_turns`` turns ends with status ``turn_limit`` and no answer.

Example::

    tools = SearchTools(load_retriever("runs/index"), load_corpus(corpus_path()))
    gen = policy_generator(CausalLMPolicy("smollm2-135m-instruct"), max_new_tokens=256)
    trajs = run_agents(gen, tools, load_questions()[:8], AgentConfig(max_turns=6, verify=True))
    write_trajectories("runs/trajectories.jsonl", trajs)
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from polyrlaif.core.io import InputError, atomic_write_jsonl, iter_jsonl
from polyrlaif.domains.search_agent.actions import Action, first_action_end, parse_action
from polyrlaif.domains.search_agent.prompts import ACTION_FORMAT, DROPPED_NOTE, VERIFY_PROMPT, agent_prompt
from polyrlaif.domains.search_agent.tools import SearchTools

if TYPE_CHECKING:
    from polyrlaif.core.policy import CausalLMPolicy

__all__ = [
    "STATUSES",
    "AgentConfig",
    "Generate",
    "Step",
    "Trajectory",
    "agent_context",
    "policy_generator",
    "read_trajectories",
    "run_agents",
    "write_trajectories",
]

#: One assistant turn for each conversation, in order.
Generate = Callable[[list[list[dict[str, str]]]], list[str]]

STATUSES = ("answered", "turn_limit", "error")


@dataclass
class AgentConfig:
    """How the agent runs.

    Attributes:
        max_turns: model turns per question; an unanswered question then ends as ``turn_limit``.
        verify: PokeeResearch verification: the first answer is a draft the model checks.
        judge_action: allow ReSeek's ``<judge>`` action (else it gets an error observation).
        max_observation_chars: tool output longer than this is cut, with a note.
        batch_size: conversations per ``generate`` call; ``None`` sends all active ones at once.
    """

    max_turns: int = 8
    verify: bool = False
    judge_action: bool = False
    max_observation_chars: int = 4000
    batch_size: int | None = None

    def __post_init__(self) -> None:
        if self.max_turns < 1:
            raise ValueError(f"AgentConfig.max_turns must be >= 1, got {self.max_turns}")
        if self.max_observation_chars < 1:
            raise ValueError(
                f"AgentConfig.max_observation_chars must be >= 1, got {self.max_observation_chars}"
            )
        if self.batch_size is not None and self.batch_size < 1:
            raise ValueError(f"AgentConfig.batch_size must be >= 1 or None, got {self.batch_size}")


class Question(Protocol):
    """What :func:`run_agents` needs of a question (e.g. a ``FictionalQuestion``)."""

    id: str
    question: str


@dataclass
class Step:
    """One model turn and what the environment answered.

    Attributes:
        turn: 1-based turn number.
        text: the model's text, verbatim, up to the end of its first complete action (what a model
            generating without stop strings writes after it is dropped, and never reaches the context).
        action: what it parsed to.
        observation: the user message shown after this turn (empty after the committing answer).
        error: what went wrong (a malformed action, a failed tool call, a refused judgment), else None.
        dropped: judged not useful; later contexts show ``prompts.DROPPED_NOTE`` instead.
    """

    turn: int
    text: str
    action: Action
    observation: str = ""
    error: str | None = None
    dropped: bool = False


@dataclass
class Trajectory:
    """A whole rollout for one question.

    Attributes:
        question_id: the question's id.
        question: the question text.
        steps: every turn, in order.
        answer: the committed answer, if any.
        citations: document ids cited with the committed answer.
        draft_answer: the first answer in verify mode (None otherwise).
        draft_citations: its citations.
        status: ``running`` during the loop, then one of :data:`STATUSES`.
        error: why ``generate`` failed, for status ``error``.
        n_tool_calls: tool calls executed (including those the tools rejected).
        judgments: ``(step index, useful)`` for each accepted judgment; the index points into ``steps``.
    """

    question_id: str
    question: str
    steps: list[Step] = field(default_factory=list)
    answer: str | None = None
    citations: list[str] = field(default_factory=list)
    draft_answer: str | None = None
    draft_citations: list[str] = field(default_factory=list)
    status: str = "running"
    error: str | None = None
    n_tool_calls: int = 0
    judgments: list[tuple[int, bool]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form (one JSONL row)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, row: dict[str, Any], where: str = "") -> Trajectory:
        """Rebuild a trajectory written by :meth:`to_dict`.

        Raises:
            InputError: a missing or malformed field, named with ``where`` (``file:line``).
        """
        prefix = f"{where}: " if where else ""
        try:
            steps = [
                Step(
                    **{**s, "action": Action(**{**s["action"], "citations": tuple(s["action"]["citations"])})}
                )
                for s in row.get("steps", [])
            ]
            kwargs = {
                **row,
                "steps": steps,
                "judgments": [(int(i), bool(u)) for i, u in row.get("judgments", [])],
            }
            return cls(**kwargs)
        except (KeyError, TypeError, ValueError) as exc:
            raise InputError(f"{prefix}malformed trajectory field ({type(exc).__name__}: {exc})") from None


def agent_context(traj: Trajectory, cfg: AgentConfig) -> list[dict[str, str]]:
    """The conversation the model sees next: system, question, then each turn and its observation."""
    messages = agent_prompt(traj.question, cfg)
    for step in traj.steps:
        messages.append({"role": "assistant", "content": step.text})
        messages.append({"role": "user", "content": DROPPED_NOTE if step.dropped else step.observation})
    return messages


def _observe(text: str) -> str:
    return f"<observation>{text}</observation>"


def _cut(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return text[:limit] + f"\n[cut: showing {limit} of {len(text)} characters]"


def _judge(traj: Trajectory, step: Step, cfg: AgentConfig) -> None:
    """Apply a judge action to the latest tool observation, or refuse it with an error."""
    target = next(
        (i for i in reversed(range(len(traj.steps))) if traj.steps[i].action.kind == "tool_call"), None
    )
    if not cfg.judge_action:
        step.error = "the <judge> action is not enabled in this run"
    elif target is None:
        step.error = "there is no observation to judge yet"
    elif any(i == target for i, _ in traj.judgments):
        step.error = f"the latest observation (turn {traj.steps[target].turn}) is already judged"
    if step.error:
        step.observation = _observe(f"Error: {step.error}\n{ACTION_FORMAT}")
        return
    assert target is not None and step.action.useful is not None
    traj.judgments.append((target, step.action.useful))
    traj.steps[target].dropped = not step.action.useful
    fate = "kept in" if step.action.useful else "removed from"
    step.observation = _observe(
        f"Noted: the observation of turn {traj.steps[target].turn} is {fate} your context."
    )


def _advance(traj: Trajectory, text: str, turn: int, tools: SearchTools, cfg: AgentConfig) -> None:
    """Parse one model turn, act on it and record the step."""
    end = first_action_end(text)
    if end is not None:
        text = text[:end]  # what a model without stop strings writes after its action is not kept
    action = parse_action(text)
    step = Step(turn, text, action)
    if action.kind == "tool_call":
        assert action.tool is not None
        obs = tools.call(action.tool, action.arguments)
        traj.n_tool_calls += 1
        step.observation, step.error = _observe(_cut(obs.content, cfg.max_observation_chars)), obs.error
    elif action.kind == "judge":
        _judge(traj, step, cfg)
    elif action.kind == "answer" and cfg.verify and traj.draft_answer is None:
        traj.draft_answer, traj.draft_citations = action.answer, list(action.citations)
        cited = ", ".join(action.citations) or "none"
        step.observation = VERIFY_PROMPT.format(answer=action.answer, citations=cited)
    elif action.kind == "answer":
        traj.answer, traj.citations, traj.status = action.answer, list(action.citations), "answered"
    else:
        step.error = action.error
        step.observation = _observe(f"Error: {action.error}\n{ACTION_FORMAT}")
    traj.steps.append(step)


def _generate_checked(generate: Generate, contexts: list[list[dict[str, str]]]) -> list[str]:
    texts = generate(contexts)
    if not isinstance(texts, list) or len(texts) != len(contexts):
        got = len(texts) if isinstance(texts, list) else type(texts).__name__
        raise ValueError(f"generate returned {got} outputs for {len(contexts)} conversations")
    bad = [i for i, t in enumerate(texts) if not isinstance(t, str)]
    if bad:
        raise ValueError(f"generate returned non-text output at position(s) {bad}")
    return texts


def run_agents(
    generate: Generate,
    tools: SearchTools,
    questions: Sequence[Question],
    cfg: AgentConfig | None = None,
    *,
    progress: bool = False,
) -> list[Trajectory]:
    """Run the agent on every question, all unfinished ones advancing together each turn.

    Args:
        generate: one assistant turn per conversation (see :func:`policy_generator`).
        tools: the search and read tools.
        questions: objects with ``id`` and ``question`` attributes.
        cfg: the agent settings; defaults to ``AgentConfig()``.
        progress: show a bar of finished questions (with the turn reached) on stderr.

    Returns:
        One finished trajectory per question, in order.
    """
    cfg = cfg or AgentConfig()
    trajs = [Trajectory(q.id, q.question) for q in questions]
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(trajs), desc="agent", unit="question")
    try:
        _run_turns(generate, tools, trajs, cfg, bar)
    finally:
        if bar is not None:
            bar.close()
    return trajs


def _run_turns(
    generate: Generate, tools: SearchTools, trajs: list[Trajectory], cfg: AgentConfig, bar: Any
) -> None:
    for turn in range(1, cfg.max_turns + 1):
        active = [t for t in trajs if t.status == "running"]
        if bar is not None:
            bar.set_postfix(turn=turn, refresh=False)
            bar.update(len(trajs) - len(active) - bar.n)
        if not active:
            break
        size = cfg.batch_size or len(active)
        for start in range(0, len(active), size):
            batch = active[start : start + size]
            try:
                texts = _generate_checked(generate, [agent_context(t, cfg) for t in batch])
            except Exception as exc:  # a failed batch ends its own rollouts, not the whole run
                for t in batch:
                    t.status, t.error = (
                        "error",
                        f"generate failed at turn {turn}: {type(exc).__name__}: {exc}",
                    )
                continue
            for t, text in zip(batch, texts, strict=True):
                _advance(t, text, turn, tools, cfg)
    for t in trajs:
        if t.status == "running":
            t.status = "turn_limit"
    if bar is not None:
        bar.update(len(trajs) - bar.n)


def policy_generator(
    policy: CausalLMPolicy, *, max_new_tokens: int = 256, temperature: float = 0.0, seed: int = 0
) -> Generate:
    """Adapt a :class:`~polyrlaif.core.policy.CausalLMPolicy` to the :data:`Generate` signature.

    Call ``c`` of the returned function samples with seed ``batch_seed(seed, c)``, so successive turns
    draw fresh randomness while the whole run stays reproducible.
    """
    from polyrlaif.core.policy import batch_seed

    calls = itertools.count()

    def generate(conversations: list[list[dict[str, str]]]) -> list[str]:
        outs = policy.generate(
            conversations,
            n=1,
            temperature=temperature,
            max_new_tokens=max_new_tokens,
            seed=batch_seed(seed, next(calls)),
        )
        return [o[0] for o in outs]

    return generate


def write_trajectories(path: str | os.PathLike, trajs: Sequence[Trajectory]) -> Path:
    """Atomically write trajectories as JSON Lines; returns the path."""
    return atomic_write_jsonl(path, (t.to_dict() for t in trajs))


def read_trajectories(path: str | os.PathLike) -> list[Trajectory]:
    """Read trajectories written by :func:`write_trajectories`.

    Raises:
        InputError: a missing file, a malformed line or field; the message reads ``file:line: ...``.
    """
    return [
        Trajectory.from_dict(row, f"{path}:{lineno}")
        for lineno, row in iter_jsonl(path, required=("question_id", "question", "status", "steps"))
    ]
