"""The spoken story world on disk: a corpus, RLAIF prompts, spoken StoryCloze and ZeroSpeech-style sets.

:func:`generate_speech_world` writes, from one seed (every ``audio`` / wav field is a path relative
to the world's directory; all audio is 16-bit mono PCM WAV at ``sample_rate``)::

    corpus/<story_id>_<k>.wav       whole coherent train stories, each by 1-corpus_voices voices
    corpus.jsonl                    {"audio", "text", "voice", "story_id"}
    prompts/<prompt_id>.wav         the context sentences of a prompt story, one voice
    prompts.jsonl                   {"prompt_id", "audio", "text", "voice", "story_id"} (text: context)
    storycloze/prompts/<n>.wav      the context sentences of StoryCloze story n alone, its voice
    heldout_prompts.jsonl           those openings, as prompts.jsonl (the semantic-score benchmark's)
    storycloze/sSC/<n>_correct.wav    context + coherent ending, spoken as one utterance
    storycloze/sSC/<n>_incorrect.wav  context + incoherent ending (same voice, speed and pitch)
    storycloze/sSC.jsonl            {"id": n, "story_id", "voice", "kind", "correct", "incorrect",
                                     "prompt", "correct_ending", "incorrect_ending", "correct_text",
                                     "incorrect_text"}; kind: place, object or character
    storycloze/sSC.csv              id,correct_file,incorrect_file (paths relative to storycloze/)
    storycloze/tSC/...              the same, the wrong ending an ending of another scene (kind "topic")
    storycloze/tSC.jsonl, tSC.csv
    zerospeech/lexical/dev/<filename>.wav     sWUGGY: a word of the grammar and a pseudo-word
    zerospeech/lexical/dev/gold.csv           id,filename,voice,frequency,word,phones,correct
    zerospeech/syntactic/dev/<filename>.wav   sBLIMP: a sentence and an ungrammatical variant
    zerospeech/syntactic/dev/gold.csv         id,voice,type,subtype,transcription,filename,correct
    stories.jsonl                   every story (train, prompt, storycloze) with both endings
    world.json                      {"format", "config", "config_hash", "counts", "vocabulary",
                                     "heldout_combos", "espeak_ng"}
    DONE                            the config hash; written last

The StoryCloze folders follow the public Spoken StoryCloze release (Hassid et al. 2023, TWIST) as
slamkit's evaluation reads it: a flat folder per task of ``<n>_correct.wav`` / ``<n>_incorrect.wav``
(``n`` an integer, here zero-padded to five digits), each the whole story spoken as one utterance.
sSC's wrong ending contradicts the story in one way (see :mod:`.grammar`); tSC's is an ending of
another scene, the easier "topic" version. The ZeroSpeech sets follow ZeroSpeech 2021's ``dev`` layout
and ``gold.csv`` (see :mod:`.zerospeech`): random file names, ``correct`` 1 or 0, two rows per pair
and voice.

Held-out content: StoryCloze stories use only ``heldout_combos`` (character, place) pairs, which no
corpus or prompt story uses, so no held-out story, context or ending-in-context is ever in training
text. sBLIMP pairs come from the held-out pairs' sentences; their ungrammatical halves are no
sentence of the grammar. sWUGGY pseudo-words are no word of the grammar.
"""

from __future__ import annotations

import json
import logging
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from polyrlaif.core.io import (
    atomic_dir,
    atomic_write_bytes,
    atomic_write_json,
    atomic_write_jsonl,
    atomic_write_text,
    check_world_dir,
    read_jsonl,
)
from polyrlaif.datasets.speech import files, tts
from polyrlaif.datasets.speech import grammar as g
from polyrlaif.datasets.speech import zerospeech as zs
from polyrlaif.datasets.speech.world_config import WORLD_FORMAT, SpeechWorldConfig

