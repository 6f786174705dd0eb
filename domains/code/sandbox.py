"""A sandbox for running untrusted Python programs (the unit tests of generated code).

:class:`Sandbox` keeps a pool of long-lived worker processes (:mod:`.sandbox_worker`): light
interpreters started as ``python -I -S`` with a scrubbed environment, each in its own network, mount,
IPC and UTS namespaces, every mount read-only and a fresh ``/run`` over the host's. For each program
a worker clones a child that is PID 1 of a fresh PID namespace, with fresh tmpfs over ``/tmp``,
``/var/tmp``, ``/dev/shm`` and ``$HOME`` and a ``/proc`` of its own; the child sets rlimits (address
space, CPU, file size, processes, open files), drops to uid/gid 65534 (or, when not started as root,
into a nested user namespace), clears its environment and file descriptors. For a
:class:`TestedCode` it then runs the tests itself and clones the candidate's code into a nested PID
namespace, calling it across a socket with plain data; a plain program string runs in-process (the
weaker mode). Forking the warm worker is what makes a program cost milliseconds, not an interpreter
start.

Statuses: ``passed``; ``failed`` (an AssertionError: a test failed); ``error`` (any other exception,
SyntaxError included, an exit before the tests finished, or a result that is not plain data);
``timeout``; ``oom`` (MemoryError under the address-space limit, or a kill by the kernel in the
program's cgroup); ``sandbox_error`` (our machinery failed, or the tests pass the candidate what
cannot cross as plain data).

What a program cannot do, and the tests (tests/domains/code, tests/reliability) check each:

* forge its verdict (out of process, the default): the assertions and the verdict live in the tests'
  process, which the candidate cannot name, signal or trace (nested PID namespace, non-dumpable)
  and shares no memory with. Frames, ``gc``, ``inspect``, replaced builtins or modules reach only
  the candidate's own process; results cross as plain data of exact types, so an object equal to
  anything is an ``error``. The verdict is a line on a private pipe with a per-program nonce,
  written only by the tests' process; exit codes and stdout mean nothing;
* outlive its run: the wall-clock timeout kills PID 1, and with it every process of the namespace,
  daemons included; the worker waits until they are gone;
* take more than its budgets: where the machine offers a cgroup (v2, or v1's memory and pids
  controllers; see :mod:`.sandbox_cgroup`), each program runs in a fresh one that caps all its memory
  (memfd, shared memory and every forked child together) at ``memory_mb`` and all its processes at
  ``max_processes``; a kill by the kernel there is ``oom``, even after a pass. System V segments die
  with the program's own IPC namespace. Without a cgroup the sandbox says so once, at start-up;
* signal anyone else: it runs in a session of its own inside its PID namespace, so ``kill(0, ...)``,
  ``killpg`` and ``kill(-1, ...)`` reach only itself and its children, never a neighbour, a worker
  or (in a user namespace, under the same uid) the caller;
* reach the network: its network namespace has no interfaces up, not even loopback;
* change the host's files: everything is read-only but its own tmpfs, which vanish with it;
* read the parent's environment: workers start with ``PATH`` and ``LANG`` only, which is also all
  that ``/proc/self/environ`` shows, and other processes are out of sight.

What it still can do (the threat model, honestly): defeat weak tests with plain data (a test that
checks too little passes a wrong answer); in the in-process mode (a program string;
``verify --in-process``) it shares an interpreter with the harness and can forge a pass outright.
Without a cgroup, each process has only its own address-space limit and the process limit is per
uid, shared by the programs running at once (in a user namespace: by every process of the user).
It can burn its CPU budget, read world-readable host files, and read the worker's memory (the text
of programs run before it; the candidate also holds a copy of its own job's nonce, useless without
the verdict pipe). Kernel exploits are out of scope: this is not a VM. With
``unsafe_no_isolation=True`` there are no namespaces: only rlimits, a private temp dir, a scrubbed
environment and a session kill, which a daemon escapes; the candidate can then signal or trace its
tests.
"""

