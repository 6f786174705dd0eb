"""Judging continuations of the `spoken_lm` domain (Align-SLM): back to words, then an LLM grades them.

A unit LM continues a spoken prompt as units, which no LLM reads. :class:`TranscriptVerifier` turns each
continuation back into words with a unit-to-text transcriber (a causal LM prompted with the units; the
synthetic world trains one on its own (units, transcript) pairs); the judges then grade the transcript
against the prompt's transcript, which the judge context always carries:

* :class:`CoherenceYesNoJudge`: p(yes) that the continuation follows the story, from a local LLM's
  next-token logits (SmolLM2-135M ships here and is a real LLM for this);
* :class:`CoherencePointwiseJudge`: Align-SLM's 1-5 grade of semantic coherence through any backend,
  e.g. an OpenAI-compatible endpoint.

Both go through the core judge layer: answer cache keyed by the rendered prompt, judge ids with the
template hash, failure reasons.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from polyrlaif.core.judges.pointwise import PointwiseJudge, Rubric
from polyrlaif.core.judges.yesno import YesNoJudge
from polyrlaif.core.records import Candidate, Judgment, PromptRecord

__all__ = [
    "ALIGN_SLM_RUBRIC",
    "COHERENCE_TEMPLATE",
    "CoherencePointwiseJudge",
    "CoherenceYesNoJudge",
    "TranscriptVerifier",
    "transcript_context",
]

COHERENCE_TEMPLATE = """\
Here is the beginning of a short story:
{prompt}

Here is how someone continued it:
{response}

Does the continuation follow sensibly from the beginning of the story, with the same characters, places \
and events? Answer Yes or No."""

#: Align-SLM's semantic judgement as a rubric: one criterion on a 1-5 scale.
ALIGN_SLM_RUBRIC = Rubric(
    name="align_slm_semantic",
    criteria=(
        (
            "coherence",
            "how well the continuation follows the prompt semantically: same characters, places and "
            "events, a sensible next step of the story, grammatical (1: unrelated or nonsense, 5: a "
            "natural continuation)",
        ),
    ),
    scale_min=1,
    scale_max=5,
)


def transcript_context(prompt: PromptRecord, cand: Candidate, verdicts: list[Judgment]) -> dict[str, Any]:
    """What the judges see: the prompt's transcript and the continuation's transcript."""
    said = next((j for j in verdicts if j.judge_id == TranscriptVerifier.name), None)
    return {
        "prompt_transcript": prompt.meta.get("transcript", ""),
        "continuation_transcript": said.scores.get("transcript", "") if said is not None and said.ok else "",
    }


class TranscriptVerifier:
    """Transcribes each continuation (units) into words with a unit-to-text model, greedily.

    ``score`` is 1 when the transcript has words and 0 when it is empty (reported as ``transcript_rate``);
    the transcript is in ``scores["transcript"]``. A transcriber failure fails the judgment, holding the
    candidate back (the judge would read nothing).

    Args:
        transcriber: a unit-to-text model folder (loaded on first use, through the domain's adapter), or
            a loaded text policy over unit prompts (``generate(conversations, ...)``).
        max_new_tokens: the longest transcript, in tokens.
        batch_size: continuations per generation call.
    """

    name = "transcript"

    def __init__(self, transcriber: Any, *, max_new_tokens: int = 32, batch_size: int = 32) -> None:
        self.transcriber, self.max_new_tokens, self.batch_size = transcriber, max_new_tokens, batch_size

    def _model(self) -> Any:
        if isinstance(self.transcriber, (str, bytes)) or hasattr(self.transcriber, "__fspath__"):
            from polyrlaif.domains.spoken_lm.adapter import ADAPTER

            self.transcriber = ADAPTER.load(str(self.transcriber), batch_size=self.batch_size)
        return self.transcriber

    def verify(self, prompts: Mapping[str, PromptRecord], candidates: Sequence[Candidate]) -> list[Judgment]:
        """One judgment per candidate, in order."""
        convs = [[{"role": "user", "content": c.text}] for c in candidates]
        try:
            model = self._model()
            outs = model.generate(convs, n=1, temperature=0.0, max_new_tokens=self.max_new_tokens)
        except Exception as exc:  # the whole batch failed: every candidate says why
            reason = f"transcriber_error: {type(exc).__name__}: {exc}"
            return [
                Judgment(c.candidate_id, self.name, "verifier", c.prompt_id, failure=reason)
                for c in candidates
            ]
        out = []
        for c, texts in zip(candidates, outs, strict=True):
            words = " ".join(texts[0].split())
            out.append(
                Judgment(
                    c.candidate_id,
                    self.name,
                    "verifier",
                    c.prompt_id,
                    score=float(bool(words)),
                    scores={"transcript": words},
                    rationale=words,
                )  # fmt: skip
            )
        return out


def _transcripts(context: Mapping[str, Any] | None) -> tuple[str, str]:
    ctx = context or {}
    return str(ctx.get("prompt_transcript", "")), str(ctx.get("continuation_transcript", "")) or "(nothing)"


class CoherenceYesNoJudge(YesNoJudge):
    """p(yes) that the continuation's transcript follows the prompt's (template :data:`COHERENCE_TEMPLATE`;
    ``{prompt}`` and ``{response}`` are the two transcripts from the judge context)."""

    default_template = COHERENCE_TEMPLATE
    allowed_fields = frozenset({"prompt", "response"})

    def render(self, prompt: PromptRecord, candidate: Candidate, context: Mapping[str, Any] | None) -> str:
        """The judge prompt: the two transcripts in the template."""
        said, continued = _transcripts(context)
        return self.template.format(prompt=said, response=continued)


class CoherencePointwiseJudge(PointwiseJudge):
    """Align-SLM's pointwise grade (:data:`ALIGN_SLM_RUBRIC`, 1-5) of the continuation's transcript
    against the prompt's, normalised to [0, 1] like every pointwise judge."""

    def render(self, prompt: PromptRecord, candidate: Candidate, context: Mapping[str, Any] | None) -> str:
        """The judge prompt: the rubric over the two transcripts."""
        said, continued = _transcripts(context)
        stand_in = PromptRecord(prompt_id=prompt.prompt_id, text=f"Continue this story: {said}")
        return super().render(stand_in, Candidate(candidate.candidate_id, candidate.prompt_id, continued), {})
