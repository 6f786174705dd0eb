"""A resumed run never mixes settings: what is on disk was made with the ``config.yaml`` beside it.

A recipe declares its artifact levels in order (:class:`Level`): which config keys each depends on and
which files of a round folder it writes. Rerunning ``train`` or ``feedback`` in a folder whose
``config.yaml`` differs stops before any work, naming the changed keys and the artifacts they
invalidate; with ``run.recompute=true`` the invalidated artifacts are deleted, from the first
invalidated level on (and every later round, when the update changed: it samples from that update),
and the run recomputes them. Keys no artifact depends on (how many rounds, timeouts, retries) may
change freely. ``config.yaml`` is written only after this check, so it always describes what is on
disk.
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from polyrlaif.core.log import get_logger

__all__ = ["FREE_KEYS", "ROUND0_KEYS", "Level", "check_resume", "flatten", "with_domain_keys"]

log = get_logger(__name__)

#: Settings no artifact depends on: changing them never invalidates anything.
FREE_KEYS = (
    "run.rounds",
    "run.output_dir",
    "run.recompute",
    "run.report_to",
    "model.cache_dir",
    "judge.api_key_env",
    "judge.timeout_s",
    "judge.retries",
    "judge.concurrency",
    "judge.cache_path",
)

#: What round 0 (the starting policy's evaluation) depends on.
ROUND0_KEYS = ("model", "domain", "eval", "run.seed", "data")


@dataclass(frozen=True)
class Level:
    """One kind of artifact a recipe writes in each round folder.

    Attributes:
        name: what it is, for messages (``samples``, ``judgments``, ...).
        keys: config key prefixes it depends on (besides those of the levels before it).
        files: glob patterns of its files inside ``round_<k>/``.
        carries: later rounds start from it (a policy update): invalidating it invalidates every
            later round whole.
    """

    name: str
    keys: tuple[str, ...]
    files: tuple[str, ...]
    carries: bool = False


def flatten(tree: Any, prefix: str = "") -> dict[str, Any]:
    """``{"a": {"b": 1}}`` -> ``{"a.b": 1}``."""
    if isinstance(tree, dict):
        out: dict[str, Any] = {}
        for k, v in tree.items():
            out.update(flatten(v, f"{prefix}{k}."))
        return out
    return {prefix[:-1]: tree}


def _matches(key: str, prefixes: Sequence[str]) -> bool:
    return any(key == p or key.startswith(p + ".") for p in prefixes)


def _match_length(key: str, prefixes: Sequence[str]) -> int:
    """The length of the longest of ``prefixes`` that ``key`` is or lies under; 0 when none."""
    return max((len(p) for p in prefixes if key == p or key.startswith(p + ".")), default=0)


def _level_of(key: str, levels: Sequence[Level]) -> int | None:
    """The level ``key`` belongs to: the one naming the longest prefix of it (the earliest on a tie), so
    ``domain.judge_weight`` named by the pairs level is a pairs setting though the samples level names
    all of ``domain``; ``None`` when no level names it."""
    lengths = [_match_length(key, lv.keys) for lv in levels]
    best = max(lengths, default=0)
    return lengths.index(best) if best else None


def with_domain_keys(levels: Sequence[Level], domain_cfg: Any) -> list[Level]:
    """``levels`` with the domain's own settings placed in the levels they shape.

    A domain config may declare ``LEVEL_KEYS``, ``{level name: (field, ...)}``: fields that only that
    level's artifacts (and those after it) depend on, e.g. the weights that turn judgments into a
    candidate's score belong to ``pairs``, so changing them with ``run.recompute=true`` rebuilds the
    pairs from the judgments on disk instead of sampling again. Unnamed fields stay with ``domain``.
    """
    extra: dict[str, tuple[str, ...]] = dict(getattr(type(domain_cfg), "LEVEL_KEYS", {}) or {})
    out = []
    for lv in levels:
        names = tuple(f"domain.{k}" for k in extra.get(lv.name, ()))
        out.append(replace(lv, keys=lv.keys + names) if names else lv)
    return out


def _rounds(out: Path) -> list[tuple[int, Path]]:
    found = []
    for d in out.glob("round_*"):
        suffix = d.name.removeprefix("round_")
        if d.is_dir() and suffix.isdigit():
            found.append((int(suffix), d))
    return sorted(found)


def check_resume(
    out: Path,
    new: dict[str, Any],
    levels: Sequence[Level],
    *,
    recompute: bool,
    defaults: dict[str, Any] | None = None,
) -> None:
    """Compare the run folder's ``config.yaml`` with the new settings before any work.

    Args:
        out: the run folder.
        new: the new resolved config as a plain mapping.
        levels: the recipe's artifact levels, in the order a round makes them.
        recompute: delete what the change invalidates instead of stopping.
        defaults: the config's default values as a plain mapping; a key the saved config lacks (a
            setting added since the run was made) is no change when its new value is the default.

    Raises:
        ValueError: settings that artifacts depend on changed and ``recompute`` is off; the message
            names the changed keys, the artifacts they invalidate and the two ways on.
    """
    import yaml

    saved_path = out / "config.yaml"
    if not saved_path.is_file() or not _rounds(out):
        return
    old = flatten(yaml.safe_load(saved_path.read_text(encoding="utf-8")) or {})
    cur = flatten(new)
    for k, v in flatten(defaults or {}).items():
        if k not in old and cur.get(k, "<unset>") == v:
            old[k] = v  # added to the config since: the run was made as if with its default
    changed = sorted(
        k
        for k in set(old) | set(cur)
        if old.get(k, "<unset>") != cur.get(k, "<unset>") and not _matches(k, FREE_KEYS)
    )
    if not changed:
        return
    # the first level a changed key belongs to; later levels are built on it. A key no level names is
    # taken to invalidate everything.
    owners = [_level_of(k, levels) for k in changed]
    first = min((0 if o is None else o for o in owners), default=0)
    hit = [lv.name for lv in levels[first:]]
    # round 0 evaluates the starting policy: it goes when a changed key is one of its settings, unless a
    # level names that key more narrowly (a domain's score weights shape pairs, not the evaluation)
    round0 = False
    for k, o in zip(changed, owners, strict=True):
        r0 = _match_length(k, ROUND0_KEYS)
        round0 |= r0 > 0 and (o is None or r0 >= _match_length(k, levels[o].keys))
    described = "; ".join(f"{k}: {old.get(k, '<unset>')!r} -> {cur.get(k, '<unset>')!r}" for k in changed)
    if not recompute:
        raise ValueError(
            f"{out} holds a run made with other settings ({described}). They invalidate its "
            f"{', '.join(hit)}. Rerun with run.recompute=true to recompute from the {hit[0]} on (what comes "
            "before is kept), or choose another run.output_dir"
        )
    _delete(out, levels, first, round0=round0)
    log.info(f"settings changed ({described}): recomputing from the {hit[0]} on")


def _delete(out: Path, levels: Sequence[Level], first: int, *, round0: bool) -> None:
    """Remove the artifacts of ``levels[first:]`` in every round, and every round after the first whole
    when one of those levels is an update (the next round samples from it)."""
    carried = any(lv.carries for lv in levels[first:])
    for idx, rdir in _rounds(out):
        if idx == 0:
            if round0:  # round 0 evaluates the starting policy
                shutil.rmtree(rdir)
        elif idx > 1 and carried:
            shutil.rmtree(rdir)
        else:
            _remove(rdir, [p for lv in levels[first:] for p in lv.files])
    (out / "metrics.json").unlink(missing_ok=True)


def _remove(rdir: Path, patterns: Sequence[str]) -> None:
    for pattern in patterns:
        for path in rdir.glob(pattern):
            if path.is_dir():
                shutil.rmtree(path)
            else:
                path.unlink()
