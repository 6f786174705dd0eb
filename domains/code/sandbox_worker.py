"""Sandbox worker: runs untrusted Python programs, one forked child per program, and reports verdicts.

:class:`polyrlaif.domains.code.sandbox.Sandbox` starts this file as a script, ``python -I -S -u
sandbox_worker.py``, with a scrubbed environment: an interpreter with the standard library only and
nothing of polyrlaif (no torch), so it starts in tens of milliseconds and forks in about one.

Once, at start (``mode`` from the configuration frame): ``root`` unshares network, mount, IPC and
UTS namespaces, binds the standard library onto a fresh ``/run`` (which hides the host's sockets)
and makes every mount read-only; ``userns`` (not root) does the same inside a new user namespace in
which the caller is root; ``none`` (``unsafe_no_isolation``) does nothing.

Per program, the worker clones a child into fresh PID and mount namespaces: PID 1 there, so killing
it kills every process it started, and in a session of its own, so its signals to its process group,
its session or every process (-1) reach only itself and its children. The child mounts fresh tmpfs
over ``/tmp``, ``/var/tmp``, ``/dev/shm`` and ``$HOME`` and a ``/proc`` of its own; sets rlimits;
drops to uid/gid 65534 (``root``) or into a nested user namespace (``userns``); clears its
environment and file descriptors; then executes the program text in-process. Only after the
program (which ends with ``check(entry_point)``) returned does it write a per-job random nonce and
``passed`` on a pipe; the worker trusts only a line carrying that nonce, and only PID 1 writes one.

Protocol on stdin/stdout: frames of a 4-byte big-endian length and UTF-8 JSON. The first frame is the
configuration; the worker answers ``{"ready": true}`` or ``{"ready": false, "error": ...}``, then one
result frame per job frame, until stdin closes.
"""

from __future__ import annotations

import builtins
import ctypes
import errno
import fcntl
import json
import math
import os
import platform
import re
import resource
import select
import signal
import struct
import sys
import time

CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC = 0x00020000, 0x04000000, 0x08000000
CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET = 0x10000000, 0x20000000, 0x40000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REMOUNT = 1, 2, 4, 8, 32
MS_BIND, MS_REC, MS_PRIVATE = 4096, 16384, 1 << 18
MNT_OPTS = {
    "nosuid": MS_NOSUID,
    "nodev": MS_NODEV,
    "noexec": MS_NOEXEC,
    "noatime": 1024,
    "nodiratime": 2048,
    "relatime": 1 << 21,
    "strictatime": 1 << 24,
}
HARMLESS_MOUNTS = ("/proc", "/sys", "/dev")
PR_SET_PDEATHSIG, PR_SET_DUMPABLE, PR_SET_NO_NEW_PRIVS = 1, 4, 38
SYS_CLONE = {"x86_64": 56, "aarch64": 220}
NOBODY = 65534
STATUSES = ("passed", "failed", "error", "oom")
#: stdlib modules HumanEval-style programs import; loaded once here, so forked children get them free.
PRELOAD = (
    "typing",
    "math",
    "re",
    "collections",
    "itertools",
    "functools",
    "heapq",
    "string",
    "hashlib",
    "bisect",
    "random",
    "copy",
    "operator",
    "fractions",
    "decimal",
    "statistics",
    "datetime",
    "json",
    "traceback",
    "dataclasses",
    "array",
)
_LIBC: dict[str, ctypes.CDLL] = {}


def _libc(holding_gil: bool = False) -> ctypes.CDLL:
    """libc through ctypes; ``holding_gil`` gives a PyDLL handle, whose calls keep the GIL held."""
    key = "py" if holding_gil else "c"
    if key not in _LIBC:
        lib = (ctypes.PyDLL if holding_gil else ctypes.CDLL)(None, use_errno=True)
        lib.mount.argtypes = [ctypes.c_char_p] * 3 + [ctypes.c_ulong, ctypes.c_char_p]
        lib.syscall.restype = ctypes.c_long
        _LIBC[key] = lib
    return _LIBC[key]