from __future__ import annotations

import math
import os
import selectors
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from polyrlaif.core.log import get_logger
from polyrlaif.domains.code.sandbox_cgroup import PoolCgroup, create_pool_cgroup, remove_pool_cgroup
from polyrlaif.domains.code.sandbox_handle import IsolationUnavailable, SandboxError, WorkerHandle

_log = get_logger(__name__)
_NOTICED: set[str] = set()  # start-up notices already given by this process

__all__ = ["STATUSES", "IsolationUnavailable", "Sandbox", "SandboxError", "SandboxResult", "TestedCode"]

#: Every status a result can have.
STATUSES = ("passed", "failed", "timeout", "error", "oom", "sandbox_error")


@dataclass(frozen=True)
class SandboxResult:
    """Outcome of one program.

    Attributes:
        status: one of :data:`STATUSES`.
        passed: True only for ``passed``.
        duration_s: wall-clock seconds from fork to exit.
        detail: one line on why (exception, signal, limit).
        output: tail of the program's stdout and stderr (the traceback, when it raised).
    """

    status: str
    passed: bool
    duration_s: float
    detail: str = ""
    output: str = ""


def _shutdown(workers: list[WorkerHandle], pool: list[PoolCgroup | None]) -> None:
    for w in workers:
        w.close()
    workers.clear()
    remove_pool_cgroup(pool[0])  # after the workers: their programs' cgroups are empty by then
    pool[0] = None


@dataclass(frozen=True)
class TestedCode:
    """A candidate's code and the tests that judge it, run in two processes (the out-of-process verdict).

    The tests run in a process the candidate's code cannot touch, and call the candidate across the
    boundary: arguments, results and exceptions (by type and message) cross as plain data. A result
    that is not plain data is an ``error`` with that reason; arguments that are not (a callable, an
    object the tests mutate) are a ``sandbox_error``: such suites need the in-process mode.

    Attributes:
        code: the candidate's program (untrusted); it must define ``entry_point``.
        test: the test code; it defines ``check(candidate)``.
        entry_point: the function the tests call.
        context: trusted code run first in the tests' process (the task's prompt: its imports and
            helpers, which some tests call); its own ``entry_point`` is replaced by the candidate's.
    """

    code: str
    test: str
    entry_point: str
    context: str = ""

    def payload(self) -> dict:
        """The job as the worker takes it."""
        return {"code": self.code, "test": self.test, "entry_point": self.entry_point,
                "context": self.context}


