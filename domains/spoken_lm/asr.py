"""Speech recognition for the `spoken_lm` domain: the second half of "back to words through speech".

A vocoder (:mod:`.vocoder`) speaks a continuation's units; an ASR writes down the words:

* :class:`PocketSphinxASR`: CMU PocketSphinx with the US English acoustic model and CMUdict that its
  PyPI wheel bundles, so it runs on CPU with no download. Given the domain's sentences (the synthetic
  world's transcripts), it decodes with a small trigram LM built from them (pocketsphinx's own
  ``ArpaBoLM``) and a dictionary cut down to their words, so it hears the world's words; words
  CMUdict lacks are an error naming them (or, with ``on_missing="drop"``, dropped with a warning and
  listed in :attr:`PocketSphinxASR.missing_words`). Without sentences it uses the bundled general
  English LM.
* :class:`TransformersASR`: ``transformers.pipeline("automatic-speech-recognition")`` over any model
  it loads (Whisper, wav2vec 2.0 CTC; hub id or local folder).

:func:`load_asr` reads a spec (``"pocketsphinx"``, ``"pocketsphinx:<sentences.txt>"`` or a model).
:func:`normalize_words` and :func:`word_errors` compare transcripts as WER does.
"""

from __future__ import annotations

import logging
import os
import re
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

if TYPE_CHECKING:
    import torch

__all__ = [
    "PocketSphinxASR",
    "SpeechRecognizer",
    "TransformersASR",
    "load_asr",
    "normalize_words",
    "word_errors",
]

log = logging.getLogger(__name__)

_POCKETSPHINX = "pocketsphinx"
_WORD = re.compile(r"[a-z']+")
_VARIANT = re.compile(r"\(\d+\)$")  # CMUdict's second pronunciations: "read(2)"


class SpeechRecognizer(Protocol):
    """Anything that transcribes waveforms: ``transcribe(wavs, sample_rate) -> texts``, one per waveform."""

    def transcribe(self, wavs: Sequence[Any], sample_rate: int) -> list[str]: ...


def normalize_words(text: str) -> list[str]:
    """Lower-case words without punctuation (``"Anna's kite."`` -> ``["anna's", "kite"]``)."""
    return _WORD.findall(text.lower())


def word_errors(reference: str, hypothesis: str) -> tuple[int, int]:
    """``(substitutions + deletions + insertions, reference words)`` after :func:`normalize_words`.

    The word error rate of a set of utterances is the sum of the first over the sum of the second.
    """
    ref, hyp = normalize_words(reference), normalize_words(hypothesis)
    row = list(range(len(hyp) + 1))  # edit distance of ref[:0] to each prefix of hyp
    for i, r in enumerate(ref, 1):
        prev, row[0] = row[0], i
        for j, h in enumerate(hyp, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (r != h))
    return row[-1], len(ref)


def _mono(wav: Any, sample_rate: int, target: int) -> torch.Tensor:
    import torch
    import torchaudio

    wav = torch.as_tensor(wav, dtype=torch.float32).detach().cpu()
    wav = wav.mean(0) if wav.dim() == 2 else wav.reshape(-1)
    return torchaudio.functional.resample(wav, sample_rate, target) if sample_rate != target else wav