def _check(ret: int, what: str) -> None:
    if ret != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def _unshare(flags: int) -> None:
    _check(_libc().unshare(flags), f"unshare(0x{flags:x})")


def _mount(src: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    enc = [None if s is None else s.encode() for s in (src, target, fstype, data)]
    _check(_libc().mount(enc[0], enc[1], enc[2], flags, enc[3]), f"mount {target}")


def _prctl(option: int, arg: int) -> None:
    _check(_libc().prctl(option, ctypes.c_ulong(arg), 0, 0, 0), f"prctl({option})")


# ---------------------------------------------------------------- framing


def read_frame(fd: int) -> dict | None:
    """Read one frame from ``fd``; ``None`` at end of file."""
    head = _read_exact(fd, 4)
    if head is None:
        return None
    body = _read_exact(fd, struct.unpack(">I", head)[0])
    return None if body is None else json.loads(body)


def write_frame(fd: int, obj: dict) -> None:
    """Write one frame to ``fd``."""
    body = json.dumps(obj).encode()
    data = memoryview(struct.pack(">I", len(body)) + body)
    while data:
        data = data[os.write(fd, data) :]


def _read_exact(fd: int, n: int) -> bytes | None:
    buf = bytearray()
    while len(buf) < n:
        chunk = os.read(fd, n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return bytes(buf)


# ---------------------------------------------------------------- worker setup


def _mounts() -> list[tuple[str, set[str]]]:
    """(mount point, per-mount options) of every mount this process sees, parents first."""
    out = []
    with open("/proc/self/mountinfo") as fh:
        for line in fh:
            fields = line.split()
            point = re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), fields[4])
            out.append((point, set(fields[5].split(","))))
    return out


def _remount_readonly() -> None:
    """Make every mount read-only in this (private) mount namespace; the host's mounts are untouched."""
    for point, opts in _mounts():
        if "ro" in opts:
            continue
        flags = MS_REMOUNT | MS_BIND | MS_RDONLY
        for name in opts & MNT_OPTS.keys():
            flags |= MNT_OPTS[name]
        try:
            _mount(None, point, None, flags)
        except OSError as exc:
            # Tolerated: mounts hidden under our fresh /run (ENOENT), mounts root itself may not
            # enter (EACCES: FUSE without allow_other, so nor may the job), and /proc, /sys and /dev,
            # which hold nothing an unprivileged job could write (each job gets its own /proc).
            # Anything else left writable would be a hole: refuse.
            if exc.errno not in (errno.ENOENT, errno.EACCES) and not point.startswith(HARMLESS_MOUNTS):
                raise


def _uid_mapped(uid: int) -> bool:
    with open("/proc/self/uid_map") as fh:
        for line in fh:
            inside, _, count = (int(x) for x in line.split())
            if inside <= uid < inside + count:
                return True
    return False


def _expose_stdlib() -> None:
    """Bind the interpreter's library directories onto a fresh ``/run``, and import from there.

    The interpreter may live where the unprivileged job cannot read (``/root/.pyenv``), or under
    ``$HOME``, which the job sees as an empty tmpfs. The fresh ``/run`` also hides the host's sockets.
    """
    _mount("tmpfs", "/run", "tmpfs", MS_NOSUID | MS_NODEV, "size=1m,mode=755")
    moved = {}
    for i, path in enumerate(sys.path):
        if os.path.isdir(path):
            moved[path] = f"/run/polyrlaif-python/{i}"
            os.makedirs(moved[path], 0o755)
            _mount(path, moved[path], None, MS_BIND | MS_REC)
    sys.path[:] = list(moved.values())
    sys.path_importer_cache.clear()
    for module in list(sys.modules.values()):  # packages imported at startup (encodings) look here
        path = getattr(module, "__path__", None)
        if isinstance(path, list):
            path[:] = [_relocate(p, moved) for p in path]


def _relocate(path: str, moved: dict[str, str]) -> str:
    for old, new in moved.items():
        if path == old or path.startswith(old + "/"):
            return new + path[len(old) :]
    return path


