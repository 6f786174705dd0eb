"""Configuration of the `spoken_lm` domain (the ``domain:`` section of a run config)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

__all__ = ["SpokenLMConfig", "SpokenWorldTrainingConfig"]


@dataclass
class SpokenWorldTrainingConfig:
    """The synthetic spoken world and its models (``synthetic: true``).

    Short stories from a small grammar, spoken by several espeak-ng voices at 16 kHz
    (:mod:`polyrlaif.datasets.speech`). Units come from log-mel features and k-means; a tiny unit LM is
    pretrained on the spoken corpus (the starting policy); a tiny unit-to-text transcriber is trained on
    the corpus's (units, transcript) pairs, so the judge (an LLM) reads words. The feedback comes from
    that LLM, never from the grammar's ground truth.

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
        transcriber_epochs: training epochs of the transcriber.
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
    transcriber_epochs: float = 10.0
    lr: float = 1e-3
    batch_size: int = 16


@dataclass
class SpokenLMConfig:
    """Options of the spoken_lm domain (Align-SLM).

    Attributes:
        name: always ``spoken_lm``.
        synthetic: build the spoken world and its models under ``world_dir`` (preparation stages).
        world_dir: where the world lives (default ``<run.output_dir>/world``).
        world: the world's sizes and training.
        prompts: JSONL of ``{"audio", "transcript"[, "prompt_id"]}`` spoken prompts (audio relative to
            ``audio_root``); unset with ``synthetic``.
        audio_root: folder the prompts' audio paths are relative to.
        units: a unit tokenizer folder (:class:`~polyrlaif.domains.spoken_lm.units.UnitTokenizer`); the
            world's with ``synthetic``.
        prompt_seconds: the first seconds of each prompt the policy continues (``None``: all of it).
        transcriber: a unit-to-text model folder (prompt: units, completion: words); the world's with
            ``synthetic``.
        judge_mode: ``yesno`` (p(yes) that the continuation follows the story: a local LLM such as
            SmolLM2) or ``pointwise`` (Align-SLM's 1-5 grade through an OpenAI-compatible endpoint).
        eval_benchmarks: benchmarks run before training and after every round.
    """

    name: str = "spoken_lm"
    synthetic: bool = False
    world_dir: str | None = None
    world: SpokenWorldTrainingConfig = field(default_factory=SpokenWorldTrainingConfig)
    prompts: str | None = None
    audio_root: str = "."
    units: str | None = None
    prompt_seconds: float | None = None
    transcriber: str | None = None
    judge_mode: Literal["yesno", "pointwise"] = "yesno"
    eval_benchmarks: list[str] = field(default_factory=lambda: ["storycloze", "swuggy", "sblimp"])

    def __post_init__(self) -> None:
        if self.synthetic and (self.prompts or self.units or self.transcriber):
            raise ValueError("domain.synthetic=true makes its own prompts, units and transcriber; unset them")
        if self.prompt_seconds is not None and self.prompt_seconds <= 0:
            raise ValueError(f"domain.prompt_seconds must be > 0 or null, got {self.prompt_seconds}")