__all__ = [
    "WORLD_FORMAT",
    "SpeechWorldConfig",
    "SpeechWorldManifest",
    "generate_speech_world",
    "load_speech_world",
    "topic_rows",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SpeechWorldManifest:
    """Where a generated spoken story world's files are, and how many of each it holds.

    Attributes:
        data_dir: the world's root; every audio path in its files is relative to it.
        config_hash: :meth:`SpeechWorldConfig.config_hash` of its config.
        counts: file or quantity -> count (see ``world.json``).
    """

    data_dir: Path
    config_hash: str
    counts: dict[str, int] = field(hash=False)

    def file(self, name: str) -> Path:
        """The path of one of the world's files, e.g. ``file("corpus.jsonl")`` or an ``audio`` field."""
        return self.data_dir / name

    @property
    def corpus(self) -> Path:
        """``corpus.jsonl``."""
        return self.data_dir / "corpus.jsonl"

    @property
    def prompts(self) -> Path:
        """``prompts.jsonl``."""
        return self.data_dir / "prompts.jsonl"

    @property
    def heldout_prompts(self) -> Path:
        """``heldout_prompts.jsonl``: the StoryCloze stories' openings (the semantic-score benchmark's)."""
        return self.data_dir / "heldout_prompts.jsonl"

    @property
    def stories(self) -> Path:
        """``stories.jsonl``."""
        return self.data_dir / "stories.jsonl"

    def storycloze(self, task: str = "sSC") -> Path:
        """The index of spoken StoryCloze ``task`` (``sSC`` or ``tSC``)."""
        if task not in ("sSC", "tSC"):
            raise ValueError(f"storycloze task {task!r} is not 'sSC' or 'tSC'")
        return self.data_dir / "storycloze" / f"{task}.jsonl"

    @property
    def lexical_gold(self) -> Path:
        """``zerospeech/lexical/dev/gold.csv`` (sWUGGY)."""
        return self.data_dir / "zerospeech" / "lexical" / "dev" / "gold.csv"

    @property
    def syntactic_gold(self) -> Path:
        """``zerospeech/syntactic/dev/gold.csv`` (sBLIMP)."""
        return self.data_dir / "zerospeech" / "syntactic" / "dev" / "gold.csv"


def _synthesize_all(
    root: Path, folder: str, utts: list[files.Utterance], sample_rate: int, workers: int
) -> float:
    """Write every utterance (its path starts with ``folder/``) under ``root``, which stands for ``folder``.

    Plain writes: the caller renames ``root`` into place once all are written.

    Returns the total audio duration in seconds.
    """

    def one(u: files.Utterance) -> int:
        data = tts.render_wav(u.text, u.voice, sample_rate=sample_rate, speed=u.speed, pitch=u.pitch)
        path = root / u.path.removeprefix(f"{folder}/")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        return (len(data) - 44) // 2

    # Threads suffice: the time goes to the espeak-ng processes, which run outside the GIL.
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        return sum(pool.map(one, utts)) / sample_rate


def generate_speech_world(
    out_dir: str | Path, cfg: SpeechWorldConfig | None = None, *, workers: int = 2
) -> SpeechWorldManifest:
    """Generate the spoken story world under ``out_dir``, or return at once if it is already there.

    ``world.json`` is written first and ``DONE`` last; each audio folder is built aside and renamed
    into place, so a rerun without ``DONE`` (after a crash) regenerates everything.

    Args:
        out_dir: the world's directory (created; must be new, empty or hold this same world).
        cfg: the config; defaults to :class:`SpeechWorldConfig`.
        workers: concurrent espeak-ng processes (does not change the output).

    Returns:
        The manifest: paths and counts.

    Raises:
        ValueError: on an invalid config, or when ``out_dir`` holds another world or other files.
        EspeakNotFoundError: espeak-ng is not installed (the message names the install command).
        EspeakError: espeak-ng failed or does not know one of ``cfg.voices``.
    """
    cfg = cfg or SpeechWorldConfig()
    data_dir = Path(out_dir)
    config, digest = cfg.normalized(), cfg.config_hash()
    meta = check_world_dir(data_dir, config, digest, "speech")
    if meta is not None and (data_dir / "DONE").is_file() and meta.get("counts"):
        return SpeechWorldManifest(data_dir, digest, meta["counts"])
    tts.check_voices(cfg.voices)  # fails early, naming the install command, when espeak-ng is missing
    start = time.monotonic()
    heldout = g.heldout_combos(cfg.seed, cfg.heldout_combos)
    train = [c for c in g.all_combos() if c not in heldout]
    header = {
        "format": WORLD_FORMAT,
        "config": config,
        "config_hash": digest,
        "vocabulary": g.vocabulary(),
        "heldout_combos": [list(c) for c in heldout],
        "espeak_ng": tts.espeak_version(),
    }
    atomic_write_json(data_dir / "world.json", {**header, "counts": None})

    corpus, train_stories, corpus_utts = files.corpus_rows(cfg, train)
    prompts, prompt_stories, prompt_utts = files.prompt_rows(cfg, train)
    cloze, cloze_stories, cloze_utts = files.cloze_rows(cfg, heldout)
    counts_by_word = Counter(w for row in corpus for w in g.tokens(row["text"]))
    lexical, lexical_utts = files.lexical_rows(cfg, counts_by_word, _phones)
    syntactic, syntactic_utts = files.syntactic_rows(cfg, heldout)

    seconds = 0.0
    parts = {
        "corpus": (corpus_utts, {}),
        "prompts": (prompt_utts, {}),
        "storycloze": (cloze_utts, _cloze_indexes(cloze)),
        "zerospeech": (
            lexical_utts + syntactic_utts,
            {
                "lexical/dev/gold.csv": zs.gold_csv(lexical, zs.LEXICAL_COLUMNS),
                "syntactic/dev/gold.csv": zs.gold_csv(syntactic, zs.SYNTACTIC_COLUMNS),
            },
        ),
    }
    for folder, (utts, extra) in parts.items():
        # One rename for the whole folder instead of an fsync per file.
        with atomic_dir(data_dir / folder) as tmp:
            seconds += _synthesize_all(tmp, folder, utts, cfg.sample_rate, workers)
            for name, data in extra.items():
                atomic_write_bytes(tmp / name, data)
        log.info("speech world: %s/ written (%d utterances)", folder, len(utts))
    atomic_write_jsonl(data_dir / "corpus.jsonl", corpus)
    atomic_write_jsonl(data_dir / "prompts.jsonl", prompts)
    atomic_write_jsonl(data_dir / "heldout_prompts.jsonl", cloze["prompts"])
    atomic_write_jsonl(data_dir / "stories.jsonl", train_stories + prompt_stories + cloze_stories)

    counts = {
        "corpus": len(corpus),
        "train_stories": len(train_stories),
        "prompts": len(prompts),
        "heldout_prompts": len(cloze["prompts"]),
        "storycloze": len(cloze["sSC"]),
        **{f"storycloze_{k}": sum(r["kind"] == k for r in cloze["sSC"]) for k in g.INCOHERENT_KINDS},
        "lexical_pairs": cfg.swuggy_words,
        "lexical_files": len(lexical),
        "syntactic_pairs": len({r["id"] for r in syntactic}),
        "syntactic_files": len(syntactic),
        "utterances": sum(map(len, (corpus_utts, prompt_utts, cloze_utts, lexical_utts, syntactic_utts))),
        "audio_seconds": round(seconds),
    }
    atomic_write_json(data_dir / "world.json", {**header, "counts": counts})
    atomic_write_text(data_dir / "DONE", digest + "\n")
    log.info("speech world %s in %s (%.0f s): %s", digest, data_dir, time.monotonic() - start, counts)
    return SpeechWorldManifest(data_dir, digest, counts)


def _cloze_indexes(cloze: dict[str, list[dict]]) -> dict[str, bytes]:
    """Per task, the JSONL index and the CSV one (``id,correct_file,incorrect_file``, paths relative to
    ``storycloze/``), which the ``spoken_lm`` StoryCloze evaluator reads."""
    out = {}
    for task, rows in cloze.items():
        if task == "prompts":  # held-out openings: heldout_prompts.jsonl at the world's root
            continue
        out[f"{task}.jsonl"] = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows).encode()
        pairs = [
            {"id": r["id"], "correct_file": r["correct"].split("/", 1)[1],
             "incorrect_file": r["incorrect"].split("/", 1)[1]}
            for r in rows
        ]  # fmt: skip
        out[f"{task}.csv"] = zs.gold_csv(pairs, ("id", "correct_file", "incorrect_file"))
    return out


