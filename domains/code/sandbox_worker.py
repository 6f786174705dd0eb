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

Its parts are sibling files imported as top-level modules: :mod:`sandbox_sys` (system calls and
framing), :mod:`sandbox_job` (one job, seen from the worker) and :mod:`sandbox_child` (inside the
program's child).

Protocol on stdin/stdout: frames of a 4-byte big-endian length and UTF-8 JSON. The first frame is the
configuration; the worker answers ``{"ready": true}`` or ``{"ready": false, "error": ...}``, then one
result frame per job frame, until stdin closes.
"""

from __future__ import annotations

import errno
import os
import platform
import re
import sys

# The worker runs as a script with the standard library only; its parts are siblings of this file,
# found on a path entry that is removed again at once (stdlib first, so nothing is shadowed).
sys.path.append(os.path.dirname(os.path.abspath(__file__)))
import sandbox_job  # noqa: E402
import sandbox_sys as sx  # noqa: E402
from sandbox_sys import read_frame, write_frame  # noqa: E402

sys.path.pop()

#: Run once at start: in-process, and with the tests and the candidate in two processes.
TRIALS = (
    {"program": "pass"},
    {"code": "def f(x):\n    return [x]\n", "test": "def check(c):\n    assert c(1) == [1]\n",
     "entry_point": "f"},
)
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
        flags = sx.MS_REMOUNT | sx.MS_BIND | sx.MS_RDONLY
        for name in opts & sx.MNT_OPTS.keys():
            flags |= sx.MNT_OPTS[name]
        try:
            sx.mount(None, point, None, flags)
        except OSError as exc:
            # Tolerated: mounts hidden under our fresh /run (ENOENT), mounts root itself may not
            # enter (EACCES: FUSE without allow_other, so nor may the job), and /proc, /sys and /dev,
            # which hold nothing an unprivileged job could write (each job gets its own /proc).
            # Anything else left writable would be a hole: refuse.
            if exc.errno not in (errno.ENOENT, errno.EACCES) and not point.startswith(sx.HARMLESS_MOUNTS):
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
    sx.mount("tmpfs", "/run", "tmpfs", sx.MS_NOSUID | sx.MS_NODEV, "size=1m,mode=755")
    moved = {}
    for i, path in enumerate(sys.path):
        if os.path.isdir(path):
            moved[path] = f"/run/polyrlaif-python/{i}"
            os.makedirs(moved[path], 0o755)
            sx.mount(path, moved[path], None, sx.MS_BIND | sx.MS_REC)
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
    sandbox_job.open_pool_cgroup(cfg)
    if mode != "none":
        if platform.machine() not in sx.SYS_CLONE:
            raise OSError(f"unsupported architecture {platform.machine()}")
        isolate = sx.CLONE_NEWNS | sx.CLONE_NEWNET | sx.CLONE_NEWIPC | sx.CLONE_NEWUTS
        if mode == "root":
            if not _uid_mapped(sx.NOBODY):
                raise OSError(f"uid {sx.NOBODY} is not mapped in this user namespace")
            sx.unshare(isolate)
        else:
            uid, gid = os.getuid(), os.getgid()
            sx.unshare(sx.CLONE_NEWUSER | isolate)
            for name, text in (("setgroups", "deny"), ("uid_map", f"0 {uid} 1"), ("gid_map", f"0 {gid} 1")):
                with open(f"/proc/self/{name}", "w") as fh:
                    fh.write(text)
        sx.mount(None, "/", None, sx.MS_REC | sx.MS_PRIVATE)
        _expose_stdlib()
        _remount_readonly()
        sx.check(sx.libc().sethostname(b"sandbox", 7), "sethostname")
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
    for trial_job in TRIALS:
        trial = sandbox_job.run_job(cfg, {**trial_job, "timeout": 10.0})
        if trial["status"] != "passed":
            why = trial["detail"] or trial["status"]
            raise OSError(f"a trial program did not pass in the sandbox: {why}")


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
            result = sandbox_job.run_job(cfg, job)
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
