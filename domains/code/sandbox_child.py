"""Inside the program's child: isolate it, limit it, drop its privileges, then run the program.

Part of the sandbox worker (:mod:`.sandbox_worker`), which imports it as a top-level module.
"""

from __future__ import annotations

import builtins
import fcntl
import json
import math
import os
import resource
import signal
import socket
import sys

import sandbox_sys as sx
import sandbox_tester
import sandbox_wire as wire


def run_child(
    cfg: dict,
    job: dict,
    timeout: float,
    keys: tuple[bytes, bytes],
    w: int,
    out: int,
    job_dir: str | None,
    cgroup_procs: tuple[int, ...] = (),
) -> None:
    """Set the child up, then run the job. Never returns.

    A job with ``program`` runs it in this process (in-process mode). A job with ``code``, ``test``
    and ``entry_point`` runs the tests here and the candidate's code in a process of its own
    (:mod:`sandbox_tester`). ``cgroup_procs``: the ``cgroup.procs`` files of the program's own
    cgroup, joined first of all, so that everything it allocates or forks is counted there.
    """
    nonce, token = keys
    mode, verdict_fd, tested = cfg["mode"], w, "code" in job
    try:
        for fd in cgroup_procs:
            os.write(fd, b"0")  # 0: the writer itself
        sx.prctl(sx.PR_SET_PDEATHSIG, signal.SIGKILL)  # if the worker dies, so does the job
        # A session of its own: kill(0, ...), killpg and the session reach only this program. The
        # worker's process group is the caller's; sharing it let a program signal its neighbours, and
        # in a user namespace (same uid) the caller too. kill(-1, ...) stops at the PID namespace.
        os.setsid()
        home = _isolate_fs(cfg) if mode != "none" else None
        if job_dir is None:
            job_dir = "/tmp/job"
            os.mkdir(job_dir, 0o700)
            if mode == "root":
                os.chown(job_dir, sx.NOBODY, sx.NOBODY)
        sock = _start_candidate(cfg, job, timeout, out, job_dir, home) if tested else None
        _redirect_fds(out, w, *([sock] if sock is not None else []))
        verdict_fd = 3
        _enter_jail(cfg, timeout, job_dir, home, dumpable=not tested)
    except BaseException as exc:  # noqa: BLE001 - reported as our own failure
        why = json.dumps(f"{type(exc).__name__}: {exc}").encode()
        os.write(verdict_fd, token + b" setup_error " + why + b"\n")
        os._exit(71)
    os.write(3, token + b" ready\n")
    del keys, token
    if tested:
        _judge(job, nonce)
    _execute(job["program"], nonce)


def _enter_jail(cfg: dict, timeout: float, job_dir: str, home: str | None, dumpable: bool) -> None:
    """Limits, a clean environment, no privileges, and the job's folder as working directory."""
    _set_limits(cfg, timeout, cfg["mode"])
    os.environ.clear()
    os.environ.update(
        {
            "PATH": "/usr/local/bin:/usr/bin:/bin",
            "LANG": "C.UTF-8",
            "HOME": home or job_dir,
            "TMPDIR": os.path.dirname(job_dir),
        }
    )
    _drop_privileges(cfg["mode"], dumpable)
    os.chdir(job_dir)
    os.umask(0o077)


