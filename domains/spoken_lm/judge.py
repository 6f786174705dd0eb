"""Judging continuations of the `spoken_lm` domain (Align-SLM): back to words, then an LLM grades them.

A unit LM continues a spoken prompt as units, which no LLM reads. A verifier named ``transcript`` turns
each continuation back into words, in one of two ways (``domain.back_to_words``):

* :class:`TranscriptVerifier`: a unit-to-text transcriber (a causal LM prompted with the units; the
  synthetic world trains one on its own (units, transcript) pairs);
* :class:`SpeechTranscriptVerifier`: through speech, as Align-SLM does: a unit vocoder speaks the units
  (:mod:`.vocoder`) and a real ASR writes down what it hears (:mod:`.asr`).

The judges then grade the transcript against the prompt's transcript, which the judge context always
carries:

* :class:`CoherenceYesNoJudge`: p(yes) that the continuation follows the story, from a local LLM's
  next-token logits (SmolLM2-135M ships here and is a real LLM for this);
* :class:`CoherencePointwiseJudge`: Align-SLM's 1-5 grade of semantic coherence through any backend,
  e.g. an OpenAI-compatible endpoint.

Both go through the core judge layer: answer cache keyed by the rendered prompt, judge ids with the
template hash, failure reasons.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from polyrlaif.core.judges.loglik import LogLikelihoodJudge
from polyrlaif.core.judges.pointwise import PointwiseJudge, Rubric
from polyrlaif.core.judges.similarity import SimilarityJudge
from polyrlaif.core.judges.yesno import YesNoJudge
from polyrlaif.core.log import get_logger
from polyrlaif.core.records import Candidate, Judgment, PromptRecord

__all__ = [
    "after_prompt",
    "ALIGN_SLM_RUBRIC",
    "COHERENCE_TEMPLATE",
    "CoherenceLogLikelihoodJudge",
    "CoherencePointwiseJudge",
    "CoherenceYesNoJudge",
    "coherence_judge",
    "sentences",
    "SpeechTranscriptVerifier",
    "TranscriptVerifier",
    "transcript_context",
    "transcript_settings",
]

log = get_logger(__name__)

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


def sentences(text: str) -> list[str]:
    """``text`` split after each ``.``, ``!`` or ``?`` followed by space."""
    return [s.strip() for s in re.split(r"(?<=[.!?])\s+", text) if s.strip()]


def after_prompt(transcript: str, prompt_transcript: str) -> str:
    """The words of ``transcript`` (of a prompt and its continuation, read as one) after the prompt's:
    its first k sentences dropped, k the prompt transcript's sentence count, or, when the transcript has
    no more sentences than that (a transcriber that writes no full stops), its first n words, n the
    prompt transcript's word count."""
    k, parts = len(sentences(prompt_transcript)), sentences(transcript)
    if len(parts) > k:
        return " ".join(" ".join(parts[k:]).split())
    return " ".join(transcript.split()[len(prompt_transcript.split()) :])


def transcript_settings(with_prompt: bool) -> dict[str, Any]:
    """:class:`TranscriptVerifier`'s keywords for a run: in context, room for the prompt's words too."""
    return {"with_prompt": True, "max_new_tokens": 96} if with_prompt else {}


