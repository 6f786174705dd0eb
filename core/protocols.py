"""The few small protocols every domain plugs into, and the frozen :class:`Domain` record.

The core never imports a domain. A domain package exposes a :class:`Domain` through the entry-point
group ``polyrlaif.domains``; its fields are ``"module:attr"`` strings, imported on first use, so
listing domains never imports torch.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal, Protocol, runtime_checkable

from polyrlaif.core.records import Candidate, Judgment, PromptRecord

__all__ = [
    "BenchmarkEvaluator",
    "BenchmarkRun",
    "Direction",
    "Domain",
    "DomainBuild",
    "EvalRequest",
    "OfflineFeedback",
    "PrepStage",
    "Judge",
    "MediaPolicy",
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


@runtime_checkable
class MediaPolicy(Protocol):
    """A model that produces media from a text prompt (a text-to-image pipeline, a speech generator).

    Each output is a function of the prompt, the policy's fixed settings and the output's own seed, so a
    candidate can be produced again from its record.

    Attributes:
        model_id: the name it was created from.
        model_path: what the trainer starts from.
        media_kind: ``"image"``, ``"audio"`` or ``"video"``.
        suffix: the file suffix of the encoded bytes (``".png"``).
    """

    model_id: str
    model_path: str
    media_kind: str
    suffix: str

    def settings(self) -> dict[str, Any]:
        """The fixed generation settings (scheduler, steps, guidance, size), recorded per candidate."""
        ...

    def generate_media(self, prompts: Sequence[str], *, seeds: Sequence[int]) -> list[bytes]:
        """One encoded output per prompt, ``prompts[i]`` generated with ``seeds[i]``."""
        ...


class PolicyAdapter(Protocol):
    """Builds the domain's policy from a model id or path (``adapter.py`` in a domain).

    An adapter may also define ``policy_kwargs(cfg) -> dict``: keyword arguments ``load`` takes from the
    run config beyond dtype, device, cache and batch size (a diffusion policy's ``sampling.steps``), and
    ``servable = True`` when its policies only chat, so that ``load`` accepts ``serve`` (a server command,
    ``model.serve``) and samples through an OpenAI-compatible server.
    """

    def load(self, model: str, **kwargs: Any) -> Policy | MediaPolicy:
        """Load a policy for sampling and evaluation."""
        ...


class Sampler(Protocol):
    """Turns prompts into candidates with the current policy (``sampler.py``)."""

    def sample(
        self,
        policy: Any,
        prompts: Sequence[PromptRecord],
        *,
        round_idx: int,
        out_path: Path,
        executor: Any = None,
    ) -> list[Candidate]:
        """Sample candidates from a :class:`Policy` or :class:`MediaPolicy`, resumably, writing them to
        ``out_path`` (and produced media beside it). ``executor`` (``run.sample_replicas``): where to
        draw the batches (:mod:`polyrlaif.core.executor`); ``None``: this process."""
        ...


class Verifier(Protocol):
    """A deterministic check (unit tests, a parser, an exact match) (``verifier.py``).

    A check may set ``required = False`` (default: required) when its failure to decide is advisory:
    a candidate with a failed required judgment is held back from every pair.
    """

    name: str

    def verify(self, prompts: Mapping[str, PromptRecord], candidates: Sequence[Candidate]) -> list[Judgment]:
        """Return one judgment per candidate; ``failure`` set where the check could not run."""
        ...


class Judge(Protocol):
    """An AI judge (``judge.py``). ``contexts[i]`` is what the domain lets it see for candidate i.

    Judges are required: a candidate whose judgment failed enters no pair (unless ``required = False``).
    """

    judge_id: str

    def judge(
        self,
        prompts: Mapping[str, PromptRecord],
        candidates: Sequence[Candidate],
        contexts: Sequence[dict[str, Any]] | None = None,
    ) -> list[Judgment]:
        """Return one judgment per candidate (or per pair, for pairwise judges)."""
        ...


#: Which way a metric should move: lm-eval-harness's ``higher_is_better``, as a word.
Direction = Literal["higher", "lower"]


@dataclass
class EvalRequest:
    """One benchmark run, as the run loop or ``polyrlaif eval`` asks for it.

    Attributes:
        output_dir: where the evaluator writes its per-item files and ``metrics.json``.
        limit: the first ``limit`` items only; ``None``: all.
        samples: completions per item.
        temperature: sampling temperature (0: greedy).
        max_new_tokens: generation budget; ``None``: the evaluator's own default
            (:attr:`BenchmarkEvaluator.max_new_tokens`).
        seed: base sampling seed.
        batch_size: items per generation call.
        options: the evaluator's own options, an instance of its ``Options`` dataclass (files such as
            ``annotations`` or ``corpus`` included); ``None``: its defaults.
    """

    output_dir: Path
    limit: int | None = None
    samples: int = 1
    temperature: float = 0.0
    max_new_tokens: int | None = None
    seed: int = 0
    batch_size: int = 8
    options: Any = None


@runtime_checkable
class BenchmarkEvaluator(Protocol):
    """A benchmark (``benchmarks.py``): generate with a policy (or read predictions), score, return metrics.

    Class attributes, read by the core without running anything:
        name: the benchmark's registry name.
        Options: a dataclass of the benchmark's own options; ``polyrlaif eval --opt k=v`` and the
            ``--annotations``/``--corpus``/... flags fill its fields, a run's ``build`` fills it from the
            domain config, and unset fields keep the benchmark's defaults.
        metrics: headline metric -> ``"higher"`` or ``"lower"`` (which way is better). The summary table,
            ``metrics.png`` and significance tests report exactly these.
        max_new_tokens: generation budget used when the request leaves it unset.

    An evaluator may also define ``summarize(eval_dirs, out_dir) -> list[Path]``: run-level files made
    from every round's evaluation folder at the end of a run (a grid of the same items across rounds).

    ``evaluate`` writes ``items.jsonl`` into ``request.output_dir``: one row per item, with a unique
    ``id`` (the same id for the same item in every run) and the numbers ``aggregate`` needs. From those
    rows the core computes each headline metric's bootstrap interval and the paired difference between
    two evaluations of the same items (:mod:`polyrlaif.core.evidence`).
    """

    name: ClassVar[str]
    Options: ClassVar[type]
    metrics: ClassVar[Mapping[str, Direction]]
    max_new_tokens: ClassVar[int]

    def evaluate(self, policy: Policy | None, request: EvalRequest) -> dict[str, float]:
        """Run the benchmark, write per-item results under ``request.output_dir`` and return metrics."""
        ...

    @staticmethod
    def aggregate(rows: Sequence[Mapping[str, Any]]) -> dict[str, float]:
        """The metrics of a set of ``items.jsonl`` rows; on all rows, exactly what ``evaluate`` returned
        for the declared metrics (a resampled set gives the bootstrap's)."""
        ...


@dataclass
class BenchmarkRun:
    """A benchmark a training run evaluates before training and after every round.

    Attributes:
        name: the benchmark's name in :attr:`Domain.benchmarks`.
        options: an instance of that evaluator's ``Options`` (``None``: its defaults).
    """

    name: str
    options: Any = None


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
        frame_cache: a :class:`~polyrlaif.core.media.FrameCache` folder for the frames of the prompts'
            videos (later rounds decode nothing); ``None``: decoded every time. How many frames per video
            is the run's ``model.num_frames``, which the trainer reads, as every model of the run does.
    """

    prompts: list[dict[str, Any]]
    rewards: dict[str, RewardFn]
    weights: dict[str, float] = field(default_factory=dict)
    rollout_func: Callable[[list[Any], Any], dict[str, list[Any]]] | None = None
    frame_cache: str | None = None


#: Folds a candidate's judgments into the scalar the pair builder ranks by (``None``: leave it out).
ScoreFn = Callable[[PromptRecord, Candidate, list[Judgment]], "float | None"]
#: What the judges see for a candidate, given the verifiers' judgments.
ContextFn = Callable[[PromptRecord, Candidate, list[Judgment]], dict[str, Any]]
#: How the audit edits a response's text (``polyrlaif audit``): ``(kind, text) -> text`` for ``kind``
#: ``pad`` (neutral filler), ``inject`` (an instruction to the grader) or ``claim`` (a confident claim of
#: correctness), each leaving what the verifiers check unchanged.
PerturbFn = Callable[[str, str], str]
#: Pairs a domain builds beyond each prompt's own best-against-worst (e.g. InstructEngine's
#: cross-validation pairs between analogous prompts): ``(prompts by id, candidates, judgments by
#: candidate id, scores by candidate id) -> (pairs, counts for the round's stats)``.
ExtraPairsFn = Callable[
    [
        Mapping[str, PromptRecord],
        Sequence[Candidate],
        Mapping[str, list[Judgment]],
        Mapping[str, "float | None"],
    ],
    "tuple[list[Any], dict[str, float]]",
]


@dataclass
class OfflineFeedback:
    """The parts of offline preference rounds (``run.mode: preference``): sample, verify, judge, pair.

    Attributes:
        sampler: makes candidates.
        prompts: prompts for the sampling stage of every round.
        score: folds a candidate's judgments into the scalar the pair builder ranks by.
        context: what the judges see for a candidate, given the verifiers' judgments.
        verifiers: deterministic checks, run first.
        judges: AI judges, run second, each seeing ``context(prompt, candidate, verdicts)``.
        extra_pairs: pairs beyond each prompt's own, built from the same judgments (held-back
            candidates already have a ``None`` score); added before the length filter, their counts
            reported as ``pairs_extra/<name>``. ``None``: the prompt's own pairs only.
        perturb: the audit's edits of a response in this domain (e.g. comments inside code); ``None``:
            the core's plain-text edits (:func:`polyrlaif.core.audit_probes.plain_edit`).
    """

    sampler: Sampler
    prompts: list[PromptRecord]
    score: ScoreFn
    context: ContextFn
    verifiers: list[Verifier] = field(default_factory=list)
    judges: list[Judge] = field(default_factory=list)
    extra_pairs: ExtraPairsFn | None = None
    perturb: PerturbFn | None = None


@dataclass
class DomainBuild:
    """What a domain's ``build(cfg, prepared)`` returns for one run.

    Attributes:
        evaluations: benchmarks run before training and after each round.
        starting_model: the policy round 1 starts from when the domain makes its own (e.g. the SFT'd
            policy of a preparation stage); ``None``: ``model.name_or_path``.
        skipped: input records the domain left out (unreadable media and the like), one dict each with
            a ``reason``; the run lists them in ``skipped.jsonl`` and counts them, so a run is never
            silently shorter than its input.
        offline: the parts of preference rounds; ``None`` if the domain has none.
        online: the online-RL task; ``None`` if the domain trains offline only.

    The policy adapter is not here: it is :attr:`Domain.adapter`, one for training and evaluation.
    """

    evaluations: list[BenchmarkRun] = field(default_factory=list)
    starting_model: str | None = None
    skipped: list[dict[str, Any]] = field(default_factory=list)
    offline: OfflineFeedback | None = None
    online: OnlineTask | None = None


@dataclass
class PrepStage:
    """A named preparation step a recipe runs, in view, before round 0.

    Building a synthetic world, pretraining a vision tower, SFT of a starting policy, training a labeler,
    warm-starting an agent. The recipe gives each stage a row in the run's summary with its wall time,
    skips it when ``<output_dir>/stage.json`` says it finished with the same settings, and stops with
    the changed keys when the settings differ (see :mod:`polyrlaif.core.stages`).

    Attributes:
        name: unique within the run, e.g. ``"policy_sft"``.
        output_dir: the stage's own folder; ``None``: a folder in the shared stage cache named by the
            stage and its settings hash (:func:`polyrlaif.core.stages.place_stages`), so any run with the
            same settings, from any working directory, reuses it.
        settings: every value the result depends on (JSON-serialisable); hashed with the hashes of
            the ``after`` stages, so a change upstream invalidates what was built on it.
        run: ``(output_dir, prepared) -> outputs``, with ``prepared`` the outputs of the stages before;
            the outputs (JSON-serialisable, e.g. checkpoint paths) reach ``build`` by stage name.
        after: stages whose outputs this one reads.
        description: one line for the log.
    """

    name: str
    output_dir: Path | None
    settings: dict[str, Any]
    run: Callable[[Path, Mapping[str, dict[str, Any]]], dict[str, Any]]
    after: tuple[str, ...] = ()
    description: str = ""


@dataclass(frozen=True)
class Domain:
    """A registered domain. All callables are lazy ``"module:attr"`` strings.

    Attributes:
        name: registry name, e.g. ``"code"``.
        description: one line for ``polyrlaif domains``.
        config: the domain's config dataclass (``config.py``).
        adapter: the domain's :class:`PolicyAdapter` instance (``adapter.py``): it loads the policy for
            training rounds and for ``eval --model`` alike.
        build: ``(TrainConfig, prepared) -> DomainBuild``, with ``prepared`` the outputs of the
            preparation stages by name. It assembles parts; expensive work belongs in a stage.
        stages: ``(TrainConfig) -> list[PrepStage]``, the domain's preparation stages, if any.
        benchmarks: benchmark name -> evaluator class.
        verify_file: ``(input, output, **options) -> dict`` for ``polyrlaif verify``, if any.
        configs: an importable package holding the domain's own ``<name>.yaml`` configs, which
            ``--config <domain>/<name>`` then finds (a third-party domain ships its configs this way; ours
            live in ``polyrlaif.configs``).
    """

    name: str
    description: str
    config: str
    adapter: str
    build: str
    benchmarks: Mapping[str, str] = field(default_factory=dict)
    verify_file: str | None = None
    stages: str | None = None
    configs: str | None = None