def _start_candidate(cfg: dict, job: dict, timeout: float, out: int, job_dir: str, home: str | None) -> int:
    """Clone the candidate's process; return our end of the socket its calls cross.

    The candidate is PID 1 of a PID namespace nested in the tests' one (and has a mount namespace
    with a /proc of its own): it cannot name, signal or trace the tests' process. Without isolation
    (``none``) it is a plain fork, and nothing stands between the two.
    """
    ours, theirs = (s.detach() for s in socket.socketpair())
    mode = cfg["mode"]
    pid = os.fork() if mode == "none" else sx.clone(sx.CLONE_NEWPID | sx.CLONE_NEWNS)
    if pid != 0:
        os.close(theirs)
        return ours
    try:
        os.close(ours)
        sx.prctl(sx.PR_SET_PDEATHSIG, signal.SIGKILL)  # the tests' process gone: so is the candidate
        os.setsid()
        if mode != "none":
            try:
                sx.mount("proc", "/proc", "proc", sx.MS_NOSUID | sx.MS_NODEV | sx.MS_NOEXEC)
            except OSError:
                if mode == "root":
                    raise  # in a user namespace the kernel may refuse it; the tests' process is non-dumpable
        _redirect_fds(out, theirs)
        _enter_jail(cfg, timeout, job_dir, home, dumpable=True)
    except BaseException as exc:  # noqa: BLE001 - reported by the tests' process as our failure
        try:
            wire.send(3, {"setup_error": f"{type(exc).__name__}: {exc}"})
        finally:
            os._exit(71)
    sandbox_tester.serve(job, 3)
    os._exit(0)


def _judge(job: dict, nonce: bytes) -> None:
    """Run the tests against the candidate's process; write the verdict. Never returns."""
    write, exit_ = os.write, os._exit
    try:
        sandbox_tester.run_tests(job, 4)
        status, detail = "passed", ""
    except sandbox_tester.Violation:
        status, detail = sandbox_tester.VIOLATIONS[0]
    except BaseException as exc:  # noqa: BLE001 - every outcome of the tests is a verdict
        status, detail = _describe(exc)
    if sandbox_tester.VIOLATIONS:  # a protocol violation decides, even if a test caught it
        status, detail = sandbox_tester.VIOLATIONS[0]
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except BaseException:  # noqa: BLE001
            pass
    write(3, nonce + b" verdict " + status.encode() + b" " + json.dumps(detail).encode() + b"\n")
    exit_(0)


def _isolate_fs(cfg: dict) -> str | None:
    """Fresh tmpfs over every place a program could write to, and a /proc of its own PID namespace."""
    tmp = f"size={int(cfg.get('tmp_mb', 64))}m"
    owner = f",uid={sx.NOBODY},gid={sx.NOBODY}" if cfg["mode"] == "root" else ""
    for path, opts in (
        ("/tmp", f"{tmp},mode=1777"),
        ("/var/tmp", "size=16m,mode=1777"),
        ("/dev/shm", "size=16m,mode=1777"),
    ):
        if os.path.isdir(path):
            sx.mount("tmpfs", path, "tmpfs", sx.MS_NOSUID | sx.MS_NODEV, opts)
    try:
        sx.mount("proc", "/proc", "proc", sx.MS_NOSUID | sx.MS_NODEV | sx.MS_NOEXEC)
    except OSError:
        if cfg["mode"] == "root":
            raise  # in a user namespace the kernel may refuse a new /proc: keep the inherited one
    home = cfg.get("home")
    if home and os.path.isabs(home) and home != "/" and os.path.isdir(home):
        sx.mount("tmpfs", home, "tmpfs", sx.MS_NOSUID | sx.MS_NODEV, f"size=16m,mode=700{owner}")
        return home
    return None


def _redirect_fds(out: int, *keep: int) -> None:
    """stdin from /dev/null, stdout+stderr to the output memfd, ``keep`` from fd 3 on; close the rest."""
    null = os.open("/dev/null", os.O_RDWR)
    high = [fcntl.fcntl(fd, fcntl.F_DUPFD, 100) for fd in (null, out, out, *keep)]
    for target, fd in enumerate(high):
        os.dup2(fd, target)
    os.closerange(3 + len(keep), 2**31 - 1)  # close_range(2): one syscall whatever the bound