class TranscriptVerifier:
    """Transcribes each continuation (units) into words with a unit-to-text model, greedily.

    ``score`` is 1 when the transcript has words and 0 when it is empty (reported as ``transcript_rate``);
    the transcript is in ``scores["transcript"]``. A transcriber failure fails the judgment, holding the
    candidate back (the judge would read nothing).

    With ``with_prompt``, the transcriber reads the prompt's units and then the continuation's, as one
    utterance, and the transcript keeps what follows the prompt: its first k sentences are dropped, k
    being the number of sentences in the prompt's own transcript (``meta["transcript"]``; see
    :func:`after_prompt`). A transcriber trained on whole utterances (the synthetic world's, on whole
    stories) reads a continuation alone as the start of a new one: on 200 continuations of the spoken
    world's unit LM it made up a new story's opening for nearly all of them, and named the prompt's
    scene in 4.5% (46.5% in context).

    Args:
        transcriber: a unit-to-text model folder (loaded on first use, through the domain's adapter), or
            a loaded text policy over unit prompts (``generate(conversations, ...)``).
        max_new_tokens: the longest transcript, in tokens (with ``with_prompt``, the prompt's words too).
        batch_size: continuations per generation call.
        with_prompt: transcribe each continuation after its prompt's units, as above.
    """

    name = "transcript"

    def __init__(
        self, transcriber: Any, *, max_new_tokens: int = 32, batch_size: int = 32, with_prompt: bool = False
    ) -> None:
        self.transcriber, self.max_new_tokens, self.batch_size = transcriber, max_new_tokens, batch_size
        self.with_prompt = with_prompt

    def _model(self) -> Any:
        if isinstance(self.transcriber, (str, bytes)) or hasattr(self.transcriber, "__fspath__"):
            from polyrlaif.domains.spoken_lm.adapter import ADAPTER

            self.transcriber = ADAPTER.load(str(self.transcriber), batch_size=self.batch_size)
        return self.transcriber

    def verify(self, prompts: Mapping[str, PromptRecord], candidates: Sequence[Candidate]) -> list[Judgment]:
        """One judgment per candidate, in order.

        Raises:
            ValueError: ``with_prompt`` and a prompt without ``meta["transcript"]``.
        """
        units, before = [c.text for c in candidates], [""] * len(candidates)  # before: the prompt's words
        if self.with_prompt:
            for i, c in enumerate(candidates):
                prompt = prompts[c.prompt_id]
                said = prompt.meta.get("transcript")
                if not isinstance(said, str):
                    raise ValueError(f"prompt {c.prompt_id}: no meta['transcript'] to transcribe after")
                units[i], before[i] = f"{prompt.text} {c.text}", said
        convs = [[{"role": "user", "content": text}] for text in units]
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
        for c, texts, said in zip(candidates, outs, before, strict=True):
            words = after_prompt(texts[0], said)  # without a prompt, the whole transcript
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


class SpeechTranscriptVerifier:
    """Turns each continuation (units) into words through speech: a vocoder speaks it, an ASR hears it.

    The same contract as :class:`TranscriptVerifier`: name ``transcript``, the words in
    ``scores["transcript"]``, ``score`` 1 when the ASR heard words and 0 when it heard none. A
    continuation without unit tokens is not spoken: score 0, an empty transcript, and the rationale says
    so. A vocoder or ASR that cannot be loaded or fails fails the judgment with the reason
    (``vocoder_error: ...``, ``asr_error: ...``), holding the candidate back.

    Args:
        vocoder: a spec for :func:`~polyrlaif.domains.spoken_lm.vocoder.load_vocoder` (loaded on first
            use) or a loaded vocoder (``synthesize(units)``, ``sample_rate``).
        asr: a spec for :func:`~polyrlaif.domains.spoken_lm.asr.load_asr` (loaded on first use) or a
            loaded recognizer (``transcribe(wavs, sample_rate)``).
        units_dir: the unit tokenizer folder, to check a world vocoder's unit count against.
        sentences: the domain's sentences, for plain ``"pocketsphinx"``'s language model.
        audio_dir: when set, each spoken continuation is written there as ``<candidate_id>.wav``
            (atomically), to listen to.
        device: where a neural vocoder or ASR runs.
    """

    name = "transcript"

    def __init__(
        self,
        vocoder: Any,
        asr: Any,
        *,
        units_dir: str | None = None,
        sentences: Sequence[str] | None = None,
        audio_dir: str | Path | None = None,
        device: str = "cpu",
    ) -> None:
        self.vocoder, self.asr, self.units_dir, self.sentences = vocoder, asr, units_dir, sentences
        self.audio_dir = Path(audio_dir) if audio_dir is not None else None
        self.device = device

    def _vocoder(self) -> Any:
        if isinstance(self.vocoder, str):
            from polyrlaif.domains.spoken_lm.vocoder import load_vocoder

            self.vocoder = load_vocoder(self.vocoder, self.units_dir, device=self.device)
        return self.vocoder

    def _hear(self, wavs: list[Any], sample_rate: int) -> list[str]:
        if isinstance(self.asr, str):
            from polyrlaif.domains.spoken_lm.asr import load_asr

            self.asr = load_asr(self.asr, sentences=self.sentences, device=self.device)
        heard = self.asr.transcribe(wavs, sample_rate) if wavs else []
        if len(heard) != len(wavs):
            raise RuntimeError(f"{len(heard)} transcripts for {len(wavs)} waveforms")
        return heard

    def _judgment(self, c: Candidate, **fields: Any) -> Judgment:
        return Judgment(c.candidate_id, self.name, "verifier", c.prompt_id, **fields)

    def verify(self, prompts: Mapping[str, PromptRecord], candidates: Sequence[Candidate]) -> list[Judgment]:
        """One judgment per candidate, in order."""
        from polyrlaif.domains.spoken_lm.units import save_audio, text_to_units

        try:
            vocoder = self._vocoder()
        except Exception as exc:  # nothing can be spoken: every candidate says why
            return [
                self._judgment(c, failure=f"vocoder_error: {type(exc).__name__}: {exc}") for c in candidates
            ]
        out: dict[int, Judgment] = {}
        spoken: dict[int, Any] = {}
        for i, c in enumerate(candidates):
            units = text_to_units(c.text, strict=False)  # BOS, EOS or stray words are not speech
            if not units:
                out[i] = self._judgment(
                    c, score=0.0, scores={"transcript": ""}, rationale="no unit tokens to speak"
                )
                continue
            try:
                wav = vocoder.synthesize(units)
            except Exception as exc:  # this candidate only (a unit the vocoder lacks)
                out[i] = self._judgment(c, failure=f"vocoder_error: {type(exc).__name__}: {exc}")
                continue
            spoken[i] = wav
            if self.audio_dir is not None:  # a failed write loses only the copy to listen to
                name = re.sub(r"[^A-Za-z0-9._-]", "_", c.candidate_id)
                try:
                    save_audio(self.audio_dir / f"{name}.wav", wav, sample_rate=vocoder.sample_rate)
                except OSError as exc:
                    log.warning("could not write %s.wav to %s: %s", name, self.audio_dir, exc)
        order = sorted(spoken)
        try:
            heard = self._hear([spoken[i] for i in order], vocoder.sample_rate)
        except Exception as exc:  # nothing was heard: every spoken candidate says why
            reason = f"asr_error: {type(exc).__name__}: {exc}"
            out.update({i: self._judgment(candidates[i], failure=reason) for i in order})
            order, heard = [], []
        for i, text in zip(order, heard, strict=True):
            words = " ".join(text.split())
            out[i] = self._judgment(
                candidates[i], score=float(bool(words)), scores={"transcript": words}, rationale=words
            )
        return [out[i] for i in range(len(candidates))]


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