def setup_worker(cfg: dict) -> None:
    """Enter the worker's namespaces (per ``cfg["mode"]``) and preload common modules."""
    mode = cfg["mode"]
    if mode != "none":
        if platform.machine() not in SYS_CLONE:
            raise OSError(f"unsupported architecture {platform.machine()}")
        if mode == "root":
            if not _uid_mapped(NOBODY):
                raise OSError(f"uid {NOBODY} is not mapped in this user namespace")
            _unshare(CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS)
        else:
            uid, gid = os.getuid(), os.getgid()
            _unshare(CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS)
            for name, text in (("setgroups", "deny"), ("uid_map", f"0 {uid} 1"), ("gid_map", f"0 {gid} 1")):
                with open(f"/proc/self/{name}", "w") as fh:
                    fh.write(text)
        _mount(None, "/", None, MS_REC | MS_PRIVATE)
        _expose_stdlib()
        _remount_readonly()
        _check(_libc().sethostname(b"sandbox", 7), "sethostname")
    for name in PRELOAD:
        try:
            __import__(name)
        except ImportError:
            pass
    import gc

    gc.collect()
    gc.freeze()  # keep the preloaded heap out of the children's copy-on-write
    # One trial program through the whole per-program path (clone, mounts, privilege drop), so a
    # kernel that refuses any of it is reported now, not as a sandbox_error for every program.
    trial = run_job(cfg, {"program": "pass", "timeout": 10.0})
    if trial["status"] != "passed":
        raise OSError(f"a trial program did not pass in the sandbox: {trial['detail'] or trial['status']}")


# ---------------------------------------------------------------- one job


def _clone(flags: int) -> int:
    """fork(2) with namespace flags: the child starts in new PID and mount namespaces.

    Goes through the raw syscall (glibc's ``fork`` takes no flags) with CPython's own fork hooks
    around it, as ``os.fork`` does; the libc handle is a PyDLL so the GIL stays held, as in ``os.fork``.
    """
    api = ctypes.pythonapi
    api.PyOS_BeforeFork()
    zero = ctypes.c_ulong(0)
    number = ctypes.c_long(SYS_CLONE[platform.machine()])
    flags = ctypes.c_ulong(flags | signal.SIGCHLD)
    pid = _libc(holding_gil=True).syscall(number, flags, zero, zero, zero, zero)
    if pid == 0:
        api.PyOS_AfterFork_Child()
        return 0
    err = ctypes.get_errno()
    api.PyOS_AfterFork_Parent()
    if pid < 0:
        raise OSError(err, f"clone: {os.strerror(err)}")
    return pid


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
        pid = os.fork() if mode == "none" else _clone(CLONE_NEWPID | CLONE_NEWNS)
    except BaseException:
        for fd in (r, w, out):
            os.close(fd)
        raise
    if pid == 0:
        try:
            _child(cfg, job["program"], timeout, (nonce, token), w, out, job_dir)
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


# ---------------------------------------------------------------- inside the child


def _child(
    cfg: dict, program: str, timeout: float, keys: tuple[bytes, bytes], w: int, out: int, job_dir: str | None
) -> None:
    """Set the child up, then run ``program``. Never returns."""
    nonce, token = keys
    mode, verdict_fd = cfg["mode"], w
    try:
        _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)  # if the worker dies, so does the job
        # A session of its own: kill(0, ...), killpg and the session reach only this program. The
        # worker's process group is the caller's; sharing it let a program signal its neighbours, and
        # in a user namespace (same uid) the caller too. kill(-1, ...) stops at the PID namespace.
        os.setsid()
        home = _isolate_fs(cfg) if mode != "none" else None
        if job_dir is None:
            job_dir = "/tmp/job"
            os.mkdir(job_dir, 0o700)
            if mode == "root":
                os.chown(job_dir, NOBODY, NOBODY)
        _redirect_fds(out, w)
        verdict_fd = 3
        _set_limits(cfg, timeout, mode)
        os.environ.clear()
        os.environ.update(
            {
                "PATH": "/usr/local/bin:/usr/bin:/bin",
                "LANG": "C.UTF-8",
                "HOME": home or job_dir,
                "TMPDIR": os.path.dirname(job_dir),
            }
        )
        _drop_privileges(mode)
        os.chdir(job_dir)
        os.umask(0o077)
    except BaseException as exc:  # noqa: BLE001 - reported as our own failure
        why = json.dumps(f"{type(exc).__name__}: {exc}").encode()
        os.write(verdict_fd, token + b" setup_error " + why + b"\n")
        os._exit(71)
    os.write(3, token + b" ready\n")
    del keys, token
    _execute(program, nonce)