def _set_limits(cfg: dict, timeout: float, mode: str) -> None:
    mb = 1024 * 1024
    cpu = math.ceil(timeout) + 1
    limits = [
        (resource.RLIMIT_CPU, (cpu, cpu + 1)),
        (resource.RLIMIT_CORE, (0, 0)),
        (resource.RLIMIT_NOFILE, (256, 256)),
        (resource.RLIMIT_FSIZE, (int(cfg.get("file_mb", 16)) * mb,) * 2),
    ]
    if cfg.get("memory_mb"):
        limits.append((resource.RLIMIT_AS, (int(cfg["memory_mb"]) * mb,) * 2))
    if mode != "none":  # NPROC counts per user: only meaningful for the sandbox's own uid
        # With a cgroup each program has its own process budget (pids.max), and NPROC, which every
        # program of uid 65534 shares, is only a backstop for the pool as a whole.
        nproc = int(cfg.get("max_processes", 64)) * (int(cfg.get("workers", 1)) if cfg.get("cgroup") else 1)
        limits.append((resource.RLIMIT_NPROC, (nproc, nproc)))
    for which, value in limits:
        resource.setrlimit(which, value)


def _drop_privileges(mode: str, dumpable: bool = True) -> None:
    """Become uid 65534 (root) or enter a nested user namespace (userns).

    ``dumpable=False`` (the tests' process) keeps it out of reach of ptrace and /proc/PID/mem even
    for a process of the same uid, should one see it.
    """
    if mode == "root":
        os.setgroups([])
        os.setresgid(sx.NOBODY, sx.NOBODY, sx.NOBODY)
        os.setresuid(sx.NOBODY, sx.NOBODY, sx.NOBODY)
        if dumpable:  # own /proc/self again; no one else in its PID namespace to see it
            sx.prctl(sx.PR_SET_DUMPABLE, 1)
    elif mode == "userns":
        # A nested user namespace owns nothing: its capabilities reach none of our mounts or limits.
        sx.unshare(sx.CLONE_NEWUSER)
        maps = (("setgroups", "deny"), ("uid_map", f"{sx.NOBODY} 0 1"), ("gid_map", f"{sx.NOBODY} 0 1"))
        for name, text in maps:
            try:
                with open(f"/proc/self/{name}", "w") as fh:
                    fh.write(text)
            except OSError:
                pass  # cosmetic: the uid then reads as the overflow uid, also 65534
    if not dumpable:
        sx.prctl(sx.PR_SET_DUMPABLE, 0)
    if mode != "none":
        sx.prctl(sx.PR_SET_NO_NEW_PRIVS, 1)


def _execute(program: str, nonce: bytes) -> None:
    """Run the program; write the verdict only if it returned, and only from this process."""
    write, exit_, getpid, me = os.write, os._exit, os.getpid, os.getpid()
    try:
        exec(compile(program, "<program>", "exec"), {"__name__": "__program__", "__builtins__": builtins})
        status, detail = "passed", ""
    except BaseException as exc:  # noqa: BLE001 - every outcome of untrusted code is a verdict
        status, detail = _describe(exc)
    if getpid() != me:
        exit_(0)  # a forked descendant that ran off the end of the program speaks for nobody
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except BaseException:  # noqa: BLE001
            pass
    write(3, nonce + b" verdict " + status.encode() + b" " + json.dumps(detail).encode() + b"\n")
    exit_(0)


def _describe(exc: BaseException) -> tuple[str, str]:
    """Status and one-line detail for an exception; the traceback goes to the program's stderr."""
    if isinstance(exc, AssertionError):
        status = "failed"
    elif isinstance(exc, MemoryError):
        status = "oom"
    else:
        status = "error"
    try:
        import traceback

        tb = exc.__traceback__.tb_next if exc.__traceback__ else None  # hide the harness's own frame
        text = "".join(traceback.format_exception(type(exc), exc, tb, limit=-8))
        os.write(2, text[-4000:].encode("utf-8", "replace"))
        if isinstance(exc, SystemExit):
            return status, f"SystemExit({exc.code!r:.100}) before the tests finished"
        return status, f"{type(exc).__name__}: {exc}"[:500]
    except BaseException:  # noqa: BLE001 - a hostile __str__ must not hide the verdict
        return status, "<unprintable exception>"

