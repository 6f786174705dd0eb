"""Where the embarrassingly parallel stages run: in this process, or on a Ray cluster (``run.executor``).

Verification and judging hand their work to an executor as *chunks*, each a run of whole prompt groups
(a pairwise judge ranks a prompt's full group), and a module-level ``call(checker, chunk)`` that checks
one chunk:

- ``local`` (the default) calls it on each chunk here, in order; the stages give it one chunk holding
  every candidate, which is what they did before executors existed.
- ``ray`` starts ``run.workers`` Ray actors, each holding its own copy of the checker (unpickled once
  per worker, so a judge's model loads once per worker; a judge cache pickles as its file path, so every
  worker reads and adds to the run's one sqlite cache), hands the chunks out as workers free up, and
  returns the results in chunk order, so the stage writes what the local executor writes. A worker
  that dies mid-chunk (a crash, an out-of-memory kill, a lost node) is restarted and its chunk retried,
  up to ``run.worker_retries`` times; only then does the stage fail, naming it. ``ray.init()`` joins the
  cluster ``RAY_ADDRESS`` names, else starts a local one with a CPU per worker.

Counters a checker keeps (``.stats``: calls, cache hits, failures) are counted in the workers and added
to the driver's copy, so a round reports the same numbers under either executor.
"""

from __future__ import annotations

import copy
import dataclasses
import os
from collections import Counter
from collections.abc import Callable, Hashable, Sequence
from typing import Any, Protocol, TypeVar

from polyrlaif.core.log import get_logger

__all__ = [
    "EXECUTORS",
    "Executor",
    "LocalExecutor",
    "RayExecutor",
    "chunk_groups",
    "make_executor",
    "merge_stats",
]

log = get_logger(__name__)

T = TypeVar("T")

#: The names ``run.executor`` takes.
EXECUTORS = ("local", "ray")


class Executor(Protocol):
    """Runs ``call(checker, chunk)`` over chunks and returns the results in chunk order."""

    name: str
    workers: int

    def map(
        self,
        checker: Any,
        call: Callable[[Any, Any], Any],
        chunks: Sequence[Any],
        *,
        desc: str = "",
        on_result: Callable[[int, Any], None] | None = None,
    ) -> list[Any]: ...

    def close(self) -> None: ...


