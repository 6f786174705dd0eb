"""Speech as discrete units: audio loading, and a k-means unit tokenizer over frame features.

A textless spoken language model (GSLM, TWIST, Align-SLM) reads and writes *units*: each 20 ms frame of
speech is mapped to the nearest of ``n_units`` k-means centroids of some frame representation, and
runs of the same unit are collapsed to one ("deduplicated" units). :class:`UnitTokenizer` learns the
centroids from a few wav files and encodes audio into unit ids, over one of three representations:

* ``"logmel"``: 40 log-mel energies per frame (torchaudio), 50 frames per second;
* ``"mfcc"``: 13 MFCCs with their first and second deltas (39 dims), 50 frames per second;
* a Hugging Face self-supervised speech model (HuBERT, wav2vec2; hub id or local directory): the
  hidden states of one transformer layer, as the papers do (HuBERT base, layer 6, 500 units in
  Align-SLM), at the model's own frame rate.

Spectral features are normalised per utterance (mean and variance over time), so loudness and channel
differences do not become units. Units are written as text as ``"<u12> <u5> <u40>"``
(:func:`units_to_text`), the form the unit LM's word-level tokenizer reads.

WAV files are read with scipy (PCM 8/16/24/32-bit and float); other formats go through
``torchaudio.load``, which needs torchcodec.
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from polyrlaif.core.audio import load_audio, save_audio
from polyrlaif.core.io import atomic_dir

if TYPE_CHECKING:
    import numpy as np
    import torch

__all__ = [
    "SPECTRAL_FEATURES",
    "UnitTokenizer",
    "load_audio",
    "save_audio",
    "text_to_units",
    "unit_token",
    "units_to_text",
]

log = logging.getLogger(__name__)

#: Feature kinds computed with torchaudio; any other ``features`` value names a Hugging Face model.
SPECTRAL_FEATURES = ("logmel", "mfcc")

_CONFIG = "unit_tokenizer.json"
_CENTROIDS = "centroids.npy"
_HOP = 320  # 20 ms at 16 kHz: HuBERT's frame rate, so spectral units come as fast as HuBERT's
_UNIT = re.compile(r"<u(\d+)>")


def unit_token(unit: int) -> str:
    """The text token of one unit id (``12`` -> ``"<u12>"``)."""
    return f"<u{int(unit)}>"


def units_to_text(units: Sequence[int]) -> str:
    """Unit ids as space-separated unit tokens: ``[12, 5]`` -> ``"<u12> <u5>"``."""
    return " ".join(unit_token(u) for u in units)


def text_to_units(text: str, *, strict: bool = True) -> list[int]:
    """Parse space-separated unit tokens back into unit ids.

    Args:
        text: e.g. ``"<u12> <u5>"``; any whitespace separates tokens.
        strict: raise on a token that is not a unit token; when False such tokens are skipped.

    Raises:
        ValueError: a token that is not ``<uN>`` (``strict`` only), naming it.
    """
    units = []
    for tok in text.split():
        m = _UNIT.fullmatch(tok)
        if m is None:
            if strict:
                raise ValueError(f"not a unit token: {tok!r}")
            continue
        units.append(int(m.group(1)))
    return units


class _SpectralFeatures:
    """Per-utterance normalised log-mel or MFCC(+deltas) frames, 50 per second at 16 kHz."""

    def __init__(self, kind: str, sample_rate: int) -> None:
        import torchaudio

        self.kind = kind
        self.frame_rate = sample_rate / _HOP
        mel = {"n_fft": 400, "win_length": 400, "hop_length": _HOP, "n_mels": 40}
        if kind == "logmel":
            self.transform = torchaudio.transforms.MelSpectrogram(sample_rate=sample_rate, **mel)
        else:
            self.transform = torchaudio.transforms.MFCC(sample_rate=sample_rate, n_mfcc=13, melkwargs=mel)

    def __call__(self, wav: torch.Tensor) -> torch.Tensor:
        import torch
        import torchaudio

        with torch.no_grad():
            spec = self.transform(wav.float())  # (dims, frames)
            if self.kind == "logmel":
                spec = torch.log(spec + 1e-6)
            else:
                d1 = torchaudio.functional.compute_deltas(spec)
                spec = torch.cat([spec, d1, torchaudio.functional.compute_deltas(d1)])
            spec = (spec - spec.mean(1, keepdim=True)) / (spec.std(1, keepdim=True, unbiased=False) + 1e-3)
        return spec.T.contiguous()


class _SSLFeatures:
    """Hidden states of one layer of a Hugging Face speech encoder (HuBERT, wav2vec2, WavLM)."""

    def __init__(self, name_or_path: str, layer: int, sample_rate: int, device: str) -> None:
        from transformers import AutoFeatureExtractor, AutoModel

        self.model = AutoModel.from_pretrained(name_or_path).to(device).eval()
        depth = self.model.config.num_hidden_layers
        if not 0 <= layer <= depth:
            raise ValueError(f"layer must be in 0..{depth} for {name_or_path}, got {layer}")
        try:
            self.extractor = AutoFeatureExtractor.from_pretrained(name_or_path)
        except (OSError, ValueError):  # a bare encoder without preprocessor_config.json
            self.extractor = None
        self.layer, self.sample_rate, self.device = layer, sample_rate, device
        strides = getattr(self.model.config, "conv_stride", None) or [_HOP]
        self.frame_rate = sample_rate / math.prod(strides)

    def __call__(self, wav: torch.Tensor) -> torch.Tensor:
        import torch

        if self.extractor is not None:
            inputs = self.extractor(wav.numpy(), sampling_rate=self.sample_rate, return_tensors="pt")
            values = inputs["input_values"]
        else:  # what Wav2Vec2FeatureExtractor's do_normalize does
            values = ((wav - wav.mean()) / (wav.std(unbiased=False) + 1e-7))[None]
        with torch.inference_mode():
            out = self.model(values.to(self.device), output_hidden_states=True)
        return out.hidden_states[self.layer][0].float().cpu()


def _extractor(features: str, layer: int, sample_rate: int, device: str) -> Any:
    if features in SPECTRAL_FEATURES:
        return _SpectralFeatures(features, sample_rate)
    return _SSLFeatures(features, layer, sample_rate, device)


class UnitTokenizer:
    """Maps speech to discrete units: the nearest k-means centroid of each frame's features.

    Build one with :meth:`fit` (or :meth:`load` a saved one); encode audio with :meth:`encode`.

    Args:
        centroids: ``(n_units, dims)`` float32 k-means centroids.
        features: ``"logmel"``, ``"mfcc"``, or a Hugging Face speech model id or local directory.
        layer: the hidden-state layer of an HF model (0 is the input to the first transformer layer).
        sample_rate: the audio rate features are computed at.
        device: where an HF model runs (``"cpu"``, ``"cuda"``).

    Attributes:
        n_units: number of units (centroids).
        frame_rate: feature frames per second (50 for HuBERT and the spectral features).
    """

    def __init__(
        self,
        centroids: Any,
        *,
        features: str,
        layer: int = 6,
        sample_rate: int = 16000,
        device: str = "cpu",
        _extract: Any = None,
    ) -> None:
        import torch

        self.centroids = torch.as_tensor(centroids, dtype=torch.float32).contiguous()
        if self.centroids.dim() != 2 or len(self.centroids) < 1:
            raise ValueError(f"centroids must be (n_units, dims), got shape {tuple(self.centroids.shape)}")
        self.features, self.layer, self.sample_rate, self.device = features, layer, sample_rate, device
        self._extract = _extract or _extractor(features, layer, sample_rate, device)
        self.frame_rate: float = self._extract.frame_rate
        self.n_units = len(self.centroids)

    @classmethod
    def fit(
        cls,
        wavs: Sequence[str | os.PathLike],
        *,
        n_units: int = 50,
        features: str = "logmel",
        layer: int = 6,
        seed: int = 0,
        max_frames: int = 200_000,
        sample_rate: int = 16000,
        device: str = "cpu",
    ) -> UnitTokenizer:
        """Learn ``n_units`` centroids from the frames of ``wavs`` with seeded mini-batch k-means.

        Files that :func:`load_audio` cannot read are skipped with a warning. When there are more than
        ``max_frames`` frames, a seeded random subset of that size is clustered.

        Args:
            wavs: audio files.
            n_units: k-means clusters.
            features: ``"logmel"``, ``"mfcc"`` or an HF speech model (hub id or local directory).
            layer: hidden-state layer of an HF model.
            seed: seeds the frame subset and k-means: the same files and seed give the same centroids.
            max_frames: the most frames clustered.
            sample_rate: audio rate for features.
            device: where an HF model runs.

        Raises:
            ValueError: no readable file, or fewer frames than ``n_units``.
        """
        import numpy as np

        extract = _extractor(features, layer, sample_rate, device)
        frames, skipped = [], []
        for path in wavs:
            wav, reason = load_audio(path, sample_rate=sample_rate)
            if wav is None:
                skipped.append(f"{path} ({reason})")
                continue
            frames.append(extract(wav).numpy())
        if skipped:
            log.warning("skipped %d unreadable audio file(s): %s", len(skipped), "; ".join(skipped[:5]))
        if not frames:
            raise ValueError("no readable audio to fit units on")
        data = np.concatenate(frames).astype(np.float32)
        if len(data) < n_units:
            raise ValueError(f"{len(data)} frames cannot make {n_units} units")
        if len(data) > max_frames:
            data = data[np.sort(np.random.default_rng(seed).choice(len(data), max_frames, replace=False))]
        centroids = _kmeans(data, n_units, seed)
        return cls(
            centroids,
            features=features,
            layer=layer,
            sample_rate=sample_rate,
            device=device,
            _extract=extract,
        )

    def save(self, out_dir: str | os.PathLike) -> Path:
        """Write the centroids (``centroids.npy``) and settings (``unit_tokenizer.json``) atomically."""
        import numpy as np

        features = self.features
        if features not in SPECTRAL_FEATURES and os.path.isdir(features):
            features = str(Path(features).resolve())  # a local model: keep it findable from elsewhere
        config = {
            "features": features,
            "layer": self.layer,
            "n_units": self.n_units,
            "dims": int(self.centroids.shape[1]),
            "sample_rate": self.sample_rate,
            "frame_rate": self.frame_rate,
        }
        with atomic_dir(out_dir) as staging:
            np.save(staging / _CENTROIDS, self.centroids.numpy(), allow_pickle=False)
            (staging / _CONFIG).write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
        return Path(out_dir)

    @classmethod
    def load(cls, path: str | os.PathLike, *, device: str = "cpu") -> UnitTokenizer:
        """A tokenizer written by :meth:`save` (an HF feature model is loaded again from its id or path).

        Raises:
            FileNotFoundError: ``path`` lacks the config or the centroids.
            ValueError: the centroids do not match the config.
        """
        import numpy as np

        path = Path(path)
        for name in (_CONFIG, _CENTROIDS):
            if not (path / name).is_file():
                raise FileNotFoundError(f"{path}: no {name}; not a saved UnitTokenizer")
        config = json.loads((path / _CONFIG).read_text(encoding="utf-8"))
        centroids = np.load(path / _CENTROIDS, allow_pickle=False)
        if centroids.shape != (config["n_units"], config["dims"]):
            raise ValueError(f"{path}: centroids {centroids.shape} do not match the config")
        return cls(
            centroids,
            features=config["features"],
            layer=config["layer"],
            sample_rate=config["sample_rate"],
            device=device,
        )

    def frame_features(self, wav_or_path: Any) -> torch.Tensor:
        """The ``(frames, dims)`` features of a waveform (at :attr:`sample_rate`) or an audio file.

        Raises:
            ValueError: a file :func:`load_audio` rejects, with its reason.
        """
        import torch

        if isinstance(wav_or_path, (str, os.PathLike)):
            wav, reason = load_audio(wav_or_path, sample_rate=self.sample_rate)
            if wav is None:
                raise ValueError(f"{wav_or_path}: {reason}")
        else:
            wav = torch.as_tensor(wav_or_path, dtype=torch.float32).cpu()
            wav = wav.mean(0) if wav.dim() == 2 else wav  # (channels, samples) -> mono
        return self._extract(wav)

    def encode(self, wav_or_path: Any, *, dedup: bool = True) -> list[int]:
        """Unit ids of a waveform (1-D, or channels x samples, at :attr:`sample_rate`) or audio file.

        Args:
            wav_or_path: a tensor or array, or a path for :func:`load_audio`.
            dedup: collapse runs of the same unit into one, as unit LMs are trained.

        Raises:
            ValueError: a file :func:`load_audio` rejects, with its reason.
        """
        import torch

        feats = self.frame_features(wav_or_path)
        units = torch.cdist(feats, self.centroids).argmin(1)
        if dedup:
            units = torch.unique_consecutive(units)
        return units.tolist()

    def to_text(self, units: Sequence[int]) -> str:
        """Units as the unit LM's text: ``"<u12> <u5> <u40>"``."""
        return units_to_text(units)

    def from_text(self, text: str, *, strict: bool = True) -> list[int]:
        """Parse unit text back into ids (see :func:`text_to_units`).

        Raises:
            ValueError: a token that is not a unit token, or a unit outside ``0..n_units - 1``
                (``strict`` only; otherwise both are skipped).
        """
        units = text_to_units(text, strict=strict)
        bad = [u for u in units if u >= self.n_units]
        if bad and strict:
            raise ValueError(f"unit {bad[0]} out of range for {self.n_units} units")
        return [u for u in units if u < self.n_units]

    def tokens(self) -> list[str]:
        """Every unit's token, in id order: the vocabulary a unit LM needs."""
        return [unit_token(i) for i in range(self.n_units)]


def _kmeans(data: np.ndarray, n_units: int, seed: int) -> np.ndarray:
    """Seeded mini-batch k-means (as HuBERT's and GSLM's unit recipes), float32 centroids."""
    import numpy as np
    from sklearn.cluster import MiniBatchKMeans

    km = MiniBatchKMeans(
        n_clusters=n_units,
        init="k-means++",
        n_init=3,
        batch_size=min(10_000, len(data)),
        max_iter=100,
        max_no_improvement=50,
        reassignment_ratio=0.0,
        random_state=seed,
    )
    km.fit(data)
    return km.cluster_centers_.astype(np.float32)
