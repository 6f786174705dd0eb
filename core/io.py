"""Files: atomic writes, JSONL with precise errors, and resumable stage artifacts.

Every stage of a run writes its output through :class:`StageWriter`. Rows are appended to
``<name>.partial`` and flushed batch by batch; when the stage finishes the partial file is renamed
to its final name in one atomic step. A rerun therefore finds either a finished artifact (and skips
the stage), or a partial one (and skips the keys already in it), so a crash loses at most the batch
in flight.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

__all__ = [
    "InputError",
    "atomic_dir",
    "atomic_write_bytes",
    "check_world_dir",
    "atomic_write_json",
    "atomic_write_jsonl",
    "atomic_write_text",
    "iter_jsonl",
    "read_jsonl",
    "read_json",
    "sha256_text",
    "StageWriter",
]


class InputError(ValueError):
    """Bad user input. The message names the file, the line and the field."""


def sha256_text(text: str) -> str:
    """Hex SHA-256 of ``text`` encoded as UTF-8."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _umask_mode() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` so that readers see the old file or the new one, never half of it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, _umask_mode())  # mkstemp makes 0600 files; artifacts get the usual mode
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike) -> Iterator[Path]:
    """Build a directory in a hidden sibling and rename it to ``path`` only when the block succeeds.

    A failed block leaves ``path`` as it was (an existing directory there is replaced only on success).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    try:
        yield tmp
        os.chmod(tmp, _umask_mode() | 0o111)  # mkdtemp makes 0700 directories
        if path.exists():
            shutil.rmtree(path)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """Atomically write UTF-8 text."""
    return atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | os.PathLike, obj: Any) -> Path:
    """Atomically write ``obj`` as indented JSON."""
    return atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=False, default=str) + "\n")


def atomic_write_jsonl(path: str | os.PathLike, rows: Iterable[dict]) -> Path:
    """Atomically write rows as JSON Lines."""
    text = "".join(json.dumps(r, ensure_ascii=False, default=str) + "\n" for r in rows)
    return atomic_write_text(path, text)


def iter_jsonl(path: str | os.PathLike, required: Sequence[str] = ()) -> Iterator[tuple[int, dict]]:
    """Yield ``(line_number, row)`` from a JSONL file, skipping blank lines.

    Raises:
        InputError: if the file is missing, a line is not UTF-8 or not a JSON object, or a row lacks a
            field in ``required``. The message reads ``file:line: what is wrong``.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    with path.open("rb") as fh:
        for lineno, raw in enumerate(fh, start=1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise InputError(
                    f"{path}:{lineno}: not UTF-8 text ({exc.reason} at column {exc.start + 1})"
                ) from None
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise InputError(
                    f"{path}:{lineno}: malformed JSON ({exc.msg} at column {exc.colno})"
                ) from None
            if not isinstance(row, dict):
                raise InputError(f"{path}:{lineno}: expected a JSON object, got {type(row).__name__}")
            missing = [f for f in required if f not in row]
            if missing:
                raise InputError(f"{path}:{lineno}: missing field(s) {', '.join(repr(m) for m in missing)}")
            yield lineno, row


def read_json(path: str | os.PathLike) -> Any:
    """Read a JSON file.

    Raises:
        InputError: the file is missing, not UTF-8 or not JSON; the message reads ``file:line: ...``.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    data = path.read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise InputError(f"{path}:{line}: not UTF-8 text ({exc.reason} at column {column})") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}:{exc.lineno}: malformed JSON ({exc.msg} at column {exc.colno})") from None


def read_jsonl(path: str | os.PathLike, required: Sequence[str] = ()) -> list[dict]:
    """Read a whole JSONL file; see :func:`iter_jsonl` for the errors."""
    return [row for _, row in iter_jsonl(path, required)]


class StageWriter:
    """Resumable, atomic JSONL artifact for one stage.

    Usage::

        stage = StageWriter(out / "candidates.jsonl", key="candidate_id")
        if not stage.done:
            for batch in batches:
                if all(k in stage.finished_keys for k in keys_of(batch)):
                    continue
                stage.append(make_rows(batch))
            stage.finish()
        rows = stage.rows()

    Args:
        path: final path of the artifact.
        key: field that identifies a row; used to know which work is finished.
    """

    def __init__(self, path: str | os.PathLike, key: str) -> None:
        self.path = Path(path)
        self.partial = self.path.with_name(self.path.name + ".partial")
        self.key = key
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._partial_rows: list[dict] = []
        if not self.done and self.partial.exists():
            self._partial_rows = self._read_partial()

    @property
    def done(self) -> bool:
        """True once the stage has been finished by this or an earlier run."""
        return self.path.exists()

    @property
    def finished_keys(self) -> set:
        """Keys already written, by this run or by an interrupted earlier one."""
        rows = self.rows() if self.done else self._partial_rows
        return {r[self.key] for r in rows}

    def _read_partial(self) -> list[dict]:
        """The rows of an interrupted run. A torn last line (a crash mid-write, even inside a multi-byte
        character) is dropped; damage anywhere else is an error naming the file and line."""
        lines = self.partial.read_bytes().split(b"\n")
        rows: list[dict] = []
        for i, raw in enumerate(lines, start=1):
            if not raw.strip():
                continue
            try:
                rows.append(json.loads(raw.decode("utf-8")))
            except (UnicodeDecodeError, json.JSONDecodeError) as exc:
                if any(rest.strip() for rest in lines[i:]):
                    raise InputError(
                        f"{self.partial}:{i}: damaged line before the end of an unfinished stage ({exc}); "
                        "delete the file to redo the stage"
                    ) from None
                break  # the torn tail: everything before it is good
        # rewrite without the torn tail so later appends stay parseable
        atomic_write_jsonl(self.partial, rows)
        return rows

    def drop(self, predicate: Callable[[dict], bool]) -> int:
        """Take the rows ``predicate`` picks out of the stage (finished or not), so they are done again.

        A finished stage becomes unfinished again. Returns how many rows were dropped.
        """
        rows = self.rows()
        kept = [r for r in rows if not predicate(r)]
        if len(kept) < len(rows):
            atomic_write_jsonl(self.partial, kept)
            self.path.unlink(missing_ok=True)
            self._partial_rows = kept
        return len(rows) - len(kept)

    def append(self, rows: Sequence[dict]) -> None:
        """Append a finished batch and flush it to disk."""
        if self.done:
            raise RuntimeError(f"{self.path}: stage already finished")
        with self.partial.open("a", encoding="utf-8") as fh:
            for r in rows:
                fh.write(json.dumps(r, ensure_ascii=False, default=str) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        self._partial_rows.extend(rows)

    def finish(self, order: Sequence | None = None) -> None:
        """Mark the stage finished: rename the partial file to the final name.

        Args:
            order: optional key order; rows are sorted by it so the artifact does not depend on
                which batches a resumed run had to redo.
        """
        rows = list(self._partial_rows)
        if order is not None:
            pos = {k: i for i, k in enumerate(order)}
            rows.sort(key=lambda r: pos.get(r[self.key], len(pos)))
        atomic_write_jsonl(self.path, rows)
        self.partial.unlink(missing_ok=True)

    def rows(self) -> list[dict]:
        """All rows of a finished stage, or the rows written so far."""
        if self.done:
            return read_jsonl(self.path)
        return list(self._partial_rows)


def check_world_dir(data_dir: Path, config: dict, digest: str, kind: str) -> dict | None:
    """A synthetic world's folder before generation: the existing ``world.json`` when it was made with the
    same config, ``None`` for a fresh (missing or empty) folder.

    Args:
        data_dir: the world's folder.
        config: the normalised config (compared field by field for the message).
        digest: the config's hash.
        kind: what the world is called in messages (``"draw"``, ``"speech"``, ``"video"``).

    Raises:
        ValueError: a non-empty folder without ``world.json``, unreadable metadata, or a world made with
            another config (naming the differing fields).
    """
    meta_path = data_dir / "world.json"
    if not meta_path.exists():
        if data_dir.exists() and any(data_dir.iterdir()):
            raise ValueError(
                f"{data_dir} is not empty and holds no {kind} world (no world.json); choose another"
            )
        return None
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        old_hash, old = meta["config_hash"], meta["config"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"{meta_path}: not a {kind} world's metadata ({exc!r})") from None
    if old_hash != digest:
        old = old if isinstance(old, dict) else {}
        fields = sorted(k for k in config.keys() | old.keys() if old.get(k) != config.get(k))
        raise ValueError(
            f"{data_dir} holds a {kind} world of another config (hash {old_hash}, this config {digest}; "
            f"differing: {', '.join(fields) or 'generator version'}); use another directory or delete it"
        )
    return meta