@lru_cache(maxsize=4096)
def _phones(word: str, language: str) -> str:
    return tts.phonemize(word, language)


def load_speech_world(data_dir: str | Path) -> SpeechWorldManifest:
    """The manifest of a finished spoken story world.

    Raises:
        ValueError: when ``data_dir`` holds no finished speech world.
    """
    data_dir = Path(data_dir)
    if not (data_dir / "DONE").is_file():
        raise ValueError(f"{data_dir}: no finished speech world (no DONE marker); run generate_speech_world")
    meta = json.loads((data_dir / "world.json").read_text(encoding="utf-8"))
    return SpeechWorldManifest(data_dir, meta["config_hash"], meta["counts"])


def topic_rows(data_dir: str | Path) -> list[dict]:
    """For each held-out opening (``heldout_prompts.jsonl``), its story's scene words and every other
    scene's (:func:`~polyrlaif.datasets.speech.grammar.scene_words`): the semantic benchmark's ``topics``,
    a check of continuations from the grammar that no judge reads."""
    root = Path(data_dir)
    scene = {
        r["story_id"]: r["scene"] for r in read_jsonl(root / "stories.jsonl", required=("story_id", "scene"))
    }
    words = g.scene_words()
    rows = []
    for r in read_jsonl(root / "heldout_prompts.jsonl", required=("prompt_id", "story_id")):
        own = scene[r["story_id"]]
        other = sorted(w for place, ws in words.items() if place != own for w in ws)
        rows.append({"prompt_id": r["prompt_id"], "words": sorted(words[own]), "other_words": other})
    return rows
