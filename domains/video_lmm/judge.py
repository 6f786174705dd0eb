"""The context-aware judge of the `video_lmm` domain (VLM-RLAIF).

A multimodal model of the same kind as the policy judges each answer to a (video, question) prompt while
reading a *detailed description of the video* as context: p(yes) that the answer is right, from the
judge's next-token logits, with the video's frames and the description in the prompt (the description
is part of the prompt's hash, so the cache tells the two apart). Every judgment is also asked without the
description; :class:`ContextAwareJudge` counts, per prompt, how often the two orderings of its answers
disagree: ``context_flip_rate`` is the description's measured effect on the feedback, the paper's
central claim. ``use_context=False`` makes the no-description judge the one that scores (the ablation).

``scoring="answer"`` asks the judge the question itself instead (with the answer words to choose from,
the prompt's ``meta["answers"]``): an answer's score is the judge's probability of that word among them.
Each prompt is asked once whatever the number of its answers (one forward pass, or one request with
``top_logprobs``, reads every answer word). A judge trained to answer from the description
(:func:`polyrlaif.core.trainers.completion.completion_train`) reads it far better than one trained on
yes/no verdicts (docs/benchmarks.md, video_lmm).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import combinations
from typing import Any, Literal

from polyrlaif.core.io import sha256_text
from polyrlaif.core.judges.modes import BaseJudge, JudgeStats
from polyrlaif.core.records import Candidate, Judgment, PromptRecord
from polyrlaif.domains.video_lmm.prompts import (
    ANSWER_TEMPLATE,
    ANSWER_TEMPLATE_NO_CONTEXT,
    JUDGE_TEMPLATE,
    JUDGE_TEMPLATE_NO_CONTEXT,
)

__all__ = ["ContextAwareJudge", "ContextJudgeStats", "answer_failure"]


def _said(text: str) -> str:
    """An answer as compared with answer words: lower-cased, without a final full stop."""
    return text.strip().lower().rstrip(".").strip()


def answer_failure(text: str, answers: Sequence[str] | None = None) -> str | None:
    """Why an answer is a failed one: ``"empty"`` (nothing but whitespace), ``"off_vocabulary"`` (not one
    of ``answers``, compared lower-cased without a final full stop), or ``None`` when it is an answer."""
    said = _said(text)
    if not said:
        return "empty"
    if answers is not None and said not in {a.lower() for a in answers}:
        return "off_vocabulary"
    return None


@dataclass
class ContextJudgeStats(JudgeStats):
    """Judge counters plus the description's effect: answer pairs compared, and those whose order flips
    when the description is removed."""

    context_comparisons: int = 0
    context_flips: int = 0
    empty_answers: int = 0
    off_vocabulary_answers: int = 0

    def as_dict(self) -> dict[str, Any]:
        """Counters plus ``context_flip_rate``."""
        out = super().as_dict()
        out["context_flip_rate"] = (
            self.context_flips / self.context_comparisons if self.context_comparisons else 0.0
        )
        return out


def _video(prompt: PromptRecord) -> list[str]:
    return [m.uri for m in prompt.media if m.kind == "video"][:1]


class ContextAwareJudge(BaseJudge):
    """``score`` = p(yes) that the answer is right, the judge seeing the video and its description
    (``scores``: ``p_yes``, ``p_yes_no_context``).

    Args:
        backend: a judge backend that reads videos (``transformers_vlm``: frames as images or a video).
        use_context: score with the description (VLM-RLAIF) or without it (the ablation).
        scoring: ``yes_no``, p(yes) that the answer is right; or ``answer``, the judge's probability of
            the answer among the prompt's answer words (``meta["answers"]``; a prompt without them fails
            its judgments with a reason).
        cache: optional answer cache.
        batch_size: judge prompts per backend call.
    """

    mode = "context_yesno"
    kind = "yesno"
    default_template = JUDGE_TEMPLATE
    required_fields = frozenset({"question", "answer"})
    allowed_fields = frozenset({"description", "question", "answer"})
    scoring: str = "yes_no"

    def __init__(
        self,
        backend: Any,
        *,
        use_context: bool = True,
        scoring: Literal["yes_no", "answer"] = "yes_no",
        **kwargs: Any,
    ) -> None:
        if scoring not in ("yes_no", "answer"):
            raise ValueError(f"scoring must be 'yes_no' or 'answer', got {scoring!r}")
        self.use_context, self.scoring = use_context, scoring
        super().__init__(backend, **kwargs)

    def _new_stats(self) -> JudgeStats:
        return ContextJudgeStats()

    def _spec(self) -> dict[str, Any]:
        if self.scoring == "answer":
            return {"use_context": self.use_context, "scoring": "answer",
                    "templates": [ANSWER_TEMPLATE, ANSWER_TEMPLATE_NO_CONTEXT]}  # fmt: skip
        return {"use_context": self.use_context, "no_context_template": JUDGE_TEMPLATE_NO_CONTEXT}

    def judge(
        self,
        prompts: Mapping[str, PromptRecord],
        candidates: Sequence[Candidate],
        contexts: Sequence[dict[str, Any]] | None = None,
    ) -> list[Judgment]:
        """One judgment per candidate, in order.

        An empty answer (nothing but whitespace), or one outside the prompt's ``meta["answers"]`` where
        it has them, is never put to the model: it scores 0, the lowest p(yes), and is counted
        (``empty_answers``, ``off_vocabulary_answers``), so that it can lose a pair but never win one.
        """
        stats: ContextJudgeStats = self.stats  # type: ignore[assignment]
        failed = {id(c): answer_failure(c.text, prompts[c.prompt_id].meta.get("answers")) for c in candidates}
        asked = [c for c in candidates if failed[id(c)] is None]
        ask = self._answers if self.scoring == "answer" else self._verdicts
        answers = ask(prompts, asked)
        index = {id(c): i for i, c in enumerate(asked)}
        out = []
        for c in candidates:
            if id(c) not in index:
                j = Judgment(c.candidate_id, self.judge_id, self.kind, c.prompt_id, score=0.0)
                j.scores = {"p_yes": 0.0, "p_yes_no_context": 0.0, "empty_answer": 1.0}
                if failed[id(c)] == "empty":
                    stats.empty_answers += 1
                else:
                    stats.off_vocabulary_answers += 1
                out.append(j)
                continue
            i = index[id(c)]
            with_ctx, without = answers[2 * i], answers[2 * i + 1]
            chosen = with_ctx if self.use_context else without
            key = sha256_text(with_ctx.prompt_hash + without.prompt_hash)
            j = Judgment(c.candidate_id, self.judge_id, self.kind, c.prompt_id, cached=chosen.cached)
            j.judge_prompt_hash = key
            if chosen.raw is None or chosen.raw.get("p_yes") is None:
                j.failure = chosen.error or "backend_error: no probability"
                self.stats.fail(j.failure)
            else:
                j.score = float(chosen.raw["p_yes"])
                other = (without if self.use_context else with_ctx).raw or {}
                j.scores = {
                    "p_yes": (with_ctx.raw or {}).get("p_yes"),
                    "p_yes_no_context": (without.raw or {}).get("p_yes"),
                }
                j.scores["other"] = other.get("p_yes")
            out.append(j)
        self._count_flips(out)
        self.stats.judgments += len(out)
        return out

    def _verdicts(self, prompts: Mapping[str, PromptRecord], asked: Sequence[Candidate]) -> list[Any]:
        """p(yes) with and without the description, two answers per candidate."""
        texts, images = [], []
        for c in asked:
            p = prompts[c.prompt_id]
            description = p.meta.get("description") or "(none)"
            texts.append(self.template.format(description=description, question=p.text, answer=c.text))
            texts.append(JUDGE_TEMPLATE_NO_CONTEXT.format(question=p.text, answer=c.text))
            images += [_video(p)] * 2
        return self._ask_yes_no(texts, yes=("yes", "Yes"), no=("no", "No"), images=images) if texts else []

    def _answers(self, prompts: Mapping[str, PromptRecord], asked: Sequence[Candidate]) -> list[Any]:
        """The judge's probability of each candidate's answer word, with and without the description, as
        answers whose ``raw["p_yes"]`` holds it (two per candidate). Each prompt is asked once; the
        probability of a word is its next-token mass over the answer words' (the backend's
        :meth:`~polyrlaif.core.judges.backends.JudgeBackend.choices`: one forward pass, or one request)."""
        from polyrlaif.core.judges.modes import Answer

        by_words: dict[tuple[str, ...], list[int]] = defaultdict(list)
        texts, images = [], []
        for c in asked:
            p = prompts[c.prompt_id]
            words = tuple(p.meta.get("answers") or ())
            options = ", ".join(words)
            description = p.meta.get("description") or "(none)"
            texts.append(ANSWER_TEMPLATE.format(description=description, question=p.text, options=options))
            texts.append(ANSWER_TEMPLATE_NO_CONTEXT.format(question=p.text, options=options))
            images += [_video(p)] * 2
            by_words[words] += [len(texts) - 2, len(texts) - 1]
        out: list[Any] = [None] * len(texts)
        for words, idx in by_words.items():
            if not words:
                for i in idx:
                    out[i] = Answer("", None, error="no_answer_words: answer scoring needs meta['answers']")
                continue
            got = self._ask([texts[i] for i in idx], self._word_probs(words), [images[i] for i in idx])
            for i, a in zip(idx, got, strict=True):
                out[i] = a
        for i, (a, c) in enumerate(zip(out, [c for c in asked for _ in (0, 1)], strict=True)):
            if a.raw is not None:
                said = _said(c.text)
                probs = {w.lower(): v for w, v in a.raw["probs"].items()}
                out[i] = Answer(a.prompt_hash, {**a.raw, "p_yes": probs.get(said)}, cached=a.cached,
                                error=None if said in probs else f"answer_not_scored: {said!r}")  # fmt: skip
        return out

    def _word_probs(self, words: tuple[str, ...]) -> Any:
        def call(convs: list[list[dict[str, Any]]]) -> list[dict[str, Any] | str]:
            outs = self.backend.choices(convs, words=words)
            return [{"probs": o.probs} if o.ok else (o.error or "backend_error") for o in outs]

        return call

    def _count_flips(self, judgments: Sequence[Judgment]) -> None:
        """Per prompt, the answer pairs whose order by p(yes) differs with and without the description."""
        by_prompt: dict[str, list[Judgment]] = defaultdict(list)
        for j in judgments:
            if (
                j.ok
                and j.scores.get("p_yes") is not None
                and j.scores.get("p_yes_no_context") is not None
                and not j.scores.get("empty_answer")
            ):
                by_prompt[j.prompt_id].append(j)
        stats: ContextJudgeStats = self.stats  # type: ignore[assignment]
        for group in by_prompt.values():
            for a, b in combinations(group, 2):
                d_ctx = a.scores["p_yes"] - b.scores["p_yes"]
                d_none = a.scores["p_yes_no_context"] - b.scores["p_yes_no_context"]
                if d_ctx == 0:
                    continue
                stats.context_comparisons += 1
                stats.context_flips += (d_ctx > 0) != (d_none > 0)