class Sandbox:
    """A reusable pool of sandbox workers; use as a context manager.

    Args:
        workers: number of programs run at once.
        timeout_s: default wall-clock limit per program.
        memory_mb: address-space limit (RLIMIT_AS) per program; MemoryError or a kill is ``oom``.
        max_processes: RLIMIT_NPROC for the sandbox user (processes and threads).
        file_mb: largest file a program may write (RLIMIT_FSIZE); also caps its captured output.
        unsafe_no_isolation: run without namespaces, where the kernel refuses them. Only rlimits, a
            scrubbed environment and a process-group kill remain: trusted code only.
        start_timeout_s: how long a worker may take to come up.

    Raises:
        IsolationUnavailable: on :meth:`start`, if namespaces are refused and
            ``unsafe_no_isolation`` is False.
    """

    def __init__(
        self,
        workers: int = 2,
        timeout_s: float = 10.0,
        *,
        memory_mb: int = 1024,
        max_processes: int = 64,
        file_mb: int = 16,
        unsafe_no_isolation: bool = False,
        start_timeout_s: float = 60.0,
    ) -> None:
        if workers < 1:
            raise ValueError(f"workers must be >= 1, got {workers}")
        self.n_workers, self.timeout_s = workers, _check_timeout(timeout_s)
        self.unsafe_no_isolation = unsafe_no_isolation
        self.start_timeout_s = start_timeout_s
        self._config = {
            "home": os.environ.get("HOME") or str(Path.home()),
            "memory_mb": memory_mb,
            "tmp_mb": 64,
            "max_processes": max_processes,
            "file_mb": file_mb,
            "output_bytes": 2000,
            "workers": workers,
        }
        self.mode: str | None = None
        #: ``"v1"`` or ``"v2"``: each program's total memory and processes are limited by a cgroup
        #: of its own; ``None``: no usable cgroup here (``cgroup_notice`` says why).
        self.cgroup: str | None = None
        self.cgroup_notice = ""
        self._workers: list[WorkerHandle] = []
        self._pool: list[PoolCgroup | None] = [None]
        self._lock = threading.Lock()
        self._finalizer = weakref.finalize(self, _shutdown, self._workers, self._pool)

    @property
    def cgroup_dirs(self) -> list[str]:
        """The pool's cgroup folders (empty without a cgroup, or once closed)."""
        return list(self._pool[0].dirs.values()) if self._pool[0] else []

    # -- lifecycle

    def start(self) -> Sandbox:
        """Start the workers (idempotent). Picks the strongest isolation the kernel allows."""
        if self._workers:
            return self
        self._start_cgroup()
        if self.unsafe_no_isolation:
            modes = ["none"]
        else:  # as root, jobs run as uid 65534; otherwise a user namespace stands in for root
            modes = ["root", "userns"] if os.geteuid() == 0 else ["userns"]
        errors = []
        for mode in modes:
            try:
                self._workers.append(self._spawn(mode))
                self.mode = mode
                break
            except IsolationUnavailable as exc:
                errors.append(f"{mode}: {exc}")
        if self.mode is None:
            raise IsolationUnavailable(
                "cannot isolate untrusted code here (" + "; ".join(errors) + "). The kernel must allow "
                "network, mount and PID namespaces (as root, or through a user namespace). To run "
                "trusted code without isolation, pass unsafe_no_isolation=True (--unsafe-no-isolation)."
            )
        try:
            while len(self._workers) < self.n_workers:
                self._workers.append(self._spawn(self.mode))
        except BaseException:
            self.close()
            raise
        return self

    def _start_cgroup(self) -> None:
        """Make the pool's cgroup folder, or say once per process what is not enforced without one."""
        pool, why = create_pool_cgroup()
        self._pool[0], self.cgroup_notice = pool, why
        self.cgroup = None if pool is None else f"v{pool.version}"
        if pool is None and why not in _NOTICED:
            _NOTICED.add(why)
            mb, n = self._config["memory_mb"], self._config["max_processes"]
            _log.warning(
                f"sandbox: no cgroup for the programs' memory and processes here ({why}). Not enforced: "
                f"a program's total memory (memfd, shared memory and forked children each stay under "
                f"their own {mb} MiB address-space limit, but not their sum) and its own process count "
                f"(the limit of {n} processes is shared by all programs of the sandbox's uid)."
            )

    def _spawn(self, mode: str) -> WorkerHandle:
        cgroup = self._pool[0].as_config() if self._pool[0] else None
        return WorkerHandle({**self._config, "mode": mode, "cgroup": cgroup}, self.start_timeout_s)

    def close(self) -> None:
        """Stop the workers and remove the pool's cgroup. A later :meth:`run` starts them again."""
        _shutdown(self._workers, self._pool)
        self.mode, self.cgroup = None, None

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- running

    def run(
        self,
        programs: Sequence[str | TestedCode],
        *,
        timeout_s: float | None = None,
        progress: bool | str = False,
    ) -> list[SandboxResult]:
        """Run each program; results come back in input order.

        A program cannot stop the run: whatever it does, it gets a result. If the machinery itself
        fails (a worker dies or hangs), that program is ``sandbox_error`` and the worker is replaced.

        Args:
            programs: :class:`TestedCode` (the candidate's code and its tests in two processes: the
                verdict lives where the candidate cannot reach it), or a complete Python program as a
                string, run in one process (in-process mode): passing means running to the end
                without raising, and the program shares its interpreter with whatever decides that.
            timeout_s: wall-clock limit per program (default: the sandbox's).
            progress: show a tqdm bar; a string is used as its label.
        """
        from tqdm.auto import tqdm

        timeout = self.timeout_s if timeout_s is None else _check_timeout(timeout_s)
        results: list[SandboxResult | None] = [None] * len(programs)
        label = progress if isinstance(progress, str) else "sandbox"
        with self._lock, tqdm(total=len(programs), desc=label, unit="prog", disable=not progress) as bar:
            self.start()

            def done(w: WorkerHandle, result: SandboxResult) -> None:
                results[w.job] = result
                w.job = None
                bar.update(1)

            queue = deque(range(len(programs)))
            with selectors.DefaultSelector() as sel:
                for w in self._workers:
                    sel.register(w.rfd, selectors.EVENT_READ, w)
                while queue or any(w.job is not None for w in self._workers):
                    for w in self._workers:
                        if w.job is None and queue:
                            job = queue.popleft()
                            w.submit(job, _payload(programs[job]), timeout)
                    if not self._workers:
                        break
                    self._collect(sel, done)
        return [r if r is not None else _sandbox_error("no sandbox worker could be started") for r in results]

    def _collect(
        self, sel: selectors.BaseSelector, done: Callable[[WorkerHandle, SandboxResult], None]
    ) -> None:
        """Wait for the next answer (or the earliest deadline) and hand out what arrived."""
        wait = min(w.deadline for w in self._workers if w.job is not None) - time.monotonic()
        for key, _ in sel.select(timeout=max(0.0, wait)):
            w = key.data
            frames = w.read()
            if frames is None:
                done(w, _sandbox_error(f"sandbox worker died: {w.stderr_tail(500) or 'no output'}"))
                self._replace(w, sel)
                continue
            for frame in frames:
                done(w, _to_result(frame, w.job))
        for w in list(self._workers):
            if w.job is not None and time.monotonic() > w.deadline:
                done(w, _sandbox_error("sandbox worker stopped answering; replaced"))
                self._replace(w, sel)

    def _replace(self, w: WorkerHandle, sel: selectors.BaseSelector) -> None:
        sel.unregister(w.rfd)
        self._workers.remove(w)
        w.kill()
        try:
            new = self._spawn(self.mode or "none")
        except SandboxError:
            return  # one worker fewer; with none left, run() reports sandbox_error for the rest
        self._workers.append(new)
        sel.register(new.rfd, selectors.EVENT_READ, new)


def _payload(program: str | TestedCode) -> dict:
    return {"program": program} if isinstance(program, str) else program.payload()


def _check_timeout(timeout_s: float) -> float:
    """``timeout_s`` as a float, if it is a finite number of seconds above 0 (nan and inf are not)."""
    if not isinstance(timeout_s, int | float) or not math.isfinite(timeout_s) or timeout_s <= 0:
        raise ValueError(f"timeout_s must be a finite number of seconds above 0, got {timeout_s!r}")
    return float(timeout_s)


def _to_result(frame: dict, job: int | None) -> SandboxResult:
    if frame.get("id") != job:
        return _sandbox_error(f"sandbox worker answered job {frame.get('id')} for job {job}")
    status = frame.get("status")
    if status not in STATUSES:
        return _sandbox_error(f"unknown status {status!r}")
    return SandboxResult(
        status=status,
        passed=status == "passed",
        duration_s=float(frame.get("duration_s", 0.0)),
        detail=str(frame.get("detail", "")),
        output=str(frame.get("output", "")),
    )


def _sandbox_error(detail: str) -> SandboxResult:
    return SandboxResult(status="sandbox_error", passed=False, duration_s=0.0, detail=detail)
