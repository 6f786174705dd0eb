"""The caller's end of one sandbox worker (:mod:`.sandbox_worker`): start it, send jobs, read results."""

from __future__ import annotations

import json
import os
import selectors
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

__all__ = ["IsolationUnavailable", "SandboxError", "WorkerHandle"]

_WORKER = Path(__file__).with_name("sandbox_worker.py")
_WORKER_ENV = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8"}


class SandboxError(RuntimeError):
    """The sandbox's own machinery failed (not the program under test)."""


class IsolationUnavailable(SandboxError):
    """The kernel refuses the namespaces the sandbox needs."""


class WorkerHandle:
    """One worker process and the job it is running.

    Args:
        config: the worker's configuration frame (mode, limits, cgroup).
        start_timeout_s: how long it may take to answer ``ready``.

    Raises:
        IsolationUnavailable: the worker could not set up its isolation.
        SandboxError: it did not start at all.
    """

    def __init__(self, config: dict, start_timeout_s: float) -> None:
        self.errlog = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(
            [sys.executable, "-I", "-S", "-u", "-B", str(_WORKER)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.errlog,
            env=_WORKER_ENV,
            cwd="/",
            close_fds=True,
        )
        self.rfd = self.proc.stdout.fileno()
        os.set_blocking(self.rfd, False)
        self.buf = bytearray()
        self.job: int | None = None
        self.deadline = 0.0
        try:
            self.send(config)
        except OSError:
            pass  # it died at once: the wait below sees its end of file
        frames = self._wait_frame(time.monotonic() + start_timeout_s)
        if frames is None:
            why = self.stderr_tail() or "no output"
            self.kill()
            raise SandboxError(f"sandbox worker did not start: {why}")
        if not frames[0].get("ready"):
            self.kill()
            raise IsolationUnavailable(frames[0].get("error", "unknown error"))

    def _wait_frame(self, deadline: float) -> list[dict] | None:
        with selectors.DefaultSelector() as sel:
            sel.register(self.rfd, selectors.EVENT_READ)
            while time.monotonic() < deadline:
                sel.select(timeout=max(0.0, deadline - time.monotonic()))
                frames = self.read()
                if frames is None or frames:
                    return frames
        return None

    def submit(self, job: int, payload: dict, timeout: float) -> None:
        """Hand the worker job ``job`` (``payload``: its program, or its code and tests); the worker
        kills it at ``timeout``, we give it more."""
        self.job, self.deadline = job, time.monotonic() + timeout + max(5.0, timeout)
        try:
            self.send({**payload, "id": job, "timeout": timeout})
        except OSError:
            pass  # a dead worker: run() sees its end of file

    def send(self, obj: dict) -> None:
        body = json.dumps(obj).encode()
        data = memoryview(struct.pack(">I", len(body)) + body)
        fd = self.proc.stdin.fileno()
        while data:
            data = data[os.write(fd, data) :]

    def read(self) -> list[dict] | None:
        """Frames that have arrived; ``None`` once the worker has exited."""
        try:
            while chunk := os.read(self.rfd, 1 << 16):
                self.buf += chunk
            eof = True
        except BlockingIOError:
            eof = False
        frames = []
        while len(self.buf) >= 4:
            size = struct.unpack(">I", self.buf[:4])[0]
            if len(self.buf) < 4 + size:
                break
            try:
                frames.append(json.loads(self.buf[4 : 4 + size]))
            except ValueError:
                return None  # garbled: treat the worker as dead, and replace it
            del self.buf[: 4 + size]
        return None if eof and not frames else frames

    def stderr_tail(self, n: int = 2000) -> str:
        self.errlog.seek(0)
        return self.errlog.read().decode("utf-8", "replace")[-n:].strip()

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        for stream in (self.proc.stdin, self.proc.stdout):
            try:
                stream.close()
            except OSError:
                pass
        self.errlog.close()

    def close(self, grace_s: float = 2.0) -> None:
        try:
            self.proc.stdin.close()  # the worker exits at end of input
            self.proc.wait(timeout=grace_s)
        except (OSError, subprocess.TimeoutExpired):
            pass
        self.kill()
