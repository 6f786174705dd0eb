"""Builds the `spoken_lm` domain's components for a run (Align-SLM).

Each round: ``sampling.n`` continuations (units) of each spoken prompt from the newest unit LM -> back
to words (``domain.back_to_words``: the transcriber, or a vocoder and then an ASR) -> an LLM grades
the transcript against the prompt's transcript (p(yes), or a 1-5 grade) -> best against worst, kept
only above ``pairs.chosen_min`` and below ``pairs.rejected_max`` (the curriculum, tightening over
rounds) -> DPO on the unit LM -> spoken StoryCloze, sWUGGY and sBLIMP.

Synthetic world (``domain.synthetic: true``): the prompts, the unit tokenizer, the starting unit LM,
the transcriber and (with ``back_to_words: speech``) the vocoder are outputs of the preparation
stages (:mod:`~polyrlaif.domains.spoken_lm.world`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from polyrlaif.core.config import TrainConfig, judge_cache_path
from polyrlaif.core.protocols import BenchmarkRun, DomainBuild, OfflineFeedback
from polyrlaif.core.records import Candidate, Judgment, PromptRecord

__all__ = ["build", "coherence_score"]


def coherence_score(prompt: PromptRecord, cand: Candidate, verdicts: list[Judgment]) -> float | None:
    """The judge's score of the continuation's transcript (``None`` when it could not decide)."""
    judged = [j for j in verdicts if j.judge_id != "transcript"]
    return judged[0].score if judged and judged[0].ok else None


def _judge(cfg: TrainConfig) -> Any:
    from polyrlaif.core.judges.active import configured_judge
    from polyrlaif.core.judges.backends import build_backend
    from polyrlaif.core.judges.cache import JudgeCache
    from polyrlaif.domains.spoken_lm.judge import coherence_judge

    path = judge_cache_path(cfg)
    cache = JudgeCache(path) if path else None

    def one(jc: Any) -> Any:  # judge.ensemble's members and judge.active's cheap judge are built alike
        return coherence_judge(
            cfg.domain.judge_mode,
            build_backend(jc),
            cache=cache,
            batch_size=jc.batch_size,
            novelty=cfg.domain.judge_novelty,
        )

    return configured_judge(cfg.judge, one)


def _evaluations(cfg: TrainConfig, world: Path | None, units: str, transcriber: Any) -> list[BenchmarkRun]:
    from polyrlaif.core.registry import get_benchmark
    from polyrlaif.domains.spoken_lm import DOMAIN

    d, j = cfg.domain, cfg.judge
    files: dict[str, dict[str, Any]] = {
        "semantic": {  # the held-out prompts' continuations, transcribed and judged as in the rounds
            "annotations": world / "heldout_prompts.jsonl" if world is not None else d.heldout_prompts,
            "audio": world if world is not None else d.audio_root,
            "transcriber": transcriber,
            "transcribe_with_prompt": d.transcribe_with_prompt,
            "prompt_seconds": d.prompt_seconds,
            "judge_mode": d.judge_mode,
            "judge_backend": j.backend,
            "judge_model": j.model,
            "judge_base_url": j.base_url,
            "judge_batch_size": j.batch_size,
            "judge_novelty": d.judge_novelty,
        }
    }
    if world is not None:
        if "semantic" in d.eval_benchmarks:  # the grammar's check of each continuation
            from polyrlaif.core.io import atomic_write_jsonl
            from polyrlaif.datasets.speech.world import topic_rows

            topics = Path(cfg.run.output_dir) / "heldout_topics.jsonl"
            atomic_write_jsonl(topics, topic_rows(world))
            files["semantic"]["topics"] = topics
        # the StoryCloze indexes name files relative to their own folder
        for name, split in (("storycloze", "sSC"), ("topic_storycloze", "tSC")):
            files[name] = {
                "annotations": world / "storycloze" / f"{split}.csv",
                "audio": world / "storycloze",
            }
        for name, folder in (("swuggy", "zerospeech/lexical/dev"), ("sblimp", "zerospeech/syntactic/dev")):
            files[name] = {"annotations": world / folder / "gold.csv", "audio": world / folder}
    runs = []
    for name in cfg.domain.eval_benchmarks:
        cls = get_benchmark(DOMAIN, name)
        given = files.get(name, {})
        values = {"units": units, **{k: str(v) if isinstance(v, Path) else v for k, v in given.items()}}
        fields = {f.name for f in dataclasses.fields(cls.Options)}
        runs.append(BenchmarkRun(name, cls.Options(**{k: v for k, v in values.items() if k in fields})))
    return runs


def _back_to_words(
    cfg: TrainConfig, prepared: Mapping[str, dict[str, Any]], units: str, transcriber: Any
) -> Any:
    """The ``transcript`` verifier ``domain.back_to_words`` names."""
    from polyrlaif.domains.spoken_lm.judge import (
        SpeechTranscriptVerifier,
        TranscriptVerifier,
        transcript_settings,
    )

    d = cfg.domain
    if d.back_to_words == "transcriber":
        return TranscriptVerifier(
            transcriber, batch_size=cfg.sampling.batch_size, **transcript_settings(d.transcribe_with_prompt)
        )
    from polyrlaif.core.io import read_jsonl
    from polyrlaif.core.models import pick_device

    vocoder, sentences = d.vocoder, None
    if d.synthetic:
        vocoder = f"world:{prepared['vocoder']['vocoder']}"
        if d.asr == "pocketsphinx":  # the ASR's language model: the world's words, from its transcripts
            corpus = Path(prepared["world"]["data_dir"]) / "corpus.jsonl"
            sentences = [r["text"] for r in read_jsonl(corpus, required=("text",))]
    return SpeechTranscriptVerifier(
        vocoder, d.asr, units_dir=units, sentences=sentences, device=pick_device(cfg.model.device)
    )


def build(cfg: TrainConfig, prepared: Mapping[str, dict[str, Any]]) -> DomainBuild:
    """Everything the preference recipe needs for Align-SLM, configured from ``cfg``."""
    from polyrlaif.core.sampling import TextSampler
    from polyrlaif.domains.spoken_lm.data import load_prompts
    from polyrlaif.domains.spoken_lm.judge import transcript_context
    from polyrlaif.domains.spoken_lm.units import UnitTokenizer

    d = cfg.domain
    if d.synthetic:
        world = Path(prepared["world"]["data_dir"])
        prompts_file, audio_root = world / "prompts.jsonl", world
        units, transcriber = prepared["units"]["units"], prepared["transcriber"]["model"]
        starting_model = prepared["unit_lm"]["model"]
    else:
        needed = (
            ("prompts", "units", "transcriber") if d.back_to_words == "transcriber" else ("prompts", "units")
        )
        missing = [k for k in needed if not getattr(d, k)]
        if missing:
            raise ValueError(
                f"domain.{missing[0]} is required without domain.synthetic (see the domain README)"
            )
        world, prompts_file, audio_root = None, Path(d.prompts), Path(d.audio_root)
        units, transcriber, starting_model = d.units, d.transcriber, None
    tokenizer = UnitTokenizer.load(units)
    loaded = load_prompts(prompts_file, audio_root, tokenizer, prompt_seconds=d.prompt_seconds)
    offline = OfflineFeedback(
        sampler=TextSampler.from_config(cfg),
        prompts=loaded.prompts,
        score=coherence_score,
        context=transcript_context,
        verifiers=[_back_to_words(cfg, prepared, units, transcriber)],
        judges=[_judge(cfg)],
    )
    return DomainBuild(
        evaluations=_evaluations(cfg, world, units, transcriber),
        starting_model=starting_model,
        skipped=loaded.skipped,
        offline=offline,
    )
