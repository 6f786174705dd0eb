"""Preference pairs a user brings: our own ``pairs.jsonl``, or the prompt/chosen/rejected files of the field.

Accepted rows (JSONL, one object a line; a ``.json`` file holding a list of such objects works too):

- ``polyrlaif``: what a ``preference`` round writes (``pair_id, prompt_id, prompt, chosen, rejected``,
  with margin and provenance);
- ``prompt, chosen, rejected`` (TRL's preference format; UltraFeedback-binarized style): the prompt a
  string or a list of chat messages; chosen and rejected strings, or message lists whose last message is
  the assistant's answer (the messages before it, when ``prompt`` is absent, are the prompt);
- ``instruction, chosen, rejected`` (CodeUltraFeedback-binarized style).

Every problem is found before any training starts, and named by file, line and field.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from polyrlaif.core.io import InputError, iter_jsonl, sha256_text
from polyrlaif.core.records import PreferencePair

__all__ = ["load_pairs_file"]


def _rows(path: Path) -> list[tuple[int, dict[str, Any]]]:
    if path.suffix == ".json":
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise InputError(f"{path}: not a readable JSON file ({exc})") from None
        if not isinstance(data, list):
            raise InputError(f"{path}: expected a JSON list of pair objects, got {type(data).__name__}")
        rows = []
        for i, row in enumerate(data, 1):
            if not isinstance(row, dict):
                raise InputError(f"{path}: item {i}: expected a JSON object, got {type(row).__name__}")
            rows.append((i, row))
        return rows
    try:
        return list(iter_jsonl(path))
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None


def _answer(value: Any, where: str, field: str) -> tuple[str, list[dict[str, str]] | None]:
    """The answer text and, for a message list, the messages before it."""
    if isinstance(value, str):
        if not value.strip():
            raise InputError(f"{where}: field {field!r} is empty")
        return value, None
    if isinstance(value, list) and value and all(isinstance(m, dict) for m in value):
        last = value[-1]
        if last.get("role") != "assistant" or not isinstance(last.get("content"), str):
            raise InputError(f"{where}: field {field!r}: the last message must be the assistant's, with text")
        return last["content"], [dict(m) for m in value[:-1]]
    raise InputError(f"{where}: field {field!r} must be a string or a list of chat messages")


def _prompt(
    row: dict[str, Any], context: list[dict[str, str]] | None, where: str
) -> list[dict[str, str]] | str:
    value = row.get("prompt", row.get("instruction"))
    if value is None:
        if context:
            return context
        raise InputError(f"{where}: missing field 'prompt' (or 'instruction')")
    if isinstance(value, str):
        if not value.strip():
            raise InputError(f"{where}: field 'prompt' is empty")
        return value
    if isinstance(value, list) and value and all(isinstance(m, dict) and "role" in m for m in value):
        return [dict(m) for m in value]
    raise InputError(f"{where}: field 'prompt' must be a string or a list of chat messages")


def load_pairs_file(path: str | Path) -> list[PreferencePair]:
    """Read every pair of ``path``; see the module docstring for the accepted shapes.

    Raises:
        InputError: the file is missing or empty, a line is not JSON, or a row lacks a field or has one
            of the wrong type; the message names the file, the line and the field.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such pairs file")
    pairs: list[PreferencePair] = []
    for lineno, row in _rows(path):
        where = f"{path}:{lineno}"
        if "pair_id" in row and "prompt_id" in row:  # our own artifact
            try:
                pairs.append(PreferencePair.from_dict(row, where=where))
            except (TypeError, ValueError, KeyError) as exc:
                raise InputError(f"{where}: {exc}") from None
            continue
        for field in ("chosen", "rejected"):
            if field not in row:
                raise InputError(f"{where}: missing field {field!r}")
        chosen, context = _answer(row["chosen"], where, "chosen")
        rejected, _ = _answer(row["rejected"], where, "rejected")
        if chosen == rejected:
            raise InputError(f"{where}: fields 'chosen' and 'rejected' are the same text")
        prompt = _prompt(row, context, where)
        prompt_id = str(row.get("prompt_id") or sha256_text(json.dumps(prompt, sort_keys=True))[:16])
        pairs.append(
            PreferencePair(
                pair_id=str(row.get("pair_id") or f"{path.name}:{lineno}"),
                prompt_id=prompt_id,
                prompt=prompt,
                chosen=chosen,
                rejected=rejected,
                margin=float(row.get("margin", 0.0) or 0.0),
                provenance={"source": str(path), "line": lineno},
            )
        )
    if not pairs:
        raise InputError(f"{path}: no pairs (the file is empty)")
    return pairs