class CoherenceLogLikelihoodJudge(LogLikelihoodJudge):
    """How likely a local LLM finds the continuation's transcript right after the prompt's transcript:
    ``exp(mean token log-prob)`` (:class:`~polyrlaif.core.judges.loglik.LogLikelihoodJudge`). On the
    synthetic world's held-out stories SmolLM2-135M's conditional likelihood of the ending picks the
    coherent one far more often than its yes/no answer does, so this is the CPU world's default signal."""

    def render_pair(
        self, prompt: PromptRecord, candidate: Candidate, context: Mapping[str, Any] | None
    ) -> tuple[str, str]:
        """``(prompt transcript, continuation transcript)``; an empty transcript fails the judgment."""
        said, continued = _transcripts(context)
        return said, "" if continued == "(nothing)" else continued


class CoherenceSimilarityJudge(SimilarityJudge):
    """How close the continuation's transcript stays to the prompt's: the cosine of their sentence
    embeddings (:class:`~polyrlaif.core.judges.similarity.SimilarityJudge`). On the synthetic world it
    agrees with the grammar's topic check far more often than SmolLM2's yes/no (docs/benchmarks.md)."""

    def render_pair(
        self, prompt: PromptRecord, candidate: Candidate, context: Mapping[str, Any] | None
    ) -> tuple[str, str]:
        """``(prompt transcript, continuation transcript)``; an empty transcript fails the judgment."""
        said, continued = _transcripts(context)
        return said, "" if continued == "(nothing)" else continued


def coherence_judge(
    mode: str, backend: Any, *, cache: Any = None, batch_size: int = 16, novelty: bool = False
) -> Any:
    """The coherence judge `mode` names (yesno, pointwise, loglik, pmi or similarity) over `backend`;
    ``novelty`` (similarity only) weighs the cosine by the share of new words in the continuation."""
    if novelty and mode != "similarity":
        raise ValueError(f"judge novelty weighs the similarity judge's cosine; judge mode is {mode!r}")
    if mode == "similarity":
        return CoherenceSimilarityJudge(backend, novelty=novelty, cache=cache, batch_size=batch_size)
    if mode == "pointwise":
        return CoherencePointwiseJudge(backend, ALIGN_SLM_RUBRIC, cache=cache, batch_size=batch_size)
    if mode in ("loglik", "pmi"):
        return CoherenceLogLikelihoodJudge(backend, pmi=mode == "pmi", cache=cache, batch_size=batch_size)
    if mode == "yesno":
        return CoherenceYesNoJudge(backend, cache=cache, batch_size=batch_size)
    raise ValueError(f"judge mode must be yesno, pointwise, loglik, pmi or similarity, got {mode!r}")
