"""Audio files for every domain: read any WAV (or, with torchcodec, other formats) as a mono float
waveform at a chosen rate, with a reason instead of an exception when a file cannot be used, and write
16-bit PCM WAV atomically.

torchaudio 2.11's ``load`` and ``save`` need the torchcodec package; WAV is read and written with scipy, so
the common case needs nothing more. Resampling is torchaudio's windowed-sinc resampler.
"""

from __future__ import annotations

import io
import os
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

from polyrlaif.core.io import atomic_write_bytes

if TYPE_CHECKING:
    import torch

__all__ = ["load_audio", "read_wav", "save_audio"]


def read_wav(path: Path) -> tuple[Any, int]:
    """``(samples as float32 numpy of shape (n,) or (n, channels), sample rate)`` of a WAV file."""
    import numpy as np
    from scipy.io import wavfile

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # unknown chunks (LIST, cue) are skipped with a warning
        rate, data = wavfile.read(path)
    if data.dtype == np.uint8:
        data = (data.astype(np.float32) - 128.0) / 128.0
    elif np.issubdtype(data.dtype, np.integer):  # int16, and 24-bit read left-aligned into int32
        data = data.astype(np.float32) / float(2 ** (8 * data.dtype.itemsize - 1))
    return data.astype(np.float32, copy=False), int(rate)


def load_audio(
    path: str | os.PathLike, *, sample_rate: int = 16000
) -> tuple[torch.Tensor | None, str | None]:
    """Read an audio file as a mono float waveform at ``sample_rate``.

    Channels are averaged and other sample rates resampled (torchaudio's windowed-sinc resampler).

    Args:
        path: a WAV file (or any format ``torchaudio.load`` reads, when torchcodec is installed).
        sample_rate: the rate of the returned waveform.

    Returns:
        ``(waveform, None)`` with a float32 tensor of shape ``(samples,)``, values in about [-1, 1];
        or ``(None, reason)`` for a file that cannot be used, the reason beginning ``unreadable:``
        (missing, not audio, undecodable, non-finite samples) or ``empty:`` (no samples).
    """
    import torch
    import torchaudio

    path = Path(path)
    if not path.is_file():
        return None, "unreadable: no such file"
    try:
        data, rate = read_wav(path)
        wav = torch.from_numpy(data)
        wav = wav.mean(1) if wav.dim() == 2 else wav
    except Exception as wav_error:  # noqa: BLE001 - any parse failure: try the general decoder
        try:
            multi, rate = torchaudio.load(str(path))
            wav = multi.float().mean(0)
        except ImportError:
            reason = f"not a readable WAV file ({_short(wav_error)}); other formats need torchcodec"
            return None, f"unreadable: {reason}"
        except Exception as exc:  # noqa: BLE001 - a reason is the contract, not an exception
            return None, f"unreadable: {_short(exc)}"
    if wav.numel() == 0:
        return None, "empty: no samples"
    if not torch.isfinite(wav).all():
        return None, "unreadable: non-finite samples"
    if rate != sample_rate:
        wav = torchaudio.functional.resample(wav, rate, sample_rate)
    return wav.contiguous(), None


def _short(exc: BaseException) -> str:
    return (str(exc).splitlines() or [type(exc).__name__])[0][:120]


def save_audio(path: str | os.PathLike, wav: Any, *, sample_rate: int = 16000) -> Path:
    """Write a mono waveform (values in [-1, 1], clipped) as a 16-bit PCM WAV file, atomically."""
    import numpy as np
    import torch
    from scipy.io import wavfile

    samples = torch.as_tensor(wav, dtype=torch.float32).reshape(-1).clamp(-1.0, 1.0).numpy()
    buf = io.BytesIO()
    wavfile.write(buf, sample_rate, np.round(samples * 32767.0).astype(np.int16))
    return atomic_write_bytes(path, buf.getvalue())
