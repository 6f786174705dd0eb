"""The settings of the spoken story world: :class:`SpeechWorldConfig`, validated and hashed."""

from __future__ import annotations

import json
from dataclasses import dataclass

from polyrlaif.core.io import sha256_text
from polyrlaif.datasets.speech import grammar as g
from polyrlaif.datasets.speech.files import sblimp_candidates
from polyrlaif.datasets.speech.tts import DEFAULT_VOICES, is_voice_name
from polyrlaif.datasets.speech.zerospeech import lexical_words

__all__ = ["WORLD_FORMAT", "SpeechWorldConfig"]

WORLD_FORMAT = 2  # 2: held-out story openings (heldout_prompts.jsonl)
"""Version of the generator and the layout; part of the config hash, bumped when outputs change."""

_COUNTS = ("train_stories", "prompt_stories", "storycloze", "swuggy_words", "sblimp_pairs")


@dataclass
class SpeechWorldConfig:
    """Everything that determines a spoken story world; the same config always gives the same text files.

    The defaults give about 2,300 utterances (some 3 hours of audio, 350 MB) in about 45 seconds
    on two busy cores (espeak-ng takes some 30 ms an utterance, resampling 3 ms).

    Attributes:
        seed: root of every random stream.
        voices: espeak-ng voices (``en-us``, ``en-gb+f3``) the utterances are spread over.
        train_stories: whole coherent stories in ``corpus.jsonl`` (unit LM pretraining, transcriber).
        corpus_voices: each train story is spoken by 1 to this many distinct voices.
        prompt_stories: RLAIF prompts in ``prompts.jsonl`` (the context sentences of a story).
        storycloze: held-out stories, each an item of both sSC and tSC.
        swuggy_words: (word, pseudo-word) pairs in the lexical set.
        sblimp_pairs: (sentence, ungrammatical variant) pairs in the syntactic set.
        zerospeech_voices: voices each lexical and syntactic pair is spoken by.
        heldout_combos: (character, place) pairs reserved for held-out stories (of 64).
        incoherent_kinds: the ways an sSC wrong ending may contradict its story.
        speed_jitter: each utterance's speed is 175 words per minute times 1 +- up to this (0: fixed).
        pitch_jitter: each utterance's pitch is 50 +- up to this (0: fixed).
        sample_rate: of every WAV file, in Hz.
    """

    seed: int = 0
    voices: tuple[str, ...] = DEFAULT_VOICES
    train_stories: int = 800
    corpus_voices: int = 2
    prompt_stories: int = 200
    storycloze: int = 100
    swuggy_words: int = 60
    sblimp_pairs: int = 60
    zerospeech_voices: int = 2
    heldout_combos: int = 8
    incoherent_kinds: tuple[str, ...] = g.INCOHERENT_KINDS
    speed_jitter: float = 0.1
    pitch_jitter: int = 10
    sample_rate: int = 16000

    def validate(self) -> None:
        """Check every field.

        Raises:
            ValueError: naming the field and what is wrong with it.
        """
        voices = tuple(self.voices)
        bad = [v for v in voices if not is_voice_name(v)]
        if not voices or bad or len(set(voices)) != len(voices):
            raise ValueError(
                f"SpeechWorldConfig.voices: {voices} must be distinct espeak-ng voice names like 'en-us' or "
                f"'en-gb+f3'" + (f"; bad: {bad}" if bad else "")
            )
        for name in _COUNTS:
            if int(getattr(self, name)) < 0:
                raise ValueError(f"SpeechWorldConfig.{name}: {getattr(self, name)} is negative")
        if self.train_stories < 1:
            raise ValueError(f"SpeechWorldConfig.train_stories: {self.train_stories} is not >= 1")
        for name in ("corpus_voices", "zerospeech_voices"):
            if not 1 <= int(getattr(self, name)) <= len(voices):
                raise ValueError(
                    f"SpeechWorldConfig.{name}: {getattr(self, name)} is not within 1-{len(voices)} "
                    "(the number of voices)"
                )
        most = len(g.all_combos()) - 1
        if not 1 <= self.heldout_combos <= most:
            raise ValueError(
                f"SpeechWorldConfig.heldout_combos: {self.heldout_combos} is not within 1-{most}"
            )
        kinds = tuple(self.incoherent_kinds)
        if not kinds or any(k not in g.INCOHERENT_KINDS for k in kinds):
            raise ValueError(
                f"SpeechWorldConfig.incoherent_kinds: {kinds} must be a non-empty subset of "
                f"{g.INCOHERENT_KINDS}"
            )
        if not 0.0 <= self.speed_jitter <= 0.5:
            raise ValueError(f"SpeechWorldConfig.speed_jitter: {self.speed_jitter} is not in [0, 0.5]")
        if not 0 <= self.pitch_jitter <= 49:
            raise ValueError(f"SpeechWorldConfig.pitch_jitter: {self.pitch_jitter} is not within 0-49")
        if not 8000 <= self.sample_rate <= 48000:
            raise ValueError(f"SpeechWorldConfig.sample_rate: {self.sample_rate} is not within 8000-48000 Hz")
        self._check_capacity()

    def _check_capacity(self) -> None:
        """The counts the grammar cannot fill: distinct held-out stories, words, sentence pairs."""
        heldout = g.heldout_combos(self.seed, self.heldout_combos)
        most = len(heldout) * g.distinct_stories_per_combo()
        if self.storycloze > most // 2:
            raise ValueError(
                f"SpeechWorldConfig.storycloze: {self.storycloze} is more than half the {most} distinct "
                f"stories of {len(heldout)} held-out (character, place) pairs; raise heldout_combos"
            )
        words = len(lexical_words(g.vocabulary()))
        if self.swuggy_words > words:
            raise ValueError(
                f"SpeechWorldConfig.swuggy_words: {self.swuggy_words} is more than the {words} words"
            )
        pairs = sum(map(len, sblimp_candidates(heldout).values()))
        if self.sblimp_pairs > pairs:
            raise ValueError(
                f"SpeechWorldConfig.sblimp_pairs: {self.sblimp_pairs} is more than the {pairs} pairs the "
                "held-out sentences give; raise heldout_combos"
            )

    def normalized(self) -> dict:
        """The config as plain JSON types, as stored in ``world.json``.

        Raises:
            ValueError: naming the first invalid field.
        """
        self.validate()
        return {
            "seed": int(self.seed),
            "voices": [str(v) for v in self.voices],
            "train_stories": int(self.train_stories),
            "corpus_voices": int(self.corpus_voices),
            "prompt_stories": int(self.prompt_stories),
            "storycloze": int(self.storycloze),
            "swuggy_words": int(self.swuggy_words),
            "sblimp_pairs": int(self.sblimp_pairs),
            "zerospeech_voices": int(self.zerospeech_voices),
            "heldout_combos": int(self.heldout_combos),
            "incoherent_kinds": [str(k) for k in self.incoherent_kinds],
            "speed_jitter": float(self.speed_jitter),
            "pitch_jitter": int(self.pitch_jitter),
            "sample_rate": int(self.sample_rate),
        }

    def config_hash(self) -> str:
        """SHA-256 of the normalised config and :data:`WORLD_FORMAT` (16 hex digits)."""
        text = json.dumps({"format": WORLD_FORMAT, "config": self.normalized()}, sort_keys=True)
        return sha256_text(text)[:16]
