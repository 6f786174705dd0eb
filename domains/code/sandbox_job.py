"""One job of the sandbox worker: clone the program's child, wait for it, and classify the outcome.

Part of the sandbox worker (:mod:`.sandbox_worker`), which imports it as a top-level module.
"""

from __future__ import annotations

import errno
import json
import math
import os
import re
import select
import signal
import time

import sandbox_child
import sandbox_sys as sx

#: Verdicts the program's child may report (the rest come from how it ended); ``sandbox_error`` from
#: the tests' process, when the tests need what cannot cross as plain data.
STATUSES = ("passed", "failed", "error", "oom", "sandbox_error")
#: The pool's cgroup folders (controller -> fd), opened before the worker's mount namespace made
#: /sys read-only: paths resolved from these fds stay on the host's writable cgroup mounts.
POOL_FDS: dict[str, int] = {}


def open_pool_cgroup(cfg: dict) -> None:
    """Open the pool's cgroup folders named in ``cfg["cgroup"]`` (call before unsharing mounts)."""
    for controller, path in ((cfg.get("cgroup") or {}).get("dirs") or {}).items():
        POOL_FDS[controller] = os.open(path, os.O_RDONLY | os.O_DIRECTORY)


class JobCgroup:
    """A fresh cgroup for one program: ``memory_mb`` for all its memory, ``max_processes`` processes.

    The child joins it by writing ``0`` to each ``procs_fds`` entry before it drops its privileges;
    what it forks stays inside. v1 has a folder per controller, v2 one for both.
    """

    _seq = 0

    def __init__(self, cfg: dict) -> None:
        JobCgroup._seq += 1
        self.version = int(cfg["cgroup"]["version"])
        self.name = f"job-{os.getpid()}-{JobCgroup._seq}"
        self.dirs: dict[str, int] = {}
        self.procs_fds: list[int] = []
        mem, procs = int(cfg["memory_mb"]) * 2**20, int(cfg.get("max_processes", 64))
        limits = {
            "memory": [("memory.limit_in_bytes", mem), ("memory.memsw.limit_in_bytes", mem)],
            "pids": [("pids.max", procs)],
            "unified": [("memory.max", mem), ("memory.swap.max", 0), ("pids.max", procs)],
        }
        try:
            for controller, pool in POOL_FDS.items():
                os.mkdir(self.name, 0o755, dir_fd=pool)
                self.dirs[controller] = fd = os.open(self.name, os.O_RDONLY | os.O_DIRECTORY, dir_fd=pool)
                for name, value in limits[controller]:  # swap limits exist only where swap is accounted
                    _write_at(fd, name, str(value), optional="sw" in name)
                self.procs_fds.append(os.open("cgroup.procs", os.O_WRONLY, dir_fd=fd))
        except BaseException:
            self.remove()
            raise

    def close_procs(self) -> None:
        """The worker's copies of the join handles, once the child has its own."""
        for fd in self.procs_fds:
            os.close(fd)
        self.procs_fds = []

    def oom_kills(self) -> int:
        """How many processes the kernel killed for want of memory in this cgroup."""
        fd = self.dirs.get("memory" if self.version == 1 else "unified")
        name = "memory.oom_control" if self.version == 1 else "memory.events"
        try:
            text = _read_at(fd, name) if fd is not None else ""
        except OSError:
            return 0
        match = re.search(r"^oom_kill (\d+)$", text, re.MULTILINE)
        return int(match.group(1)) if match else 0

    def remove(self) -> None:
        """Close our handles and remove the (empty, once the program is reaped) folders."""
        self.close_procs()
        for controller, fd in self.dirs.items():
            os.close(fd)
            for _ in range(50):  # the kernel may take a moment to let go of the last exited task
                try:
                    os.rmdir(self.name, dir_fd=POOL_FDS[controller])
                    break
                except OSError as exc:
                    if exc.errno != errno.EBUSY:
                        break  # the pool's cleanup removes what is left
                    time.sleep(0.001)
        self.dirs = {}


def _write_at(dir_fd: int, name: str, text: str, optional: bool = False) -> None:
    try:
        fd = os.open(name, os.O_WRONLY, dir_fd=dir_fd)
    except FileNotFoundError:
        if optional:
            return
        raise
    try:
        os.write(fd, text.encode())
    finally:
        os.close(fd)


def _read_at(dir_fd: int, name: str) -> str:
    fd = os.open(name, os.O_RDONLY, dir_fd=dir_fd)
    try:
        return os.read(fd, 65536).decode()
    finally:
        os.close(fd)


