"""``run.executor``: the local executor and the Ray one (a real local Ray cluster, 2 workers) give the same
results in the same order; a worker process that dies mid-chunk is restarted and its chunk retried;
counters kept in the workers reach the driver; a chunk that keeps failing stops the stage by name."""

from __future__ import annotations

import os
import sys
from collections import Counter
from dataclasses import dataclass, field

import pytest

ray = pytest.importorskip("ray")
from ray import cloudpickle  # noqa: E402  (the pickler Ray ships its tasks with)

from polyrlaif.core.executor import LocalExecutor, RayExecutor, chunk_groups, merge_stats  # noqa: E402

# the checkers below live in this test module, which Ray's workers cannot import: ship them by value
cloudpickle.register_pickle_by_value(sys.modules[__name__])


@dataclass
class Stats:
    calls: int = 0
    failures: Counter = field(default_factory=Counter)

    def reset(self) -> None:
        self.calls, self.failures = 0, Counter()


class Squarer:
    """Squares numbers; counts calls and odd numbers; dies (the whole process) on the first chunk that
    holds ``die_on`` while ``marker`` does not exist yet."""

    def __init__(self, marker: str = "", die_on: int | None = None, always: bool = False) -> None:
        self.stats = Stats()
        self.marker, self.die_on, self.always = marker, die_on, always

    def square(self, chunk: list[int]) -> list[int]:
        if self.die_on in chunk and self.always:
            os._exit(1)
        if self.die_on in chunk and self.marker and not os.path.exists(self.marker):
            with open(self.marker, "w") as f:
                f.write(str(os.getpid()))
            os._exit(1)  # a real crash: no exception, no cleanup, the worker process is gone
        self.stats.calls += len(chunk)
        self.stats.failures.update("odd" for x in chunk if x % 2)
        return [x * x for x in chunk]


def square(checker: Squarer, chunk: list[int]) -> list[int]:
    return checker.square(chunk)


@pytest.fixture(scope="module")
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def test_chunk_groups_keep_whole_groups_in_first_seen_order():
    items = [("a", 1), ("a", 2), ("b", 3), ("c", 4), ("c", 5), ("c", 6), ("d", 7)]
    chunks = chunk_groups(items, lambda x: x[0], 3)
    assert [x for c in chunks for x in c] == items  # every item once, in order
    assert len(chunks) <= 3
    for c in chunks:  # no group is split across chunks
        for key in {k for k, _ in c}:
            assert sum(k == key for k, _ in items) == sum(k == key for k, _ in c)
    assert chunk_groups([], lambda x: x, 4) == []


def test_merge_stats_adds_numbers_and_counters():
    a, b = Stats(2, Counter(timeout=1)), Stats(3, Counter(timeout=2, parse=1))
    merge_stats(a, b)
    assert a.calls == 5 and a.failures == Counter(timeout=3, parse=1)


def test_ray_gives_the_local_results_in_order_and_counts_in_the_driver(local_ray):
    chunks = [list(range(i, i + 5)) for i in range(0, 40, 5)]
    local, remote = Squarer(), Squarer()
    seen: list[int] = []
    want = LocalExecutor().map(local, square, chunks)
    got = RayExecutor(workers=2).map(remote, square, chunks, on_result=lambda i, _: seen.append(i))
    assert got == want
    assert seen == list(range(len(chunks)))  # written in chunk order, as they come
    assert remote.stats.calls == local.stats.calls == 40  # counted in the workers, added here
    assert remote.stats.failures == local.stats.failures == Counter(odd=20)


def test_a_worker_killed_mid_chunk_is_restarted_and_its_chunk_retried(local_ray, tmp_path):
    marker = tmp_path / "died"
    chunks = [list(range(i, i + 4)) for i in range(0, 32, 4)]
    checker = Squarer(str(marker), die_on=13)
    got = RayExecutor(workers=2, retries=2).map(checker, square, chunks)
    assert marker.is_file()  # the worker really died once, mid-stage
    assert int(marker.read_text()) != os.getpid()
    assert got == [[x * x for x in c] for c in chunks]  # every item accounted for
    assert checker.stats.calls == 32  # the dead attempt counted nothing


def test_a_chunk_that_keeps_killing_its_worker_stops_the_stage_by_name(local_ray):
    chunks = [[1, 2], [3, 4]]
    checker = Squarer(die_on=3, always=True)
    with pytest.raises(RuntimeError, match=r"judge-x: chunk 2 of 2 failed after 1 retries"):
        RayExecutor(workers=2, retries=1).map(checker, square, chunks, desc="judge-x")


def test_checkers_cross_to_a_worker_without_their_live_parts(tmp_path):
    """What a round hands the workers pickles as settings: a judge cache as its file (the copy reads what
    the original wrote), an HTTP backend without its pool, a started sandbox verifier without its
    processes (the copy starts its own and runs the tests)."""
    from polyrlaif.core.judges import JudgeCache, OpenAIBackend, TransformersBackend
    from polyrlaif.core.records import Candidate, PromptRecord
    from polyrlaif.domains.code.verifier import CodeTestVerifier

    cache = JudgeCache(tmp_path / "c.sqlite")
    cache.put("j", "h", {"text": "yes"})
    copy = cloudpickle.loads(cloudpickle.dumps(cache))
    assert copy.get("j", "h") == {"text": "yes"} and copy.path == cache.path
    http = OpenAIBackend("http://127.0.0.1:9/v1", "m")
    http._http()  # its pool exists
    assert cloudpickle.loads(cloudpickle.dumps(http))._client is None
    assert cloudpickle.loads(cloudpickle.dumps(TransformersBackend("x")))._lock is not None

    test = "def check(f):\n    assert f(1, 2) == 3\n"
    meta = {"prompt": "def add(a, b):\n", "test": test, "entry_point": "add"}
    prompts = {"p": PromptRecord(prompt_id="p", text="add", meta=meta)}
    cands = [Candidate(candidate_id="c", prompt_id="p", text="    return a + b\n")]
    with CodeTestVerifier(timeout_s=10, workers=1) as verifier:
        verifier.sandbox()  # started here
        remote = cloudpickle.loads(cloudpickle.dumps(verifier))
        try:
            assert [j.score for j in remote.verify(prompts, cands)] == [1.0]
        finally:
            remote.close()
