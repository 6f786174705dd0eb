"""The semantic score of continuations, a benchmark of the `spoken_lm` domain (Align-SLM's GPT-4o score).

Align-SLM rates how well a spoken LM continues held-out spoken prompts: each continuation is turned back
into words and a strong LLM grades it for semantic coherence with the prompt. This is its open stand-in,
through the same parts the training rounds use, so the benchmark measures what the feedback rewards:

held-out spoken prompts (``{"audio", "transcript"[, "prompt_id"]}`` JSONL, as ``domain.prompts``) ->
units -> ``samples`` continuations per prompt from the model -> the unit-to-text transcriber -> the judge
(``judge_mode`` ``yesno``: p(yes) that the continuation follows the story, from a local LLM such as
SmolLM2; ``pointwise``: Align-SLM's 1-5 grade, normalised to [0, 1], through an OpenAI-compatible
endpoint; ``loglik``: the local LLM's geometric-mean token probability of the continuation) ->
``semantic_score``, the mean over prompts of each prompt's mean score.

A continuation the transcriber or the judge could not score is counted (``judge_failures``, with its
reason in ``items.jsonl``), never scored 0; a prompt with no scored continuation is left out of the mean
and counted (``unscored_prompts``). Audio that cannot be read is skipped with its reason in
``skipped.jsonl``. The judge's answers are cached in ``judge_cache.sqlite`` beside the results.

``items.jsonl``: per prompt, ``id``, ``score`` (its mean, or null), the transcripts and each
continuation's score or failure, so the core's bootstrap gives ``semantic_score`` its interval and the
paired difference between rounds.

With ``topics`` (JSONL of ``{"prompt_id", "words", "other_words"}``), a check that reads no judge:
a transcript is on topic when it uses one of its prompt's ``words`` and none of its ``other_words``
(lower-cased words); ``on_topic_rate`` is the mean over prompts of their continuations' share. The
synthetic world writes it from its grammar (each scene's own words, the other scenes' as
``other_words``): the ground truth checking the judge afterwards, never feeding it.

CLI::

    polyrlaif eval --domain spoken_lm --benchmark semantic --model M --annotations heldout_prompts.jsonl \\
        --opt units=UNITS_DIR --opt transcriber=T --opt judge_backend=transformers \\
        --opt judge_model=smollm2-135m-instruct --output O.json
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Literal

from polyrlaif.core.benchmarks import resolve_max_new_tokens, resolve_options
from polyrlaif.core.evidence import ITEMS_FILE
from polyrlaif.core.io import InputError, atomic_write_jsonl
from polyrlaif.core.log import get_logger
from polyrlaif.core.protocols import Direction, EvalRequest
from polyrlaif.core.records import Candidate, PromptRecord

__all__ = ["SemanticEvaluator", "SemanticOptions"]

log = get_logger(__name__)

SKIPPED_FILE = "skipped.jsonl"


@dataclass
class SemanticOptions:
    """The semantic score's options.

    Attributes:
        annotations: the held-out prompts JSONL (``{"audio", "transcript"[, "prompt_id"]}``).
        audio: the folder the prompts' audio paths are relative to (default: the prompts file's folder).
        units: the UnitTokenizer folder that turns the prompts' audio into units.
        transcriber: the unit-to-text model folder that turns continuations back into words.
        topics: a JSONL of per-prompt topic words for ``on_topic_rate`` (see the module docstring).
        transcribe_with_prompt: the transcriber reads each continuation after its prompt's units
            (:class:`~polyrlaif.domains.spoken_lm.judge.TranscriptVerifier`'s ``with_prompt``).
        prompt_seconds: the first seconds of each prompt the model continues (``None``: all of it).
        judge_mode: ``yesno``, ``pointwise`` or ``loglik`` (see the module docstring).
        judge_backend: ``transformers`` (a local LLM) or ``openai`` (an OpenAI-compatible endpoint).
        judge_model: the judge model (a path or name for ``transformers``, the server's name for ``openai``).
        judge_base_url: the endpoint for ``openai`` (its key, if any, from ``OPENAI_API_KEY``).
        judge_batch_size: judge prompts per call.
        judge_novelty: with ``similarity``, weigh the cosine by the share of the continuation's words
            the prompt does not contain (:class:`~polyrlaif.core.judges.similarity.SimilarityJudge`).
    """

    annotations: str | None = None
    audio: str | None = None
    units: str | None = None
    transcriber: str | None = None
    transcribe_with_prompt: bool = False
    topics: str | None = None
    prompt_seconds: float | None = None
    judge_mode: Literal["yesno", "pointwise", "loglik", "pmi", "similarity"] = "yesno"
    judge_backend: Literal["transformers", "openai", "sentence_transformers"] = "transformers"
    judge_model: str = "smollm2-135m-instruct"
    judge_base_url: str = "http://127.0.0.1:8000/v1"
    judge_batch_size: int = 16
    judge_novelty: bool = False

    def __post_init__(self) -> None:
        modes = ("yesno", "pointwise", "loglik", "pmi", "similarity")
        if self.judge_mode not in modes:
            raise ValueError(f"judge_mode must be one of {', '.join(modes)}, got {self.judge_mode!r}")
        backends = ("transformers", "openai", "sentence_transformers")
        if self.judge_backend not in backends:
            raise ValueError(f"judge_backend must be one of {', '.join(backends)}: {self.judge_backend!r}")
        if self.judge_novelty and self.judge_mode != "similarity":
            raise ValueError(f"judge_novelty weighs the similarity judge; judge_mode is {self.judge_mode!r}")
        if self.judge_batch_size < 1:
            raise ValueError(f"judge_batch_size must be >= 1, got {self.judge_batch_size}")
        if self.prompt_seconds is not None and self.prompt_seconds <= 0:
            raise ValueError(f"prompt_seconds must be > 0 or null, got {self.prompt_seconds}")


def _judge(opts: SemanticOptions, out: Path) -> Any:
    from polyrlaif.core.config import JudgeConfig
    from polyrlaif.core.judges.backends import build_backend
    from polyrlaif.core.judges.cache import JudgeCache
    from polyrlaif.domains.spoken_lm.judge import coherence_judge

    cfg = JudgeConfig(backend=opts.judge_backend, model=opts.judge_model, base_url=opts.judge_base_url)
    cache = JudgeCache(out / "judge_cache.sqlite")
    return coherence_judge(
        opts.judge_mode,
        build_backend(cfg),
        cache=cache,
        batch_size=opts.judge_batch_size,
        novelty=opts.judge_novelty,
    )


class SemanticEvaluator:
    """The judge's mean coherence score of the model's continuations of held-out spoken prompts.

    Options: :class:`SemanticOptions`. Returns ``semantic_score`` (mean over scored prompts, in [0, 1]),
    ``transcript_rate`` (continuations whose transcript has words), ``judge_failures`` (continuations
    the transcriber or the judge could not score), ``unscored_prompts``, ``n`` (prompts scored) and
    ``skipped`` (prompts whose audio could not be read).
    """

    name: ClassVar[str] = "semantic"
    Options: ClassVar[type] = SemanticOptions
    metrics: ClassVar[Mapping[str, Direction]] = {
        "semantic_score": "higher",
        "transcript_rate": "higher",
        "on_topic_rate": "higher",
    }
    max_new_tokens: ClassVar[int] = 60  # units: about a sentence of the spoken world

    def evaluate(self, policy: Any, request: EvalRequest) -> dict[str, float]:
        """Continue, transcribe and judge every held-out prompt; write ``items.jsonl`` and the metrics.

        Raises:
            ValueError: no model (this benchmark generates), or a missing option.
            InputError: a bad prompts file (naming file, line and field), before any model loads.
        """
        from polyrlaif.domains.spoken_lm.data import load_prompts
        from polyrlaif.domains.spoken_lm.judge import (
            TranscriptVerifier,
            transcript_context,
            transcript_settings,
        )
        from polyrlaif.domains.spoken_lm.units import UnitTokenizer
        from polyrlaif.evaluation.tables import write_metrics

        opts: SemanticOptions = resolve_options(self, request.options)
        if policy is None:
            raise ValueError("semantic generates continuations: give --model M (a unit LM)")
        missing = [k for k in ("annotations", "units", "transcriber") if not getattr(opts, k)]
        if missing:
            raise ValueError(f"semantic needs --opt {missing[0]}=... (see the module docstring)")
        prompts_file = Path(opts.annotations)  # type: ignore[arg-type]
        if not prompts_file.is_file():
            raise InputError(f"{prompts_file}: the held-out prompts file does not exist")
        out = Path(request.output_dir)
        out.mkdir(parents=True, exist_ok=True)
        tokenizer = UnitTokenizer.load(opts.units)  # type: ignore[arg-type]
        root = Path(opts.audio) if opts.audio else prompts_file.parent
        loaded = load_prompts(prompts_file, root, tokenizer, prompt_seconds=opts.prompt_seconds)
        prompts = loaded.prompts[: request.limit or None]
        atomic_write_jsonl(out / SKIPPED_FILE, loaded.skipped)

        n = request.samples
        texts = policy.generate(
            [[{"role": "user", "content": p.text}] for p in prompts],
            n=n,
            temperature=request.temperature,
            max_new_tokens=resolve_max_new_tokens(self, request.max_new_tokens),
            seed=request.seed,
        )
        cands = [
            Candidate(f"{p.prompt_id}/{j}", p.prompt_id, t)
            for p, outs in zip(prompts, texts, strict=True)
            for j, t in enumerate(outs)
        ]
        by_id = {p.prompt_id: p for p in prompts}
        settings = transcript_settings(opts.transcribe_with_prompt)
        transcriber = TranscriptVerifier(opts.transcriber, batch_size=request.batch_size, **settings)
        said = transcriber.verify(by_id, cands)
        ctxs = [transcript_context(by_id[c.prompt_id], c, [s]) for c, s in zip(cands, said, strict=True)]
        judged = _judge(opts, out).judge(by_id, cands, ctxs)
        items = _items(prompts, cands, said, judged, n)
        if opts.topics:
            _mark_topics(items, _read_topics(opts.topics))
        atomic_write_jsonl(out / ITEMS_FILE, items)
        metrics = {
            **self.aggregate(items),
            "judge_failures": float(sum(len(r["failures"]) for r in items)),
            "unscored_prompts": float(sum(r["score"] is None for r in items)),
            "skipped": float(len(loaded.skipped)),
        }
        metrics.setdefault("semantic_score", math.nan)
        write_metrics(out, metrics)
        log.info(
            f"semantic: score {metrics['semantic_score']:.4f} over {int(metrics.get('n', 0))} prompts "
            f"({int(metrics['judge_failures'])} continuations unscored, {len(loaded.skipped)} skipped)"
        )
        return metrics

    @staticmethod
    def aggregate(rows: Sequence[Mapping[str, Any]]) -> dict[str, float]:
        """``semantic_score`` (mean of the scored prompts' means), ``transcript_rate`` and ``n``."""
        scored = [float(r["score"]) for r in rows if r.get("score") is not None]
        made = sum(int(r.get("transcribed", 0)) for r in rows)
        total = sum(int(r.get("samples", 0)) for r in rows)
        out: dict[str, float] = {"n": float(len(scored))}
        if scored:
            out["semantic_score"] = sum(scored) / len(scored)
        if total:
            out["transcript_rate"] = made / total
        topical = [sum(r["on_topic"]) / len(r["on_topic"]) for r in rows if r.get("on_topic")]
        if topical:
            out["on_topic_rate"] = sum(topical) / len(topical)
        return out


def _read_topics(path: str) -> dict[str, tuple[set[str], set[str]]]:
    """prompt_id -> (its words, the words that take a continuation off its topic)."""
    from polyrlaif.core.io import read_jsonl

    rows = read_jsonl(path, required=("prompt_id", "words", "other_words"))
    return {
        str(r["prompt_id"]): ({w.lower() for w in r["words"]}, {w.lower() for w in r["other_words"]})
        for r in rows
    }


def _mark_topics(items: list[dict[str, Any]], topics: Mapping[str, tuple[set[str], set[str]]]) -> None:
    """Each item's ``on_topic``: per transcript, whether it uses a topic word and no other topic's."""
    for item in items:
        if item["id"] not in topics:
            continue
        own, other = topics[item["id"]]
        said = [set(re.findall(r"[a-z]+", t.lower())) for t in item["transcripts"]]
        item["on_topic"] = [bool(w & own) and not (w & other) for w in said]


def _items(
    prompts: Sequence[PromptRecord],
    cands: Sequence[Candidate],
    said: Sequence[Any],
    judged: Sequence[Any],
    n: int,
) -> list[dict[str, Any]]:
    """One row per prompt: its continuations' transcripts, scores and failures, and their mean score."""
    rows = []
    for i, p in enumerate(prompts):
        part = range(i * n, (i + 1) * n)
        scores, failures, transcripts = [], [], []
        for k in part:
            words = said[k].scores.get("transcript", "") if said[k].ok else ""
            transcripts.append(words)
            reason = said[k].failure or judged[k].failure
            if reason:
                failures.append({"candidate_id": cands[k].candidate_id, "reason": reason})
                scores.append(None)
            else:
                scores.append(float(judged[k].score))
        known = [s for s in scores if s is not None]
        rows.append(
            {
                "id": p.prompt_id,
                "prompt_transcript": p.meta.get("transcript", ""),
                "transcripts": transcripts,
                "scores": scores,
                "failures": failures,
                "samples": n,
                "transcribed": sum(bool(t) for t in transcripts),
                "score": sum(known) / len(known) if known else None,
            }
        )
    return rows