class PocketSphinxASR:
    """CMU PocketSphinx with its bundled US English acoustic model and CMUdict.

    Args:
        sentences: the domain's sentences (one utterance each): the decoder's LM is a trigram model
            of them and its dictionary their words. ``None``: pocketsphinx's general English LM.
        on_missing: what to do with words of ``sentences`` that CMUdict lacks: ``"error"`` (raise,
            naming them) or ``"drop"`` (leave them out of the LM, warn, and list them in
            :attr:`missing_words`).

    Attributes:
        missing_words: words of ``sentences`` left out for want of a pronunciation.
        vocabulary: the words the decoder can output (``None`` with the general LM).

    Raises:
        ValueError: ``sentences`` has no word, or words CMUdict lacks with ``on_missing="error"``.
    """

    sample_rate = 16000

    def __init__(
        self, sentences: Iterable[str] | None = None, *, on_missing: Literal["error", "drop"] = "error"
    ) -> None:
        from pocketsphinx import Decoder, get_model_path

        if on_missing not in ("error", "drop"):
            raise ValueError(f"on_missing must be 'error' or 'drop', got {on_missing!r}")
        self.missing_words: list[str] = []
        self.vocabulary: list[str] | None = None
        options: dict[str, Any] = {"samprate": self.sample_rate, "loglevel": "FATAL"}
        if sentences is None:
            self.decoder = Decoder(**options)
            return
        lines = [normalize_words(s) for s in sentences]
        words = sorted({w for line in lines for w in line})
        if not words:
            raise ValueError("PocketSphinxASR: the sentences have no words to build a language model from")
        cmudict = Path(get_model_path("en-us/cmudict-en-us.dict"))
        entries = [e for e in cmudict.read_text(encoding="utf-8").splitlines() if e.strip()]
        wanted = set(words)
        kept = [e for e in entries if _VARIANT.sub("", e.split(maxsplit=1)[0]) in wanted]
        known = {_VARIANT.sub("", e.split(maxsplit=1)[0]) for e in kept}
        self.missing_words = [w for w in words if w not in known]
        if self.missing_words:
            listed = ", ".join(self.missing_words[:20]) + (" ..." if len(self.missing_words) > 20 else "")
            if on_missing == "error":
                raise ValueError(
                    f"{len(self.missing_words)} word(s) of the sentences are not in {cmudict}: {listed} "
                    "(on_missing='drop' leaves them out of the language model)"
                )
            log.warning(
                "pocketsphinx: %d word(s) without a pronunciation left out: %s",
                len(self.missing_words),
                listed,
            )
        self.vocabulary = sorted(known)
        text = "\n".join(" ".join(w for w in line if w in known) for line in lines)
        with tempfile.TemporaryDirectory(prefix="polyrlaif-pocketsphinx-") as tmp:
            # the decoder reads both files when it is built; they are not needed afterwards
            lm_path, dict_path = os.path.join(tmp, "domain.arpa"), os.path.join(tmp, "domain.dict")
            _write_arpa(text, lm_path)
            Path(dict_path).write_text("\n".join(kept) + "\n", encoding="utf-8")
            self.decoder = Decoder(lm=lm_path, dict=dict_path, **options)

    def transcribe(self, wavs: Sequence[Any], sample_rate: int) -> list[str]:
        """The words heard in each waveform (lower case, space-separated; ``""`` when none)."""
        import torch

        out = []
        for wav in wavs:
            samples = _mono(wav, sample_rate, self.sample_rate).clamp(-1.0, 1.0)
            pcm = (samples * 32767.0).round().to(torch.int16).numpy().tobytes()  # 16-bit PCM, as it wants
            self.decoder.start_utt()
            self.decoder.process_raw(pcm, full_utt=True)
            self.decoder.end_utt()
            hyp = self.decoder.hyp()
            out.append(" ".join(hyp.hypstr.split()) if hyp is not None else "")
        return out


def _write_arpa(text: str, path: str) -> None:
    """A trigram ARPA LM of ``text`` (one sentence a line) by pocketsphinx's own fixed-backoff builder."""
    from pocketsphinx.lm import ArpaBoLM

    lm = ArpaBoLM(text=text, add_start=True)
    lm.compute()
    with open(path, "w", encoding="utf-8") as fh:
        lm.write(fh)


class TransformersASR:
    """Any ASR model ``transformers.pipeline("automatic-speech-recognition")`` loads (Whisper, wav2vec 2.0
    CTC), by hub id or local folder.

    Args:
        name_or_path: the model.
        device: where it runs (``"cpu"``, ``"cuda"``).
        batch_size: waveforms per forward pass.
        generate_kwargs: passed to a seq2seq model's ``generate`` (e.g. ``{"language": "en"}`` for a
            multilingual Whisper).
    """

    def __init__(
        self,
        name_or_path: str,
        *,
        device: str = "cpu",
        batch_size: int = 8,
        generate_kwargs: dict[str, Any] | None = None,
    ) -> None:
        from transformers import pipeline

        self.pipe = pipeline("automatic-speech-recognition", model=name_or_path, device=device)
        self.sample_rate = int(self.pipe.feature_extractor.sampling_rate)
        self.batch_size, self.generate_kwargs = batch_size, dict(generate_kwargs or {})

    def transcribe(self, wavs: Sequence[Any], sample_rate: int) -> list[str]:
        """The model's text for each waveform, whitespace-normalised."""
        if not wavs:
            return []
        inputs = [{"raw": _mono(w, sample_rate, self.sample_rate).numpy(), "sampling_rate": self.sample_rate}
                  for w in wavs]  # fmt: skip
        kwargs = {"generate_kwargs": self.generate_kwargs} if self.generate_kwargs else {}
        outs = self.pipe(inputs, batch_size=self.batch_size, **kwargs)
        return [" ".join(str(o["text"]).split()) for o in outs]


def load_asr(spec: str, *, sentences: Iterable[str] | None = None, device: str = "cpu") -> SpeechRecognizer:
    """An ASR from its spec.

    Args:
        spec: ``"pocketsphinx"`` (an LM of ``sentences`` when given, else the general English LM),
            ``"pocketsphinx:<file>"`` (an LM of the file's lines), or a model for :class:`TransformersASR`
            (hub id or local folder).
        sentences: the domain's sentences for plain ``"pocketsphinx"``.
        device: where a transformers model runs.

    Raises:
        FileNotFoundError: the sentences file of ``"pocketsphinx:<file>"`` does not exist.
    """
    if spec == _POCKETSPHINX:
        return PocketSphinxASR(sentences)
    if spec.startswith(_POCKETSPHINX + ":"):
        path = Path(spec[len(_POCKETSPHINX) + 1 :])
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no such sentences file for the pocketsphinx language model")
        return PocketSphinxASR(path.read_text(encoding="utf-8").splitlines())
    return TransformersASR(spec, device=device)
