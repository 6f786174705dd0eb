"""The few small protocols every domain plugs into, and the frozen :class:`Domain` record.

The core never imports a domain. A domain package exposes a :class:`Domain` through the entry-point
group ``polyrlaif.domains``; its fields are ``"module:attr"`` strings, imported on first use, so
listing domains never imports torch.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from polyrlaif.core.records import Candidate, Judgment, PromptRecord

__all__ = [
    "BenchmarkEvaluator",
    "Domain",
    "DomainComponents",
    "Judge",
    "OnlineTask",
    "Policy",
    "PolicyAdapter",
    "RewardFn",
    "Sampler",
    "Verifier",
]

#: TRL's reward-function interface. ``None`` means "could not score this one".
RewardFn = Callable[..., list[float | None]]


@runtime_checkable
class Policy(Protocol):
    """A model that can be sampled. ``model_path`` is what the trainer starts from."""

    model_id: str
    model_path: str

    def generate(
        self,
        conversations: Sequence[list[dict[str, str]]],
        *,
        n: int = 1,
        temperature: float = 0.0,
        top_p: float = 1.0,
        max_new_tokens: int = 256,
        seed: int = 0,
    ) -> list[list[str]]:
        """Return ``n`` completions for each conversation."""
        ...


class PolicyAdapter(Protocol):
    """Builds the domain's policy from a model id or path (``adapter.py`` in a domain)."""

    def load(self, model: str, **kwargs: Any) -> Policy:
        """Load a policy for sampling and evaluation."""
        ...


class Sampler(Protocol):
    """Turns prompts into candidates with the current policy (``sampler.py``)."""

    def sample(
        self, policy: Policy, prompts: Sequence[PromptRecord], *, round_idx: int, out_path: Path
    ) -> list[Candidate]:
        """Sample candidates, resumably, writing them to ``out_path``."""
        ...


class Verifier(Protocol):
    """A deterministic check (unit tests, a parser, an exact match) (``verifier.py``)."""

    name: str

    def verify(self, prompts: Mapping[str, PromptRecord], candidates: Sequence[Candidate]) -> list[Judgment]:
        """Return one judgment per candidate; ``failure`` set where the check could not run."""
        ...


class Judge(Protocol):
    """An AI judge (``judge.py``). ``contexts[i]`` is what the domain lets it see for candidate i."""

    judge_id: str

    def judge(
        self,
        prompts: Mapping[str, PromptRecord],
        candidates: Sequence[Candidate],
        contexts: Sequence[dict[str, Any]] | None = None,
    ) -> list[Judgment]:
        """Return one judgment per candidate (or per pair, for pairwise judges)."""
        ...


class BenchmarkEvaluator(Protocol):
    """A benchmark run (``benchmarks.py``): generate with a policy, score, return metrics."""

    name: str

    def evaluate(
        self, policy: Policy, *, output_dir: Path, limit: int | None = None, samples: int = 1, **kwargs: Any
    ) -> dict[str, float]:
        """Run the benchmark, write per-item results under ``output_dir`` and return metrics."""
        ...


@dataclass
class OnlineTask:
    """What a domain trains on online (``run.mode: online``; GRPO or RLOO through TRL).

    Attributes:
        prompts: TRL dataset rows ``{"prompt": [chat messages], **columns}``; every column reaches every
            reward as a keyword argument.
        rewards: name -> reward callable ``(prompts, completions, **columns) -> list[float | None]``
            (``None``: does not apply). TRL logs each one's mean per step as ``rewards/<name>/mean``.
        weights: name -> weight of that reward in the total TRL normalises within each group; a
            reward missing here weighs 1.
        rollout_func: TRL's ``rollout_func(prompts, trainer)`` for a multi-turn domain that generates
            its own completions (tool calls, observations masked out of the loss); ``None``: TRL samples.
    """

    prompts: list[dict[str, Any]]
    rewards: dict[str, RewardFn]
    weights: dict[str, float] = field(default_factory=dict)
    rollout_func: Callable[[list[Any], Any], dict[str, list[Any]]] | None = None


@dataclass
class DomainComponents:
    """What a domain's ``build`` returns for one run: the parts the trainer loop calls.

    Attributes:
        adapter: builds the policy.
        sampler: makes candidates.
        verifiers: deterministic checks, run first.
        judges: AI judges, run second, each seeing ``context(prompt, candidate, verdicts)``.
        train_prompts: prompts for the sampling stage of every round.
        score: folds a candidate's judgments into the scalar the pair builder ranks by.
        context: what the judges see for a candidate, given the verifiers' judgments.
        eval_benchmarks: ``(benchmark name, kwargs)`` run before training and after each round.
        initial_model: the starting policy when the domain makes its own (e.g. a synthetic world's
            SFT'd model); overrides ``model.name_or_path`` and is logged. ``None``: use the config's.
        skipped: input records the domain left out (unreadable media and the like), one dict each
            with a ``reason``; the run lists them in ``skipped.jsonl`` and counts them in its metrics,
            so a run is never silently shorter than its input.
        online: the domain's online-RL task (``run.mode: online``); ``None`` if it trains offline only.

    ``sampler``, ``score`` and ``context`` are needed for offline rounds (``run.mode: offline``), and
    ``online`` for online ones; a domain supplies the parts of the modes it supports.
    """

    adapter: PolicyAdapter
    sampler: Sampler | None = None
    verifiers: list[Verifier] = field(default_factory=list)
    judges: list[Judge] = field(default_factory=list)
    train_prompts: list[PromptRecord] = field(default_factory=list)
    score: Callable[[PromptRecord, Candidate, list[Judgment]], float | None] | None = None
    context: Callable[[PromptRecord, Candidate, list[Judgment]], dict[str, Any]] | None = None
    eval_benchmarks: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    initial_model: str | None = None
    skipped: list[dict[str, Any]] = field(default_factory=list)
    online: OnlineTask | None = None


@dataclass(frozen=True)
class Domain:
    """A registered domain. All callables are lazy ``"module:attr"`` strings.

    Attributes:
        name: registry name, e.g. ``"code"``.
        description: one line for ``polyrlaif domains``.
        config: the domain's config dataclass (``config.py``).
        adapter: the domain's :class:`PolicyAdapter` instance (``adapter.py``), used by ``eval --model``.
        build: ``(TrainConfig) -> DomainComponents``.
        benchmarks: benchmark name -> evaluator class.
        verify_file: ``(input, output, **options) -> dict`` for ``polyrlaif verify``, if any.
    """

    name: str
    description: str
    config: str
    adapter: str
    build: str
    benchmarks: Mapping[str, str] = field(default_factory=dict)
    verify_file: str | None = None
