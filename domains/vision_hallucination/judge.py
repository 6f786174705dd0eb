"""RLAIF-V's divide-and-conquer judge: split a response into claims, ask a labeler about each one.

1. an extractor splits the response into atomic claims and rewrites each as a yes/no question
   (:mod:`polyrlaif.domains.vision_hallucination.claims`: an LLM, or the rule-based splitter);
2. optionally a cheap checker (open_clip) scores each claim against the image; confident claims are
   settled there and only uncertain ones escalate (the cascade), which saves labeler calls;
3. the labeler, a multimodal model, sees the image and the question; p(yes) against p(no) is read from
   its next-token logits (the core's yes/no mode) and a claim with p(yes) below the threshold is rejected;
4. the response's score is minus the number of rejected claims.

Labeler answers go through the core judge cache, keyed by the question and the image's bytes, so a rerun
replays them without model calls. A labeler failure on any claim leaves the response unscored, with the
reason, rather than guessing; so does a missing or unreadable image, which is found before any model
call (``missing_image: <path>`` / ``unreadable_image: <path>``) so that it cannot fail the other claims
of a labeler batch.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

from polyrlaif.core.io import sha256_text
from polyrlaif.core.judges.backends import JudgeBackend
from polyrlaif.core.judges.cache import JudgeCache
from polyrlaif.core.judges.modes import BaseJudge, JudgeStats, judge_prompt_key
from polyrlaif.core.records import Candidate, Judgment, PromptRecord
from polyrlaif.domains.vision_hallucination.claims import ClaimExtractor
from polyrlaif.domains.vision_hallucination.prompts import LABELER_QUESTION_TEMPLATE

__all__ = ["ClaimChecker", "ClaimJudgeStats", "DivideConquerJudge", "image_paths"]


class ClaimChecker(Protocol):
    """A cheap first-stage claim checker: p(claim is true) for each (image, claim), or None."""

    checker_id: str

    def p_true(self, images: Sequence[str], claims: Sequence[str]) -> list[float | None]:
        """One probability per (image path, claim text) pair."""
        ...


@dataclass
class ClaimJudgeStats(JudgeStats):
    """Judge counters plus the claim-level ones: how many claims, how many rejected, and how many the
    cheap checker settled (each one a labeler call saved)."""

    claims: int = 0
    rejected: int = 0
    settled_by_checker: int = 0
    escalated: int = 0

    def as_dict(self) -> dict[str, Any]:
        """Counters plus the share of claims the cascade kept from the labeler."""
        out = super().as_dict()
        out["labeler_calls_saved_rate"] = self.settled_by_checker / self.claims if self.claims else 0.0
        return out


def image_paths(prompt: PromptRecord) -> list[str]:
    """The image files a prompt is about."""
    return [m.uri for m in prompt.media if m.kind == "image"]


def _image_problem(path: str) -> str | None:
    """Why an image cannot be shown to a model (``"<reason>: <detail>"``), or None when it can."""
    from PIL import Image

    try:
        with Image.open(path) as img:
            img.verify()
    except FileNotFoundError:
        return f"missing_image: image file not found: {path}"
    except Exception as exc:  # PIL raises many types for a corrupt file
        return f"unreadable_image: {path}: {type(exc).__name__}: {exc}"
    return None


def _probability(p: float | None) -> float | None:
    """A checker's value as a probability, or None (escalate) when it is not a finite one in [0, 1]."""
    if p is None:
        return None
    p = float(p)
    return p if math.isfinite(p) and 0.0 <= p <= 1.0 else None


