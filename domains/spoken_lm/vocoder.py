"""Unit-to-speech for the `spoken_lm` domain: the first half of "back to words through speech".

A unit LM's continuation is a string of deduplicated units (``"<u12> <u5> ..."``). To hear it, a
*vocoder* turns unit ids into a 16 kHz waveform, which an ASR (:mod:`.asr`) then transcribes. Two:

* :class:`WorldVocoder`, the CPU world's own (no download): fitted on a corpus of wav files with a
  fitted :class:`~polyrlaif.domains.spoken_lm.units.UnitTokenizer`, it keeps for each unit the mean
  *raw* log-mel frame of the frames assigned to it and the unit's mean run length in frames (unit
  strings are deduplicated, so the durations must be restored). Synthesis repeats each unit's mean
  frame for its mean run length, and inverts the mel power spectrogram with torchaudio's
  ``InverseMelScale`` and ``GriffinLim``. Crude, but an ASR reads it, and it needs nothing more.
* :class:`SpeechBrainUnitVocoder`, a unit HiFi-GAN the user supplies (speechbrain's ``UnitHIFIGAN``,
  by hub id or local folder), for HuBERT units as TWIST and Align-SLM use; its units must be the ones
  the unit tokenizer makes (same encoder, layer and k-means). Needs ``pip install speechbrain``.

:func:`load_vocoder` reads a spec: ``"world:<dir>"`` (or a folder :meth:`WorldVocoder.save` wrote) or a
unit HiFi-GAN's hub id or folder.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from polyrlaif.core.audio import load_audio
from polyrlaif.core.io import atomic_dir

if TYPE_CHECKING:
    import torch

    from polyrlaif.domains.spoken_lm.units import UnitTokenizer

__all__ = ["SpeechBrainUnitVocoder", "UnitVocoder", "WorldVocoder", "load_vocoder"]

log = logging.getLogger(__name__)

_CONFIG = "world_vocoder.json"
_FRAMES = "mel_frames.npy"
_RUNS = "run_lengths.npy"
_WORLD_PREFIX = "world:"
_PEAK = 0.9


class UnitVocoder(Protocol):
    """Anything that speaks unit ids: ``synthesize(units)`` gives a 1-D waveform at ``sample_rate``."""

    sample_rate: int

    def synthesize(self, units: Sequence[int]) -> torch.Tensor: ...


def _mel(sample_rate: int, n_fft: int, hop: int, n_mels: int) -> Any:
    import torchaudio

    return torchaudio.transforms.MelSpectrogram(
        sample_rate=sample_rate, n_fft=n_fft, win_length=n_fft, hop_length=hop, n_mels=n_mels
    )


class WorldVocoder:
    """Unit ids -> 16 kHz speech from per-unit mean log-mel frames and run lengths, inverted by Griffin-Lim.

    Build one with :meth:`fit`, or :meth:`load` a saved one.

    Args:
        mel_frames: ``(n_units, n_mels)`` mean raw log-mel frame of each unit (``log(mel power + 1e-6)``).
        run_lengths: ``(n_units,)`` mean run length of each unit, in unit frames.
        counts: ``(n_units,)`` frames each unit had in the fitting corpus (0: never seen; such a unit
            speaks the corpus's mean frame for the mean run length).
        sample_rate: audio rate (the unit tokenizer's).
        hop: samples per unit frame (320 at 16 kHz: 50 frames a second).
        n_fft: FFT and window size of the mel spectrogram and of Griffin-Lim.
        n_iter: Griffin-Lim iterations.
        upsample: Griffin-Lim runs at ``hop // upsample`` (each unit frame repeated), since a window
            of ``n_fft`` needs overlapping frames to recover phase.
    """

    def __init__(
        self,
        mel_frames: Any,
        run_lengths: Any,
        counts: Sequence[int],
        *,
        sample_rate: int = 16000,
        hop: int = 320,
        n_fft: int = 1024,
        n_iter: int = 16,
        upsample: int = 4,
    ) -> None:
        import numpy as np

        self.mel_frames = np.asarray(mel_frames, dtype=np.float32)
        self.run_lengths = np.asarray(run_lengths, dtype=np.float32)
        self.counts = [int(c) for c in counts]
        n = len(self.mel_frames)
        if self.mel_frames.ndim != 2 or self.run_lengths.shape != (n,) or len(self.counts) != n:
            raise ValueError(
                f"mel_frames {self.mel_frames.shape}, run_lengths {self.run_lengths.shape} and "
                f"{len(self.counts)} counts do not describe the same units"
            )
        if hop % upsample:
            raise ValueError(f"hop {hop} is not a multiple of upsample {upsample}")
        self.n_units, self.n_mels = self.mel_frames.shape
        self.sample_rate, self.hop, self.n_fft = sample_rate, hop, n_fft
        self.n_iter, self.upsample = n_iter, upsample
        self._inverse: tuple[Any, Any] | None = None

    @classmethod
    def fit(
        cls,
        wavs: Sequence[str | os.PathLike],
        tokenizer: UnitTokenizer,
        *,
        n_mels: int = 80,
        n_fft: int = 1024,
    ) -> WorldVocoder:
        """Per-unit mean raw log-mel frame and mean run length over the frames of ``wavs``.

        Each frame's unit is the tokenizer's (before deduplication); its log-mel frame is computed at
        the same frame rate, unnormalised (the tokenizer's own features are normalised per utterance,
        which would lose loudness and spectral tilt). Unreadable files are skipped with a warning.

        Raises:
            ValueError: no readable file.
        """
        import numpy as np
        import torch

        hop = round(tokenizer.sample_rate / tokenizer.frame_rate)
        mel = _mel(tokenizer.sample_rate, n_fft, hop, n_mels)
        sums = np.zeros((tokenizer.n_units, n_mels), dtype=np.float64)
        frames, runs = np.zeros(tokenizer.n_units, np.int64), np.zeros(tokenizer.n_units, np.int64)
        skipped = []
        for path in wavs:
            wav, reason = load_audio(path, sample_rate=tokenizer.sample_rate)
            if wav is None:
                skipped.append(f"{path} ({reason})")
                continue
            with torch.no_grad():
                logmel = torch.log(mel(wav) + 1e-6).T  # (frames, n_mels), centred like the tokenizer's
            units = torch.tensor(tokenizer.encode(wav, dedup=False), dtype=torch.long)
            t = min(len(units), len(logmel))  # an HF encoder's convolutions drop a frame or so
            units, logmel = units[:t], logmel[:t]
            np.add.at(sums, units.numpy(), logmel.double().numpy())
            frames += np.bincount(units.numpy(), minlength=tokenizer.n_units)
            runs += np.bincount(torch.unique_consecutive(units).numpy(), minlength=tokenizer.n_units)
        if skipped:
            log.warning(
                "vocoder: skipped %d unreadable audio file(s): %s", len(skipped), "; ".join(skipped[:5])
            )
        if not frames.sum():
            raise ValueError("no readable audio to fit the vocoder on")
        seen = frames > 0
        means = np.where(seen[:, None], sums / np.maximum(frames, 1)[:, None], sums.sum(0) / frames.sum())
        lengths = np.where(seen, frames / np.maximum(runs, 1), frames.sum() / runs.sum())
        if not seen.all():
            log.warning("vocoder: %d of %d units never occur in the corpus", int((~seen).sum()), len(seen))
        return cls(means, lengths, frames.tolist(), sample_rate=tokenizer.sample_rate, hop=hop, n_fft=n_fft)

    def durations(self, units: Sequence[int]) -> list[int]:
        """Frames each unit of ``units`` is spoken for: its mean run length, rounded, at least one.

        Raises:
            ValueError: a unit outside ``0..n_units - 1``.
        """
        bad = [u for u in units if not 0 <= int(u) < self.n_units]
        if bad:
            raise ValueError(f"unit {bad[0]} out of range for a vocoder of {self.n_units} units")
        return [max(1, round(float(self.run_lengths[int(u)]))) for u in units]

    def synthesize(self, units: Sequence[int]) -> torch.Tensor:
        """A mono waveform at :attr:`sample_rate`, ``sum(durations(units)) * hop`` samples, peak 0.9.

        Raises:
            ValueError: no units, or a unit out of range.
        """
        import torch

        if len(units) == 0:
            raise ValueError("no units to synthesize")
        durations = torch.tensor(self.durations(units))  # checks the range first
        frames = torch.from_numpy(self.mel_frames)[torch.tensor([int(u) for u in units])]
        frames = frames.repeat_interleave(durations, dim=0)
        n_samples = len(frames) * self.hop
        inverse_mel, griffin_lim = self._transforms()
        with torch.no_grad():
            power = torch.exp(frames.repeat_interleave(self.upsample, dim=0)).T  # (n_mels, steps)
            wav = griffin_lim(inverse_mel(power).clamp_min(0.0))
        wav = torch.nn.functional.pad(wav, (0, max(0, n_samples - len(wav))))[:n_samples]
        peak = float(wav.abs().max())
        return wav * (_PEAK / peak) if peak > 0 else wav

    def _transforms(self) -> tuple[Any, Any]:
        if self._inverse is None:
            import torchaudio

            inverse_mel = torchaudio.transforms.InverseMelScale(
                n_stft=self.n_fft // 2 + 1, n_mels=self.n_mels, sample_rate=self.sample_rate, driver="gelsd"
            )
            # Zero initial phase: the same units always give the same audio.
            griffin_lim = torchaudio.transforms.GriffinLim(
                n_fft=self.n_fft, hop_length=self.hop // self.upsample, power=2.0, n_iter=self.n_iter,
                rand_init=False,
            )  # fmt: skip
            self._inverse = (inverse_mel, griffin_lim)
        return self._inverse

    def save(self, out_dir: str | os.PathLike) -> Path:
        """Write the frames, run lengths and ``world_vocoder.json`` to ``out_dir``, atomically."""
        import numpy as np

        config = {
            "n_units": self.n_units, "n_mels": self.n_mels, "sample_rate": self.sample_rate,
            "hop": self.hop, "n_fft": self.n_fft, "n_iter": self.n_iter, "upsample": self.upsample,
            "counts": self.counts,
        }  # fmt: skip
        with atomic_dir(out_dir) as staging:
            np.save(staging / _FRAMES, self.mel_frames, allow_pickle=False)
            np.save(staging / _RUNS, self.run_lengths, allow_pickle=False)
            (staging / _CONFIG).write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
        return Path(out_dir)

    @classmethod
    def load(cls, path: str | os.PathLike) -> WorldVocoder:
        """A vocoder written by :meth:`save`.

        Raises:
            FileNotFoundError: ``path`` lacks one of the three files (named).
            ValueError: the arrays do not match the config's unit count or mel size (named).
        """
        import numpy as np

        path = Path(path)
        for name in (_CONFIG, _FRAMES, _RUNS):
            if not (path / name).is_file():
                raise FileNotFoundError(f"{path}: no {name}; not a saved WorldVocoder")
        config = json.loads((path / _CONFIG).read_text(encoding="utf-8"))
        frames = np.load(path / _FRAMES, allow_pickle=False)
        runs = np.load(path / _RUNS, allow_pickle=False)
        n, n_mels = config["n_units"], config["n_mels"]
        if frames.shape != (n, n_mels):
            raise ValueError(f"{path / _FRAMES}: shape {frames.shape}, but {_CONFIG} says ({n}, {n_mels})")
        if runs.shape != (n,) or len(config["counts"]) != n:
            raise ValueError(f"{path / _RUNS}: shape {runs.shape}, but {_CONFIG} says {n} units")
        keys = ("sample_rate", "hop", "n_fft", "n_iter", "upsample")
        return cls(frames, runs, config["counts"], **{k: config[k] for k in keys})


class SpeechBrainUnitVocoder:
    """A unit HiFi-GAN the user supplies: speechbrain's ``UnitHIFIGAN`` by hub id or local folder.

    Args:
        source: e.g. ``speechbrain/tts-hifigan-unit-hubert-l6-k100-ljspeech``, or a folder holding its
            ``hyperparams.yaml`` and checkpoint.
        savedir: where speechbrain keeps the fetched files (default: its own cache).
        device: where it runs.

    Raises:
        ImportError: speechbrain is not installed (the message names the pip command).
    """

    def __init__(self, source: str, *, savedir: str | None = None, device: str = "cpu") -> None:
        try:
            from speechbrain.inference.vocoders import UnitHIFIGAN
        except ImportError as exc:
            raise ImportError(
                f"the unit vocoder {source!r} needs speechbrain: `pip install speechbrain` "
                "(or `pip install polyrlaif[speech]`)"
            ) from exc
        self.model = UnitHIFIGAN.from_hparams(source=source, savedir=savedir, run_opts={"device": device})
        self.sample_rate = int(getattr(self.model.hparams, "sample_rate", 16000))

    def synthesize(self, units: Sequence[int]) -> torch.Tensor:
        """A mono waveform at :attr:`sample_rate` (speechbrain restores the durations itself)."""
        import torch

        if len(units) == 0:
            raise ValueError("no units to synthesize")
        with torch.no_grad():
            wav = self.model.decode_unit(torch.tensor([int(u) for u in units], dtype=torch.long))
        return wav.reshape(-1).float().cpu()


def load_vocoder(
    spec: str, units_dir: str | os.PathLike | None = None, *, device: str = "cpu"
) -> UnitVocoder:
    """A vocoder from its spec.

    Args:
        spec: ``"world:<dir>"`` or a folder :meth:`WorldVocoder.save` wrote (the CPU world's own
            vocoder); anything else is a unit HiFi-GAN for :class:`SpeechBrainUnitVocoder` (hub id or
            local folder).
        units_dir: the unit tokenizer folder; when given, a world vocoder must have its unit count.
        device: where a HiFi-GAN runs.

    Raises:
        FileNotFoundError: a world vocoder folder lacks a file.
        ValueError: the vocoder and the unit tokenizer disagree on the number of units.
        ImportError: a HiFi-GAN without speechbrain installed.
    """
    path = spec[len(_WORLD_PREFIX) :] if spec.startswith(_WORLD_PREFIX) else spec
    if spec.startswith(_WORLD_PREFIX) or (Path(path) / _CONFIG).is_file():
        vocoder = WorldVocoder.load(path)
        if units_dir is not None:
            units_config = Path(units_dir) / "unit_tokenizer.json"
            n_units = json.loads(units_config.read_text(encoding="utf-8"))["n_units"]
            if n_units != vocoder.n_units:
                raise ValueError(
                    f"{path}: a vocoder of {vocoder.n_units} units, but {units_config} has {n_units}"
                )
        return vocoder
    return SpeechBrainUnitVocoder(spec, device=device)
