"""Preparation stages: named, hashed, resumable steps a recipe runs in view before round 0.

A domain declares its stages (:class:`~polyrlaif.core.protocols.PrepStage`): build a synthetic world,
pretrain a tower, SFT a starting policy, train a labeler, warm-start an agent. :func:`run_stages` runs
them in order. Each stage writes ``stage.json`` into its own folder when it finishes, holding the hash
of its settings (and of the stages it reads), its outputs and its wall time, so a rerun

- skips a stage whose ``stage.json`` has the same hash,
- stops before any work when the hash differs, naming the stage, its folder and the changed keys,
- runs a stage that never finished (the trainers inside resume from their own checkpoints).

A stage without a folder of its own (``output_dir=None``, what a domain gives when ``domain.world_dir`` is
unset) lives in the shared stage cache, ``$POLYRLAIF_WORLDS`` or ``<cache root>/worlds``, under
``<domain>/<stage>-<hash>``: a run with the same settings, from any working directory, finds it built, and
one with other settings builds its own beside it rather than refusing. A file lock keeps two runs from
building the same stage at once.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from polyrlaif.core.io import atomic_write_json, sha256_text
from polyrlaif.core.log import get_logger
from polyrlaif.core.models import cache_root
from polyrlaif.core.protocols import PrepStage

__all__ = [
    "STAGE_FILE",
    "StageReport",
    "place_stages",
    "run_stages",
    "settings_hash",
    "stage_dir",
    "stage_plan",
    "worlds_root",
]

log = get_logger(__name__)

STAGE_FILE = "stage.json"


@dataclass
class StageReport:
    """How one stage went: ``status`` is ``ran`` or ``skipped``; ``seconds`` is this run's wall time
    (``built_seconds``: the time it took when it was built); ``outputs``: what it returned (checkpoint
    paths, and what it measured, e.g. a reward model's held-out accuracy), the run's ``metrics.json`` keeps
    them."""

    name: str
    status: str
    seconds: float
    built_seconds: float
    output_dir: str
    outputs: dict[str, Any] = field(default_factory=dict)


def settings_hash(settings: Mapping[str, Any], upstream: Mapping[str, str]) -> str:
    """The hash a stage is keyed by: its settings and the hashes of the stages it reads."""
    blob = json.dumps({"settings": settings, "after": dict(upstream)}, sort_keys=True, default=str)
    return sha256_text(blob)


def worlds_root() -> Path:
    """The shared stage cache: ``$POLYRLAIF_WORLDS``, else ``<cache_root()>/worlds``."""
    return Path(os.environ.get("POLYRLAIF_WORLDS") or cache_root() / "worlds").expanduser()


def stage_dir(world_dir: str | os.PathLike | None, name: str = "") -> Path | None:
    """A stage's folder ``name`` under a domain's ``world_dir``, or ``None`` (a place in the shared cache,
    see :func:`place_stages`) when ``world_dir`` is unset."""
    return None if world_dir is None else Path(world_dir) / name


def place_stages(stages: Sequence[PrepStage], cache_dir: str | os.PathLike) -> None:
    """Give every stage without a folder its place in the cache: ``<cache_dir>/<name>-<hash[:16]>``, the
    hash of its settings and of the stages it reads (so a change upstream moves it too)."""
    _check_order(stages)
    hashes: dict[str, str] = {}
    for s in stages:
        hashes[s.name] = settings_hash(s.settings, {a: hashes[a] for a in s.after})
        if s.output_dir is None:
            s.output_dir = Path(cache_dir) / f"{s.name}-{hashes[s.name][:16]}"


def _changed(old: Mapping[str, Any], new: Mapping[str, Any], prefix: str = "") -> list[str]:
    keys = []
    for k in sorted(set(old) | set(new)):
        a, b = old.get(k, "<unset>"), new.get(k, "<unset>")
        if isinstance(a, Mapping) and isinstance(b, Mapping):
            keys += _changed(a, b, f"{prefix}{k}.")
        elif json.dumps(a, default=str) != json.dumps(b, default=str):
            keys.append(f"{prefix}{k}: {a!r} -> {b!r}")
    return keys


def _check_order(stages: Sequence[PrepStage]) -> None:
    seen: set[str] = set()
    for s in stages:
        if s.name in seen:
            raise ValueError(f"two preparation stages are named {s.name!r}")
        missing = [a for a in s.after if a not in seen]
        if missing:
            raise ValueError(f"stage {s.name!r} reads {missing}, which do not run before it")
        seen.add(s.name)


def stage_plan(stages: Sequence[PrepStage], *, recompute: bool = False) -> dict[str, str]:
    """Check every stage against what is on disk, before any work; returns name -> hash.

    Args:
        recompute: delete the folders of finished stages whose settings changed (and, through the
            hashes, of the stages built on them), so they are built again, instead of refusing.

    Raises:
        ValueError: duplicate names, a stage reading one that runs later, or (without ``recompute``) a
            finished stage whose settings changed, naming the stage, its folder, the changed keys and what
            to do.
    """
    _check_order(stages)
    unplaced = [s.name for s in stages if s.output_dir is None]
    if unplaced:
        raise ValueError(f"preparation stage(s) {unplaced} have no folder: place them first (place_stages)")
    hashes: dict[str, str] = {}
    stale: list[PrepStage] = []
    for s in stages:
        hashes[s.name] = settings_hash(s.settings, {a: hashes[a] for a in s.after})
        record = _read(s)
        if record is None or record.get("hash") == hashes[s.name]:
            continue
        diff = _changed(record.get("settings", {}), s.settings)
        diff += [f"(stage {a} changed)" for a in s.after if record.get("after", {}).get(a) != hashes[a]]
        if not recompute:
            raise ValueError(
                f"preparation stage {s.name!r} in {s.output_dir} was built with other settings: "
                f"{'; '.join(diff) or 'unknown change'}. Rerun with run.recompute=true to rebuild it (and "
                f"the stages built on it), delete {s.output_dir}, or point the run at another folder"
            )
        log.info(f"{s.name}: built with other settings ({'; '.join(diff)}); rebuilding it")
        stale.append(s)
    for s in stale:
        shutil.rmtree(s.output_dir)
    return hashes


@contextmanager
def _building(out: Path) -> Iterator[None]:
    """Hold ``.<name>.lock`` beside ``out`` while its stage is checked and built, so a second run waits
    for it instead of writing into the same folder (the shared cache)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out.parent / f".{out.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        with contextlib.suppress(OSError):  # the stage's last use, for `polyrlaif stages --prune`
            os.utime(lock.fileno())
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _read(stage: PrepStage) -> dict[str, Any] | None:
    path = Path(stage.output_dir) / STAGE_FILE
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise ValueError(f"{path}: unreadable stage record ({exc}); delete it to rebuild the stage") from None


def run_stages(stages: Sequence[PrepStage]) -> tuple[dict[str, dict[str, Any]], list[StageReport]]:
    """Run the stages in order, skipping finished ones.

    Returns:
        The outputs by stage name (what ``build`` receives) and one report per stage.

    Raises:
        ValueError: as :func:`stage_plan`, before any stage runs.
    """
    hashes = stage_plan(stages)
    outputs: dict[str, dict[str, Any]] = {}
    reports: list[StageReport] = []
    for i, s in enumerate(stages, 1):
        out = Path(s.output_dir)
        t0 = time.perf_counter()
        with _building(out):
            record = _read(s)  # under the lock: another run may have just built it
            if record is None:
                log.info(f"[{i}/{len(stages)}] {s.name}: {s.description or 'running'} -> {out}")
                out.mkdir(parents=True, exist_ok=True)
                result = dict(s.run(out, dict(outputs)) or {})
                seconds = round(time.perf_counter() - t0, 1)
                atomic_write_json(
                    out / STAGE_FILE,
                    {
                        "name": s.name,
                        "hash": hashes[s.name],
                        "settings": s.settings,
                        "after": {a: hashes[a] for a in s.after},
                        "outputs": result,
                        "seconds": seconds,
                    },
                )
                log.info(f"[{i}/{len(stages)}] {s.name}: done in {seconds:.0f}s")
                outputs[s.name] = result
                reports.append(StageReport(s.name, "ran", seconds, seconds, str(out), result))
                continue
        log.info(f"[{i}/{len(stages)}] {s.name}: finished earlier, skipped ({out})")
        outputs[s.name] = dict(record.get("outputs", {}))
        built = float(record.get("seconds", 0.0))
        reports.append(StageReport(s.name, "skipped", 0.0, built, str(out), outputs[s.name]))
    return outputs, reports
