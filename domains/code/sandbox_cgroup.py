"""The sandbox's cgroups, seen from the caller: find a usable hierarchy, make the pool's folder, remove it.

RLIMIT_AS limits one process's address space, and RLIMIT_NPROC counts every process of a uid, so
neither bounds what one program takes in all: memfd and shared memory are not in any address space,
and each forked child has a limit of its own. A cgroup does: each program runs in a fresh one (made
by its worker, :mod:`sandbox_job`) with ``memory_mb`` for all its memory, shared memory included,
and ``max_processes`` for all its processes and threads.

:func:`create_pool_cgroup` makes one folder per :class:`~.sandbox.Sandbox` under the caller's own
cgroup: in cgroup v2 where its memory and pids controllers can be used, else in the v1 memory and
pids hierarchies where those are mounted. Where neither can be written (no root, no delegation, no
controllers), it returns the reason and the sandbox says, once, what is then not enforced.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
from dataclasses import dataclass

__all__ = ["PoolCgroup", "create_pool_cgroup", "remove_pool_cgroup"]

_PREFIX = "polyrlaif-sandbox-"
_CONTROLLERS = ("memory", "pids")


@dataclass(frozen=True)
class PoolCgroup:
    """The folders one sandbox pool makes its programs' cgroups in.

    Attributes:
        version: 1 or 2.
        dirs: controller name (``memory``, ``pids``; ``unified`` for v2) to the pool's folder.
    """

    version: int
    dirs: dict[str, str]

    def as_config(self) -> dict:
        """What the worker needs: the version and the folders."""
        return {"version": self.version, "dirs": dict(self.dirs)}


def _mounts() -> list[tuple[str, str, str, set[str]]]:
    """(mount root, mount point, fstype, super options) of every cgroup mount this process sees."""
    out = []
    with open("/proc/self/mountinfo") as fh:
        for line in fh:
            pre, _, post = line.partition(" - ")
            fields, tail = pre.split(), post.split()
            if len(tail) >= 3 and tail[0] in ("cgroup", "cgroup2"):
                point = re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), fields[4])
                out.append((fields[3], point, tail[0], set(tail[2].split(","))))
    return out


def _own_cgroups() -> dict[str, str]:
    """Controller (``""`` for v2) to this process's cgroup path, from /proc/self/cgroup."""
    out = {}
    with open("/proc/self/cgroup") as fh:
        for line in fh:
            _, controllers, path = line.rstrip("\n").split(":", 2)
            for name in controllers.split(",") if controllers else [""]:
                out[name] = path
    return out


def _under(point: str, root: str, path: str) -> str | None:
    """The folder of cgroup ``path`` in a hierarchy mounted at ``point`` from ``root``."""
    root = root.rstrip("/")
    if root and not (path == root or path.startswith(root + "/")):
        return None  # our cgroup is outside what this mount shows
    rest = path[len(root) :].strip("/")
    return os.path.join(point, rest) if rest else point


def _clean_stale(parent: str) -> None:
    """Remove pool folders (and their empty job folders) left by sandboxes whose process has died."""
    with contextlib.suppress(OSError):
        for name in os.listdir(parent):
            match = re.fullmatch(_PREFIX + r"(\d+)-[0-9a-f]+", name)
            if match and not os.path.exists(f"/proc/{match.group(1)}"):
                _rmtree(os.path.join(parent, name))


def _rmtree(path: str) -> None:
    """rmdir a cgroup folder and its (empty) sub-cgroups; cgroup files cannot and need not be removed."""
    with contextlib.suppress(OSError):
        for entry in os.scandir(path):
            if entry.is_dir(follow_symlinks=False):
                _rmtree(entry.path)
    with contextlib.suppress(OSError):
        os.rmdir(path)


def _make(parent: str) -> str:
    _clean_stale(parent)
    path = os.path.join(parent, f"{_PREFIX}{os.getpid()}-{secrets.token_hex(4)}")
    os.mkdir(path, 0o755)
    return path


def _try_v2(mounts: list, own: dict[str, str]) -> PoolCgroup | str:
    found = [(root, point) for root, point, fstype, _ in mounts if fstype == "cgroup2"]
    if not found or "" not in own:
        return "no cgroup v2 hierarchy"
    root, point = found[0]
    parent = _under(point, root, own[""])
    if parent is None:
        return "this process's cgroup v2 folder is not mounted here"
    try:
        with open(os.path.join(parent, "cgroup.controllers")) as fh:
            available = set(fh.read().split())
        missing = [c for c in _CONTROLLERS if c not in available]
        if missing:
            return f"cgroup v2 at {parent} lacks the {' and '.join(missing)} controller(s)"
        # The pool's folder may hold these controllers only if our own folder hands them down.
        with open(os.path.join(parent, "cgroup.subtree_control"), "w") as fh:
            fh.write(" ".join("+" + c for c in _CONTROLLERS))
        path = _make(parent)
        with open(os.path.join(path, "cgroup.subtree_control"), "w") as fh:
            fh.write(" ".join("+" + c for c in _CONTROLLERS))
    except OSError as exc:
        with contextlib.suppress(NameError, OSError):
            _rmtree(path)
        return f"cannot use cgroup v2 at {parent}: {exc.strerror or exc}"
    return PoolCgroup(2, {"unified": path})


def _try_v1(mounts: list, own: dict[str, str]) -> PoolCgroup | str:
    dirs: dict[str, str] = {}
    for controller in _CONTROLLERS:
        found = [(root, point) for root, point, kind, opt in mounts if kind == "cgroup" and controller in opt]
        if not found or controller not in own:
            for made in dirs.values():
                _rmtree(made)
            return f"no cgroup v1 {controller} hierarchy"
        root, point = found[0]
        parent = _under(point, root, own[controller])
        try:
            if parent is None:
                raise OSError(f"this process's {controller} cgroup is not mounted here")
            dirs[controller] = _make(parent)
        except OSError as exc:
            for made in dirs.values():
                _rmtree(made)
            return f"cannot make a cgroup v1 {controller} folder under {parent}: {exc.strerror or exc}"
    return PoolCgroup(1, dirs)


def create_pool_cgroup() -> tuple[PoolCgroup | None, str]:
    """Make the pool's cgroup folder(s) in the best hierarchy available.

    Returns:
        ``(pool, "")`` on success, else ``(None, reason)`` naming why each hierarchy was refused.
    """
    try:
        mounts, own = _mounts(), _own_cgroups()
    except OSError as exc:
        return None, f"cannot read this process's cgroups: {exc}"
    reasons = []
    for attempt in (_try_v2, _try_v1):
        got = attempt(mounts, own)
        if isinstance(got, PoolCgroup):
            return got, ""
        reasons.append(got)
    return None, "; ".join(reasons)


def remove_pool_cgroup(pool: PoolCgroup | None) -> None:
    """Remove the pool's folders and any job folders left in them (after the workers are gone)."""
    if pool is not None:
        for path in pool.dirs.values():
            _rmtree(path)