class DivideConquerJudge(BaseJudge):
    """Claim-level feedback: score = - (claims the labeler rejects).

    Args:
        labeler: a multimodal :class:`~polyrlaif.core.judges.backends.JudgeBackend` with ``yes_no``.
        extractor: splits responses into claims and questions.
        threshold: a claim is rejected when p(yes) < threshold.
        checker: optional cheap first stage (the cascade).
        band: ``(low, high)``: the checker settles a claim as false below ``low`` and true above
            ``high``; in between it escalates to the labeler.
        template: the labeler prompt, with a ``{question}`` slot.
        cache: judge cache for the labeler's answers.
        batch_size: questions per labeler call.
        progress: show a progress bar.
        min_claims: a response with fewer claims is left unscored (``failure`` ``no_claims``), so
            that an empty or garbled answer, which no labeler can reject, never wins a pair.
    """

    mode: ClassVar[str] = "claims"
    kind: ClassVar[str] = "claims"
    default_template: ClassVar[str] = LABELER_QUESTION_TEMPLATE
    required_fields: ClassVar[frozenset[str]] = frozenset({"question"})
    allowed_fields: ClassVar[frozenset[str]] = frozenset({"question"})

    def __init__(
        self,
        labeler: JudgeBackend,
        extractor: ClaimExtractor,
        *,
        threshold: float = 0.5,
        checker: ClaimChecker | None = None,
        band: tuple[float, float] = (0.2, 0.8),
        template: str | None = None,
        cache: JudgeCache | None = None,
        batch_size: int = 32,
        progress: bool = True,
        min_claims: int = 1,
    ) -> None:
        self.extractor = extractor
        self.threshold = threshold
        self.min_claims = min_claims
        self.checker = checker
        self.band = (float(band[0]), float(band[1]))
        super().__init__(labeler, template=template, cache=cache, batch_size=batch_size, progress=progress)

    def _new_stats(self) -> ClaimJudgeStats:
        return ClaimJudgeStats()

    def _spec(self) -> dict[str, Any]:
        return {
            "extractor": self.extractor.extractor_id,
            "threshold": self.threshold,
            "checker": self.checker.checker_id if self.checker else None,
            "min_claims": self.min_claims,
            "band": self.band if self.checker else None,
        }

    def judge(
        self,
        prompts: Mapping[str, PromptRecord],
        candidates: Sequence[Candidate],
        contexts: Sequence[dict[str, Any]] | None = None,
    ) -> list[Judgment]:
        """One judgment per candidate: its claims, each claim's p(yes) and verdict, and the score."""
        stats: ClaimJudgeStats = self.stats  # type: ignore[assignment]
        ctxs = self._contexts(len(candidates), contexts)
        sets = self.extractor.extract([(prompts[c.prompt_id].text, c.text) for c in candidates])
        flat = [(i, claim) for i, s in enumerate(sets) for claim in s.claims]
        imgs = [image_paths(prompts[candidates[i].prompt_id]) for i, _ in flat]
        texts = [self.template.format(question=claim.question) for _, claim in flat]
        stats.claims += len(flat)

        # a missing or unreadable image fails its claims here: in a labeler batch it would fail them all
        problems = {p: _image_problem(p) for im in imgs for p in im}
        bad: dict[int, str] = {}
        for k, im in enumerate(imgs):
            failure = next((problems[p] for p in im if problems[p]), None)
            if failure:
                bad[k] = failure
        good = [k for k in range(len(flat)) if k not in bad]

        # the cascade: the cheap checker settles confident claims; the rest go to the labeler
        p_cheap: dict[int, float | None] = {}
        if self.checker is not None and good:
            got = self.checker.p_true(
                [imgs[k][0] if imgs[k] else "" for k in good], [flat[k][1].text for k in good]
            )
            if len(got) != len(good):
                raise ValueError(
                    f"checker {self.checker.checker_id}: {len(got)} values for {len(good)} claims"
                )
            p_cheap = {k: _probability(p) for k, p in zip(good, got, strict=True)}
        low, high = self.band
        escalate = [k for k in good if (p := p_cheap.get(k)) is None or low <= p <= high]
        stats.settled_by_checker += len(good) - len(escalate) if self.checker else 0
        stats.escalated += len(escalate) if self.checker else 0
        answers = self._ask_yes_no(
            [texts[k] for k in escalate],
            yes=("yes", "Yes"),
            no=("no", "No"),
            images=[imgs[k] for k in escalate],
        )
        by_k = dict(zip(escalate, answers, strict=True))

        per_cand: list[list[dict[str, Any]]] = [[] for _ in candidates]
        keys: list[list[str]] = [[] for _ in candidates]
        for k, (i, claim) in enumerate(flat):
            row: dict[str, Any] = {"claim": claim.text, "question": claim.question, "source": claim.source}
            ans = by_k.get(k)
            if k in bad:
                row.update(p_yes=None, by="input", failure=bad[k])
            elif ans is None:  # settled by the checker
                row.update(p_yes=p_cheap[k], by="checker")
            elif ans.raw is None or ans.raw.get("p_yes") is None:
                row.update(p_yes=None, by="labeler", failure=ans.error or "labeler_error: no probability")
            else:
                row.update(p_yes=float(ans.raw["p_yes"]), by="labeler", cached=ans.cached)
            keys[i].append(judge_prompt_key(texts[k], imgs[k]))  # the labeler's cache key
            per_cand[i].append(row)

        out = []
        for i, cand in enumerate(candidates):
            rows = per_cand[i]
            j = Judgment(
                candidate_id=cand.candidate_id,
                judge_id=self.judge_id,
                kind=self.kind,
                prompt_id=cand.prompt_id,
                judge_prompt_hash=sha256_text("\n".join(keys[i])),
                context=ctxs[i],
                cached=bool(rows) and all(r.get("cached") for r in rows),
            )
            failed = [r for r in rows if r.get("p_yes") is None]
            if failed:
                j.failure = str(failed[0]["failure"])
                self.stats.fail(j.failure)
            elif len(rows) < self.min_claims:
                # a response that makes no checkable claim cannot be scored by counting rejected ones:
                # scoring it 0 would make saying nothing the best answer (a reward hack)
                j.failure = f"no_claims: {len(rows)} claim(s) found, {self.min_claims} needed"
                self.stats.fail(j.failure)
            else:
                rejected = [r for r in rows if r["p_yes"] < self.threshold]
                for r in rows:
                    r["rejected"] = r["p_yes"] < self.threshold
                stats.rejected += len(rejected)
                j.score = float(-len(rejected))  # no claims: 0.0, not -0.0
            j.scores = {
                "n_claims": len(rows),
                "n_rejected": sum(1 for r in rows if r.get("rejected")),
                "claims": rows,
                "extraction_failure": sets[i].failure,
            }
            out.append(j)
        self.stats.judgments += len(out)
        return out
