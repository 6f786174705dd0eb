"""The shared stage cache on disk: what is in it, and removing what is no longer used.

``polyrlaif stages`` lists every preparation stage the cache holds (``<root>/<domain>/<stage>-<hash>``,
see :mod:`polyrlaif.core.stages`): its domain and stage, whether it finished, its size, how long it took
to build and when a run last used it. ``--prune`` removes stages no run has used for ``--older-than`` days
and folders of stages that never finished; ``--dry-run`` only says what it would remove. A stage a run is
building (its lock held) is never touched.

A stage's last use is the modification time of its build lock, ``.<folder>.lock`` beside it, which every
run that checks, builds or skips the stage refreshes (``stage.json`` itself is never rewritten; a stage
without a lock file falls back to it).

Removing a stage another one was built on leaves that one valid: the next run
that needs it rebuilds the removed stage from the same settings, to the same bytes and folder.
"""

from __future__ import annotations

import fcntl
import json
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from polyrlaif.core.stages import STAGE_FILE

__all__ = ["CachedStage", "prune_stages", "scan_stages"]


@dataclass
class CachedStage:
    """One stage folder of the cache.

    Attributes:
        path: the folder.
        domain: the domain folder it lies in.
        name: the stage's name (``policy_pretrain``).
        finished: it wrote ``stage.json``.
        size_bytes: everything under the folder.
        built_seconds: the wall time it took to build (finished stages).
        last_used: seconds since the epoch of the last run that checked, built or skipped it.
    """

    path: Path
    domain: str
    name: str
    finished: bool
    size_bytes: int
    built_seconds: float | None
    last_used: float


def _size_and_newest(folder: Path) -> tuple[int, float]:
    size, newest = 0, folder.stat().st_mtime
    for p in folder.rglob("*"):
        try:
            st = p.lstat()
        except OSError:
            continue
        if p.is_file():
            size += st.st_size
        newest = max(newest, st.st_mtime)
    return size, newest


def scan_stages(root: str | Path) -> list[CachedStage]:
    """Every stage folder under ``root`` (``<domain>/<stage>-<hash>``), oldest use first."""
    root = Path(root)
    out = []
    for folder in sorted(p for p in root.glob("*/*") if p.is_dir() and not p.name.startswith(".")):
        record_path = folder / STAGE_FILE
        size, newest = _size_and_newest(folder)
        record: dict = {}
        if record_path.is_file():
            try:
                record = json.loads(record_path.read_text(encoding="utf-8"))
            except ValueError:
                record = {}
        finished = bool(record)
        name = str(record.get("name") or folder.name.rsplit("-", 1)[0])
        lock = folder.parent / f".{folder.name}.lock"
        dated = lock if lock.is_file() else record_path if finished else None
        last_used = dated.stat().st_mtime if dated is not None else newest
        built = float(record["seconds"]) if "seconds" in record else None
        out.append(CachedStage(folder, folder.parent.name, name, finished, size, built, last_used))
    return sorted(out, key=lambda s: s.last_used)


def _try_lock(folder: Path):
    """The stage's build lock, held without waiting, or ``None`` when a run holds it."""
    # appending, not truncating: looking must not date the stage as used
    lock = open(folder.parent / f".{folder.name}.lock", "a")  # noqa: SIM115 - held by the caller
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        lock.close()
        return None
    return lock


def prune_stages(
    root: str | Path, *, older_than_days: float, unfinished: bool = True, dry_run: bool = False
) -> tuple[list[CachedStage], list[CachedStage]]:
    """Remove the finished stages no run used for ``older_than_days`` and (``unfinished``) the folders of
    stages that never finished, unless a run is building them.

    Returns:
        The stages removed (or, with ``dry_run``, that would be) and those skipped because a run holds
        their lock.

    Raises:
        ValueError: for a negative ``older_than_days``.
    """
    if older_than_days < 0:
        raise ValueError(f"--older-than: {older_than_days} days is negative")
    cutoff = time.time() - older_than_days * 86400
    removed, busy = [], []
    for s in scan_stages(root):
        if not ((s.finished and s.last_used < cutoff) or (unfinished and not s.finished)):
            continue
        lock = _try_lock(s.path)
        if lock is None:
            busy.append(s)
            continue
        try:
            if not dry_run:
                shutil.rmtree(s.path)
            removed.append(s)
        finally:
            lock.close()
    return removed, busy