def chunk_groups(items: Sequence[T], key: Callable[[T], Hashable], n_chunks: int) -> list[list[T]]:
    """Split ``items`` into at most ``n_chunks`` runs of whole groups (items sharing ``key``), in the
    order the groups first appear, each run close to an equal share of the items. Concatenated, the
    chunks hold every item once, grouped."""
    groups: dict[Hashable, list[T]] = {}
    for item in items:
        groups.setdefault(key(item), []).append(item)
    target = max(1, -(-len(items) // max(1, n_chunks)))
    chunks: list[list[T]] = []
    for group in groups.values():
        if not chunks or len(chunks[-1]) >= target:
            chunks.append([])
        chunks[-1].extend(group)
    return chunks


def merge_stats(into: Any, add: Any) -> None:
    """Add a worker's counters (a dataclass of numbers and Counters, like ``JudgeStats``) to ``into``."""
    for f in dataclasses.fields(into):
        mine, theirs = getattr(into, f.name), getattr(add, f.name, None)
        if isinstance(mine, Counter) and isinstance(theirs, Counter):
            mine.update(theirs)
        elif (
            isinstance(mine, (int, float)) and not isinstance(mine, bool) and isinstance(theirs, (int, float))
        ):
            setattr(into, f.name, mine + theirs)


class LocalExecutor:
    """Every chunk in this process, in order (the default)."""

    name = "local"
    workers = 1

    def map(
        self,
        checker: Any,
        call: Callable[[Any, Any], Any],
        chunks: Sequence[Any],
        *,
        desc: str = "",
        on_result: Callable[[int, Any], None] | None = None,
    ) -> list[Any]:
        """``[call(checker, chunk) for chunk in chunks]``, each result passed to ``on_result(i, result)``
        as it comes."""
        out = []
        for i, chunk in enumerate(chunks):
            out.append(call(checker, chunk))
            if on_result is not None:
                on_result(i, out[-1])
        return out

    def close(self) -> None:
        """Nothing to release."""


class _Worker:
    """A Ray actor holding one copy of a checker; ``run`` checks a chunk and returns the result with the
    counters that chunk added."""

    def __init__(self, checker: Any) -> None:
        self.checker = checker

    def run(self, call: Callable[[Any, Any], Any], chunk: Any) -> tuple[Any, Any]:
        stats = getattr(self.checker, "stats", None)
        if dataclasses.is_dataclass(stats) and callable(getattr(stats, "reset", None)):
            stats.reset()
        result = call(self.checker, chunk)
        return result, copy.deepcopy(stats) if dataclasses.is_dataclass(stats) else None


class RayExecutor:
    """Chunks on ``workers`` Ray actors; results in chunk order, a dead worker's chunk retried.

    Args:
        workers: actors per stage (each holds a copy of the stage's checker).
        retries: restarts of a dead worker, and retries of the chunk it held, before the stage fails.
        cpus_per_worker: CPUs Ray reserves for each actor (0: do not reserve).
    """

    name = "ray"

    def __init__(self, workers: int = 2, retries: int = 3, cpus_per_worker: float = 1.0) -> None:
        self.workers = workers
        self.retries = retries
        self.cpus_per_worker = cpus_per_worker
        self._started = False

    def _init(self) -> None:
        import ray

        if not ray.is_initialized():
            if os.environ.get("RAY_ADDRESS"):
                ray.init(log_to_driver=False)
                log.info(f"joined the Ray cluster at {os.environ['RAY_ADDRESS']}")
            else:
                cpus = max(os.cpu_count() or 1, int(self.workers * self.cpus_per_worker + 0.999))
                ray.init(num_cpus=cpus, include_dashboard=False, log_to_driver=False)
                log.info(f"started a local Ray cluster ({cpus} CPUs)")
            self._started = True

    def map(
        self,
        checker: Any,
        call: Callable[[Any, Any], Any],
        chunks: Sequence[Any],
        *,
        desc: str = "",
        on_result: Callable[[int, Any], None] | None = None,
    ) -> list[Any]:
        """Each chunk on a worker; the results in chunk order. ``on_result(i, result)`` sees each result
        as soon as every chunk before it is done (so a stage can write them in order as they come); if a
        chunk fails for good, it sees every other finished chunk before the error is raised.

        Raises:
            RuntimeError: a chunk failed ``retries + 1`` times (the worker died each time, or the
                checker raised), naming the stage and the chunk.
        """
        if not chunks:
            return []
        import ray
        from tqdm.auto import tqdm

        self._init()
        actor = ray.remote(_Worker).options(
            num_cpus=self.cpus_per_worker, max_restarts=self.retries, max_task_retries=self.retries
        )
        ref = ray.put(checker)  # pickled once, whatever the number of workers
        pool = [actor.remote(ref) for _ in range(min(self.workers, len(chunks)))]
        stats = getattr(checker, "stats", None)
        finished: dict[int, Any] = {}
        delivered: list[Any] = []

        def deliver(upto_gap: bool) -> None:
            for i in sorted(finished):
                if upto_gap and i != len(delivered):
                    break
                delivered.append(finished.pop(i))
                if on_result is not None:
                    on_result(i, delivered[-1])

        queue, idle = list(range(len(chunks))), list(pool)
        pending: dict[Any, tuple[int, Any]] = {}
        try:
            with tqdm(total=len(chunks), desc=f"{desc} (ray, {len(pool)} workers)", unit="chunk") as bar:
                while queue or pending:
                    while queue and idle:
                        i, w = queue.pop(0), idle.pop()
                        pending[w.run.remote(call, chunks[i])] = (i, w)
                    (fut,), _ = ray.wait(list(pending), num_returns=1)
                    i, w = pending.pop(fut)
                    try:
                        result, worker_stats = ray.get(fut)
                    except Exception as exc:
                        deliver(upto_gap=False)  # what did finish is written before the stage stops
                        raise RuntimeError(
                            f"{desc}: chunk {i + 1} of {len(chunks)} failed after {self.retries} retries "
                            f"({type(exc).__name__}: {str(exc)[:500]}); finished chunks are kept, rerun "
                            "the same command to retry the rest"
                        ) from None
                    if worker_stats is not None and dataclasses.is_dataclass(stats):
                        merge_stats(stats, worker_stats)
                    finished[i] = result
                    deliver(upto_gap=True)
                    idle.append(w)
                    bar.update(1)
        finally:
            for w in pool:
                ray.kill(w)
        return delivered

    def close(self) -> None:
        """Shut down the local cluster this executor started (a joined cluster is left running)."""
        if self._started:
            import ray

            ray.shutdown()
            self._started = False


def make_executor(name: str, *, workers: int = 2, retries: int = 3) -> Executor:
    """The executor ``run.executor`` names.

    Raises:
        ValueError: an unknown name.
    """
    if name == "local":
        return LocalExecutor()
    if name == "ray":
        return RayExecutor(workers=workers, retries=retries)
    raise ValueError(f"unknown executor {name!r}; valid: {', '.join(EXECUTORS)}")