def _isolate_fs(cfg: dict) -> str | None:
    """Fresh tmpfs over every place a program could write to, and a /proc of its own PID namespace."""
    tmp = f"size={int(cfg.get('tmp_mb', 64))}m"
    owner = f",uid={NOBODY},gid={NOBODY}" if cfg["mode"] == "root" else ""
    for path, opts in (
        ("/tmp", f"{tmp},mode=1777"),
        ("/var/tmp", "size=16m,mode=1777"),
        ("/dev/shm", "size=16m,mode=1777"),
    ):
        if os.path.isdir(path):
            _mount("tmpfs", path, "tmpfs", MS_NOSUID | MS_NODEV, opts)
    try:
        _mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    except OSError:
        if cfg["mode"] == "root":
            raise  # in a user namespace the kernel may refuse a new /proc: keep the inherited one
    home = cfg.get("home")
    if home and os.path.isabs(home) and home != "/" and os.path.isdir(home):
        _mount("tmpfs", home, "tmpfs", MS_NOSUID | MS_NODEV, f"size=16m,mode=700{owner}")
        return home
    return None


def _redirect_fds(out: int, w: int) -> None:
    """stdin from /dev/null, stdout+stderr to the output memfd, fd 3 the verdict pipe; close the rest."""
    null = os.open("/dev/null", os.O_RDWR)
    high = [fcntl.fcntl(fd, fcntl.F_DUPFD, 100) for fd in (null, out, out, w)]
    for target, fd in enumerate(high):
        os.dup2(fd, target)
    os.closerange(4, 2**31 - 1)  # close_range(2): one syscall whatever the bound


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
        limits.append((resource.RLIMIT_NPROC, (int(cfg.get("max_processes", 64)),) * 2))
    for which, value in limits:
        resource.setrlimit(which, value)


def _drop_privileges(mode: str) -> None:
    if mode == "root":
        os.setgroups([])
        os.setresgid(NOBODY, NOBODY, NOBODY)
        os.setresuid(NOBODY, NOBODY, NOBODY)
        _prctl(PR_SET_DUMPABLE, 1)  # own /proc/self again; no one else in its PID namespace to see it
    elif mode == "userns":
        # A nested user namespace owns nothing: its capabilities reach none of our mounts or limits.
        _unshare(CLONE_NEWUSER)
        for name, text in (("setgroups", "deny"), ("uid_map", f"{NOBODY} 0 1"), ("gid_map", f"{NOBODY} 0 1")):
            try:
                with open(f"/proc/self/{name}", "w") as fh:
                    fh.write(text)
            except OSError:
                pass  # cosmetic: the uid then reads as the overflow uid, also 65534
    if mode != "none":
        _prctl(PR_SET_NO_NEW_PRIVS, 1)


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


def main() -> int:
    """Worker entry point: configure, then serve jobs until stdin closes."""
    cfg = read_frame(0)
    if cfg is None:
        return 1
    try:
        setup_worker(cfg)
    except Exception as exc:  # noqa: BLE001 - reported to the parent, which decides
        write_frame(1, {"ready": False, "error": f"{type(exc).__name__}: {exc}"})
        return 2
    write_frame(1, {"ready": True, "mode": cfg["mode"], "pid": os.getpid()})
    while (job := read_frame(0)) is not None:
        try:
            result = run_job(cfg, job)
        except Exception as exc:  # noqa: BLE001 - our own failure, reported as such
            result = {
                "status": "sandbox_error",
                "duration_s": 0.0,
                "detail": f"{type(exc).__name__}: {exc}",
                "output": "",
            }
        result["id"] = job.get("id")
        write_frame(1, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
