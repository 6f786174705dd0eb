"""Prompts of the `text_to_image` domain: text prompts, grouped into analogous sets.

A prompts file is JSONL, one prompt per row::

    {"text": "a red square to the left of a blue circle", "prompt_id": "g12/a", "group": "g12",
     "axis": "colour"}

Only ``text`` is required. ``prompt_id`` defaults to ``p<line>``. Rows sharing a ``group`` are
*analogous* prompts (they differ in one taxonomy ``axis``): InstructEngine's cross-validation pairs the
images of one with those of the other. Every prompt of a group carries the other prompts' texts in
``meta["analogs"]`` (prompt id -> text), so a judge can score an image under each of them.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from polyrlaif.core.io import InputError, iter_jsonl
from polyrlaif.core.records import PromptRecord

__all__ = ["load_prompts"]


def load_prompts(path: str | Path) -> list[PromptRecord]:
    """Read text-to-image prompts, with their analogous groups.

    Raises:
        InputError: naming the file, the line and the field, for a row without ``text``, a field of the
            wrong type, an empty text or a repeated ``prompt_id``; before any model loads.
    """
    records: list[PromptRecord] = []
    seen: dict[str, int] = {}
    for lineno, row in iter_jsonl(path, required=("text",)):
        where = f"{path}:{lineno}"
        for key in ("text", "prompt_id", "group", "axis"):
            if key in row and not isinstance(row[key], str):
                raise InputError(f"{where}: field {key!r} must be a string, got {type(row[key]).__name__}")
        if not row["text"].strip():
            raise InputError(f"{where}: field 'text' is empty")
        pid = row.get("prompt_id") or f"p{lineno}"
        if pid in seen:
            raise InputError(f"{where}: field 'prompt_id' repeats {pid!r} (first on line {seen[pid]})")
        seen[pid] = lineno
        meta = {k: row[k] for k in ("group", "axis") if row.get(k)}
        records.append(PromptRecord(prompt_id=pid, text=row["text"].strip(), meta=meta))
    if not records:
        raise InputError(f"{path}: no prompts")
    groups: dict[str, list[PromptRecord]] = defaultdict(list)
    for r in records:
        if "group" in r.meta:
            groups[r.meta["group"]].append(r)
    for members in groups.values():
        for r in members:
            r.meta["analogs"] = {o.prompt_id: o.text for o in members if o.prompt_id != r.prompt_id}
    return records
