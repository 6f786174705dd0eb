"""A sqlite cache of raw judge answers, keyed by ``(judge_id, sha256 of the rendered judge prompt)``.

A rerun of the same judge on the same prompts replays the stored answers without calling the model.
Only successful backend answers are stored: a timeout or a refused connection is retried next time,
while an answer that could not be parsed is stored (the model *did* answer) and fails the same way on
replay. Each thread (and each process that unpickles the cache: a Ray worker) gets its own connection;
every write is one committed transaction, and the database runs in WAL mode so readers never see half a
batch.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

__all__ = ["JudgeCache"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS answers (
    judge_id TEXT NOT NULL,
    prompt_hash TEXT NOT NULL,
    answer TEXT NOT NULL,
    created REAL NOT NULL,
    PRIMARY KEY (judge_id, prompt_hash)
)
"""


class JudgeCache:
    """Thread-safe sqlite store of raw backend answers (JSON objects).

    Args:
        path: the database file; parent folders are created.
    """

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._conn()  # create the schema now, so a bad path fails here and not mid-run

    def __getstate__(self) -> dict[str, Any]:
        """Pickle the path only: a process that unpickles the cache (a Ray worker) opens its own
        connections to the same file, so every worker reads and adds to one cache."""
        return {"path": str(self.path)}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["path"])

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=30.0, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            with conn:
                conn.execute(_SCHEMA)
            self._local.conn = conn
            with self._lock:
                self._all.append(conn)
        return conn

    def get(self, judge_id: str, prompt_hash: str) -> dict[str, Any] | None:
        """The stored answer, or ``None``."""
        return self.get_many(judge_id, [prompt_hash]).get(prompt_hash)

    def get_many(self, judge_id: str, prompt_hashes: Iterable[str]) -> dict[str, dict[str, Any]]:
        """Stored answers for those of ``prompt_hashes`` that are present."""
        hashes = list(dict.fromkeys(prompt_hashes))
        found: dict[str, dict[str, Any]] = {}
        conn = self._conn()
        for start in range(0, len(hashes), 500):  # stay under sqlite's bound-parameter limit
            chunk = hashes[start : start + 500]
            marks = ",".join("?" * len(chunk))
            rows = conn.execute(
                f"SELECT prompt_hash, answer FROM answers WHERE judge_id = ? AND prompt_hash IN ({marks})",
                [judge_id, *chunk],
            ).fetchall()
            found.update((h, json.loads(a)) for h, a in rows)
        return found

    def put(self, judge_id: str, prompt_hash: str, answer: Mapping[str, Any]) -> None:
        """Store one answer (replacing an older one)."""
        self.put_many(judge_id, {prompt_hash: answer})

    def put_many(self, judge_id: str, answers: Mapping[str, Mapping[str, Any]]) -> None:
        """Store several answers in one committed transaction."""
        now = time.time()
        rows = [(judge_id, h, json.dumps(dict(a), ensure_ascii=False), now) for h, a in answers.items()]
        conn = self._conn()
        with conn:  # commits on success, rolls back on error: all of the batch or none of it
            conn.executemany("INSERT OR REPLACE INTO answers VALUES (?, ?, ?, ?)", rows)

    def __len__(self) -> int:
        return int(self._conn().execute("SELECT COUNT(*) FROM answers").fetchone()[0])

    def close(self) -> None:
        """Close every connection this cache opened, in any thread."""
        with self._lock:
            for conn in self._all:
                conn.close()
            self._all.clear()
        self._local = threading.local()

    def __enter__(self) -> JudgeCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
