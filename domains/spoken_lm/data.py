"""Spoken prompts of the `spoken_lm` domain: audio in, unit strings out.

A prompts file is JSONL, one spoken prompt per row::

    {"audio": "prompts/p00001.wav", "transcript": "Tom walks into the kitchen.", "prompt_id": "p00001"}

``audio`` is relative to ``audio_root`` (or absolute); ``transcript`` (or ``text``) is what the prompt
says, which the judge always sees; ``prompt_id`` defaults to ``p<line>``. Each prompt's audio (its first
``prompt_seconds``, when set) becomes units through the unit tokenizer; the record's ``text`` is the unit
string the unit LM continues. Unreadable or empty audio is left out with its reason (never silently):
the run lists it in ``skipped.jsonl`` and counts it. Wrong-rate or stereo audio is resampled.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from polyrlaif.core.io import InputError, iter_jsonl
from polyrlaif.core.records import MediaRef, PromptRecord

__all__ = ["PromptLoad", "load_prompts"]


@dataclass
class PromptLoad:
    """Prompts read from a file, and the rows left out because their audio could not be used."""

    prompts: list[PromptRecord]
    skipped: list[dict[str, Any]] = field(default_factory=list)


def load_prompts(
    path: str | Path, audio_root: str | Path, units: Any, *, prompt_seconds: float | None = None
) -> PromptLoad:
    """Read spoken prompts and turn their audio into unit strings.

    Args:
        path: the prompts JSONL.
        audio_root: the folder relative ``audio`` paths are resolved against.
        units: a loaded :class:`~polyrlaif.domains.spoken_lm.units.UnitTokenizer`.
        prompt_seconds: keep only the first seconds of each prompt (``None``: all of it).

    Raises:
        InputError: a row without ``audio`` or a transcript, or with a field of the wrong type, naming
            the file, the line and the field; checked for every row before any audio is read.
    """
    from polyrlaif.core.audio import load_audio

    rows = []
    for lineno, row in iter_jsonl(path, required=("audio",)):
        where = f"{path}:{lineno}"
        said = row.get("transcript", row.get("text"))
        if not isinstance(said, str) or not said.strip():
            raise InputError(f"{where}: field 'transcript' (or 'text') is missing or not a non-empty string")
        if not isinstance(row["audio"], str):
            raise InputError(f"{where}: field 'audio' must be a string path")
        rows.append((lineno, row, said.strip()))
    out = PromptLoad([])
    for lineno, row, said in rows:
        audio = Path(audio_root) / row["audio"]
        wav, reason = load_audio(audio, sample_rate=units.sample_rate)
        if wav is not None and prompt_seconds is not None:
            wav = wav[: int(prompt_seconds * units.sample_rate)]
        if wav is None or wav.numel() == 0:
            out.skipped.append({"line": lineno, "audio": str(audio), "reason": reason or "empty: no samples"})
            continue
        pid = str(row.get("prompt_id") or f"p{lineno}")
        out.prompts.append(
            PromptRecord(
                prompt_id=pid,
                text=units.to_text(units.encode(wav)),
                media=[MediaRef(kind="audio", uri=str(audio))],
                meta={"transcript": said},
            )
        )
    return out