def run_job(cfg: dict, job: dict) -> dict:
    """Run one program in a fresh child (and cgroup, where the pool has one) and classify the outcome."""
    mode, timeout = cfg["mode"], float(job["timeout"])
    # Two secrets: ``token`` marks setup progress and is written before the program runs (it could
    # read it back through /proc/self/fd/3); ``nonce`` signs the verdict and is written only after.
    nonce, token = os.urandom(16).hex().encode(), os.urandom(16).hex().encode()
    cgroup = JobCgroup(cfg) if POOL_FDS else None
    job_dir = None
    if mode == "none":
        import tempfile

        job_dir = tempfile.mkdtemp(prefix="polyrlaif-sandbox-")
    r, w = os.pipe()
    out = os.memfd_create("sandbox-output")
    start = time.monotonic()
    try:
        # A fresh IPC namespace too: System V segments outlive every process that made them, and
        # would otherwise stay in the worker (and in memory) after the program ended.
        flags = sx.CLONE_NEWPID | sx.CLONE_NEWNS | sx.CLONE_NEWIPC
        pid = os.fork() if mode == "none" else sx.clone(flags)
    except BaseException:
        for fd in (r, w, out):
            os.close(fd)
        if cgroup is not None:
            cgroup.remove()
        raise
    if pid == 0:
        try:
            procs = tuple(cgroup.procs_fds) if cgroup else ()
            sandbox_child.run_child(cfg, job, timeout, (nonce, token), w, out, job_dir, procs)
        finally:
            os._exit(70)
    os.close(w)
    try:
        if cgroup is not None:
            cgroup.close_procs()
        buf, status, timed_out = _wait(mode, pid, r, start + timeout)
        duration = time.monotonic() - start
        oom_kills = cgroup.oom_kills() if cgroup is not None else None
        return _classify(cfg, (nonce, token), buf, (status, timed_out, oom_kills), duration, out)
    finally:
        os.close(r)
        os.close(out)
        if cgroup is not None:
            cgroup.remove()
        if job_dir is not None:
            import shutil

            shutil.rmtree(job_dir, ignore_errors=True)


def _wait(mode: str, pid: int, r: int, deadline: float) -> tuple[bytes, int, bool]:
    """Collect the verdict pipe until the child exits or the deadline passes; then reap it."""
    pidfd = os.pidfd_open(pid)
    poller = select.poll()
    poller.register(r, select.POLLIN)
    poller.register(pidfd, select.POLLIN)
    poller.register(0, 0)  # our stdin: POLLHUP means the parent is gone
    buf, timed_out, exited = bytearray(), False, False
    try:
        while not exited:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                timed_out = True
                break
            for fd, ev in poller.poll(max(1, math.ceil(remaining * 1000))):
                if fd == r:
                    chunk = os.read(r, 65536)
                    if chunk:
                        _keep(buf, chunk)
                    else:
                        poller.unregister(r)
                elif fd == pidfd:
                    exited = True
                elif ev & (select.POLLHUP | select.POLLERR):
                    _kill(mode, pid, pidfd)
                    os.waitpid(pid, 0)
                    os._exit(0)
        # The child is alive or a zombie, so its pid (and process group) cannot have been reused.
        _kill(mode, pid, pidfd if timed_out else None)
        # PID 1 of a namespace exits only after every process in it is gone: nothing survives this.
        _, status = os.waitpid(pid, 0)
    finally:
        os.close(pidfd)
    os.set_blocking(r, False)
    try:
        while chunk := os.read(r, 65536):
            _keep(buf, chunk)
    except BlockingIOError:
        pass
    return bytes(buf), status, timed_out


def _keep(buf: bytearray, chunk: bytes, head: int = 4096, tail: int = 65536) -> None:
    """Append, keeping the head (setup lines come first) and the tail (the verdict comes last)."""
    buf += chunk
    if len(buf) > head + tail:
        del buf[head : len(buf) - tail]


def _kill(mode: str, pid: int, pidfd: int | None) -> None:
    """SIGKILL the child (through ``pidfd``) and, without namespaces, its process group."""
    if pidfd is not None:
        try:
            signal.pidfd_send_signal(pidfd, signal.SIGKILL)
        except ProcessLookupError:
            pass
    if mode == "none":
        try:
            os.killpg(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


def _classify(
    cfg: dict, keys: tuple[bytes, bytes], buf: bytes, ending: tuple, duration: float, out: int
) -> dict:
    nonce, token = keys
    status, timed_out, oom_kills = ending
    size = os.fstat(out).st_size
    n = int(cfg.get("output_bytes", 2000))
    output = os.pread(out, n, max(0, size - n)).decode("utf-8", "replace")
    ready = (token + b" ready\n") in buf
    verdict, detail = None, ""
    idx = buf.rfind(nonce + b" verdict ")
    if idx >= 0:
        line = buf[idx + len(nonce) + 9 :].split(b"\n", 1)[0]
        name, _, rest = line.partition(b" ")
        if name.decode("ascii", "replace") in STATUSES:
            verdict = name.decode()
            try:
                detail = json.loads(rest)
            except ValueError:
                detail = ""
    if oom_kills:  # over its memory budget, whatever else it did: even a pass does not count
        result_status = "oom"
        detail = (
            f"out of memory: all its processes and shared memory together reached the {cfg['memory_mb']} "
            f"MiB budget, and the kernel killed {oom_kills} of its processes"
        )
    elif verdict is not None:
        result_status = verdict
    elif timed_out:
        result_status, detail = "timeout", f"killed after the {duration:.2f}s wall-clock limit"
    elif not ready:
        idx = buf.rfind(token + b" setup_error ")
        why = buf[idx + len(token) + 13 :].split(b"\n", 1)[0].decode("utf-8", "replace") if idx >= 0 else ""
        result_status, detail = "sandbox_error", f"sandboxed child failed to set up: {why or _how(status)}"
    elif os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGXCPU:
        result_status, detail = "timeout", "CPU time limit exceeded"
    elif os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL and oom_kills is None:
        result_status, detail = "oom", "killed (SIGKILL), most likely by the out-of-memory killer"
    else:
        result_status, detail = "error", f"{_how(status)} before the tests finished, without a verdict"
    return {"status": result_status, "duration_s": duration, "detail": str(detail), "output": output}


def _how(status: int) -> str:
    if os.WIFSIGNALED(status):
        return f"killed by {signal.Signals(os.WTERMSIG(status)).name}"
    return f"exited with code {os.waitstatus_to_exitcode(status)}"
