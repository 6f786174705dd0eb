"""One job of the sandbox worker: clone the program's child, wait for it, and classify the outcome.

Part of the sandbox worker (:mod:`.sandbox_worker`), which imports it as a top-level module.
"""

from __future__ import annotations

import json
import math
import os
import select
import signal
import time

import sandbox_child
import sandbox_sys as sx

#: Verdicts the program's child may report (the rest come from how it ended).
STATUSES = ("passed", "failed", "error", "oom")


def run_job(cfg: dict, job: dict) -> dict:
    """Run one program in a fresh child and classify the outcome."""
    mode, timeout = cfg["mode"], float(job["timeout"])
    # Two secrets: ``token`` marks setup progress and is written before the program runs (it could
    # read it back through /proc/self/fd/3); ``nonce`` signs the verdict and is written only after.
    nonce, token = os.urandom(16).hex().encode(), os.urandom(16).hex().encode()
    job_dir = None
    if mode == "none":
        import tempfile

        job_dir = tempfile.mkdtemp(prefix="polyrlaif-sandbox-")
    r, w = os.pipe()
    out = os.memfd_create("sandbox-output")
    start = time.monotonic()
    try:
        pid = os.fork() if mode == "none" else sx.clone(sx.CLONE_NEWPID | sx.CLONE_NEWNS)
    except BaseException:
        for fd in (r, w, out):
            os.close(fd)
        raise
    if pid == 0:
        try:
            sandbox_child.run_child(cfg, job["program"], timeout, (nonce, token), w, out, job_dir)
        finally:
            os._exit(70)
    os.close(w)
    try:
        buf, status, timed_out = _wait(mode, pid, r, start + timeout)
        duration = time.monotonic() - start
        return _classify(cfg, (nonce, token), buf, status, timed_out, duration, out)
    finally:
        os.close(r)
        os.close(out)
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
    cfg: dict, keys: tuple[bytes, bytes], buf: bytes, status: int, timed_out: bool, duration: float, out: int
) -> dict:
    nonce, token = keys
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
    if verdict is not None:
        result_status = verdict
    elif timed_out:
        result_status, detail = "timeout", f"killed after the {duration:.2f}s wall-clock limit"
    elif not ready:
        idx = buf.rfind(token + b" setup_error ")
        why = buf[idx + len(token) + 13 :].split(b"\n", 1)[0].decode("utf-8", "replace") if idx >= 0 else ""
        result_status, detail = "sandbox_error", f"sandboxed child failed to set up: {why or _how(status)}"
    elif os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGXCPU:
        result_status, detail = "timeout", "CPU time limit exceeded"
    elif os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL:
        result_status, detail = "oom", "killed (SIGKILL), most likely by the out-of-memory killer"
    else:
        result_status, detail = "error", f"{_how(status)} before the tests finished, without a verdict"
    return {"status": result_status, "duration_s": duration, "detail": str(detail), "output": output}


def _how(status: int) -> str:
    if os.WIFSIGNALED(status):
        return f"killed by {signal.Signals(os.WTERMSIG(status)).name}"
    return f"exited with code {os.waitstatus_to_exitcode(status)}"
