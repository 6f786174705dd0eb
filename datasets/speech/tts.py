"""Speech synthesis with the ``espeak-ng`` command-line program: 16 kHz mono 16-bit WAV files.

espeak-ng is a small formant synthesiser (Debian package ``espeak-ng``) that speaks an utterance in a
few milliseconds on one core, which is what a world of thousands of utterances built on a laptop
needs. Voices are espeak-ng voice names, optionally with a variant after ``+`` (``en-us``,
``en-gb+f3``); see ``espeak-ng --voices=en`` and ``espeak-ng --voices=variant``.

Text reaches espeak-ng on its standard input, never on the command line, so no text can be read as an
option. espeak-ng writes 22.05 kHz audio; it is resampled with a polyphase filter
(:func:`scipy.signal.resample_poly`) and written as 16-bit PCM with the standard library's
:mod:`wave`. :func:`read_wav` reads such files back without torchaudio (whose ``load`` needs the
separate torchcodec package in torchaudio 2.9 and later).
"""

from __future__ import annotations

import io
import math
import os
import re
import shutil
import subprocess
import tempfile
import wave
from functools import lru_cache
from pathlib import Path

import numpy as np

from polyrlaif.core.io import atomic_write_bytes

__all__ = [
    "DEFAULT_VOICES",
    "ESPEAK",
    "EspeakError",
    "EspeakNotFoundError",
    "check_voices",
    "espeak_available",
    "espeak_version",
    "is_voice_name",
    "phonemize",
    "read_wav",
    "render_wav",
    "synthesize",
    "wav_bytes",
]

ESPEAK = "espeak-ng"
"""The program looked up on ``PATH``."""

DEFAULT_VOICES: tuple[str, ...] = ("en-us", "en-gb", "en-us+f3", "en-gb+f4", "en-us+m7", "en-gb-x-rp+m3")
"""Six voices: two accents, each as the default male voice and as female and male variants."""

_INSTALL_HINT = (
    "install it with `sudo apt-get install espeak-ng` (Debian/Ubuntu), or run `make install` as root"
)
_VOICE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*(\+[A-Za-z0-9][A-Za-z0-9_-]*)?$")
TIMEOUT_S = 60.0
"""Longest one espeak-ng call may take; an utterance takes milliseconds."""


class EspeakError(RuntimeError):
    """espeak-ng failed, or was asked for something it cannot do (an unknown voice)."""


class EspeakNotFoundError(EspeakError):
    """espeak-ng is not on ``PATH``. The message says how to install it."""


def is_voice_name(voice: str) -> bool:
    """True when ``voice`` looks like an espeak-ng voice name (``en-us``, ``en-gb+f3``); it may not exist."""
    return isinstance(voice, str) and _VOICE_RE.match(voice) is not None


def espeak_available() -> bool:
    """True when the ``espeak-ng`` program is on ``PATH`` (looked up at each call)."""
    return shutil.which(ESPEAK) is not None


def _espeak() -> str:
    exe = shutil.which(ESPEAK)
    if exe is None:
        raise EspeakNotFoundError(f"{ESPEAK} is not installed (not found on PATH): {_INSTALL_HINT}")
    return exe


def _run(args: list[str], text: str | None = None) -> subprocess.CompletedProcess:
    cmd = [_espeak(), *args]
    try:
        done = subprocess.run(
            cmd,
            input=None if text is None else text.encode("utf-8"),
            capture_output=True,
            timeout=TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise EspeakError(f"{' '.join(cmd)}: no answer within {TIMEOUT_S:.0f} s") from None
    if done.returncode != 0:
        err = done.stderr.decode("utf-8", "replace").strip()
        raise EspeakError(f"{' '.join(cmd)} failed with exit status {done.returncode}: {err}")
    return done


def espeak_version() -> str:
    """The version espeak-ng reports (``1.51``), for the world's metadata.

    Raises:
        EspeakNotFoundError: espeak-ng is not installed.
    """
    out = _run(["--version"]).stdout.decode("utf-8", "replace")
    found = re.search(r"(\d+\.\d+(?:\.\d+)?)", out)
    return found.group(1) if found else out.strip()


@lru_cache(maxsize=4)
def _known_voices(exe: str) -> tuple[frozenset[str], frozenset[str]]:
    """(language and voice names, variant names) espeak-ng at ``exe`` lists."""

    def names(listing: str) -> set[str]:
        out: set[str] = set()
        for line in listing.splitlines()[1:]:
            cols = line.split()
            if len(cols) >= 5:
                out |= {cols[1], cols[3], cols[4].split("/")[-1]}
        return out

    langs = names(_run(["--voices"]).stdout.decode("utf-8", "replace"))
    variants = {v.lower() for v in names(_run(["--voices=variant"]).stdout.decode("utf-8", "replace"))}
    return frozenset(langs), frozenset(variants)


def check_voices(voices: tuple[str, ...] | list[str]) -> None:
    """Check that espeak-ng knows every voice and variant (it silently falls back on unknown variants).

    Raises:
        EspeakNotFoundError: espeak-ng is not installed.
        EspeakError: naming the unknown voices.
    """
    langs, variants = _known_voices(_espeak())
    bad = []
    for v in voices:
        base, _, variant = v.partition("+")
        if not is_voice_name(v) or base not in langs or (variant and variant.lower() not in variants):
            bad.append(v)
    if bad:
        raise EspeakError(
            f"unknown espeak-ng voice(s) {bad}; see `espeak-ng --voices=en` and `espeak-ng --voices=variant`"
        )


def _espeak_wav(text: str, voice: str, speed: int | None, pitch: int | None) -> bytes:
    """espeak-ng's own WAV file (22.05 kHz mono 16-bit) for ``text``."""
    if not is_voice_name(voice):
        raise EspeakError(f"voice {voice!r} is not an espeak-ng voice name like 'en-us' or 'en-gb+f3'")
    if not text.strip():
        raise ValueError("synthesize: the text is empty")
    args = ["-b", "1", "-v", voice]
    if speed is not None:
        args += ["-s", str(int(speed))]
    if pitch is not None:
        args += ["-p", str(int(pitch))]
    with tempfile.TemporaryDirectory(prefix="polyrlaif-espeak-") as tmp:
        out = os.path.join(tmp, "utt.wav")
        _run([*args, "-w", out, "--stdin"], text=text)
        data = Path(out).read_bytes()
    if len(data) <= 44:
        raise EspeakError(f"{ESPEAK} wrote no audio for voice {voice!r} and text {text[:60]!r}")
    return data


def _decode(data: bytes) -> tuple[np.ndarray, int]:
    with wave.open(io.BytesIO(data), "rb") as w:
        if w.getsampwidth() != 2:
            raise EspeakError(f"expected 16-bit PCM audio, got {8 * w.getsampwidth()}-bit")
        channels, rate = w.getnchannels(), w.getframerate()
        pcm = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float32) / 32768.0
    if channels > 1:
        pcm = pcm.reshape(-1, channels).mean(axis=1)
    return pcm, rate


def wav_bytes(samples: np.ndarray, sample_rate: int) -> bytes:
    """A mono 16-bit PCM WAV file holding ``samples`` (floats in [-1, 1], clipped)."""
    pcm = (np.clip(np.asarray(samples, dtype=np.float32), -1.0, 1.0) * 32767.0).round().astype("<i2")
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(int(sample_rate))
        w.writeframes(pcm.tobytes())
    return buf.getvalue()


def render_wav(
    text: str,
    voice: str,
    *,
    sample_rate: int = 16000,
    speed: int | None = None,
    pitch: int | None = None,
) -> bytes:
    """``text`` spoken by ``voice`` as the bytes of a mono 16-bit WAV file at ``sample_rate``.

    Args:
        text: what to say (plain text; not SSML).
        voice: an espeak-ng voice, optionally with a variant (``en-gb+f3``).
        sample_rate: output rate in Hz.
        speed: words per minute (espeak-ng's default is 175).
        pitch: 0-99 (espeak-ng's default is 50).

    Raises:
        EspeakNotFoundError: espeak-ng is not installed; the message names the install command.
        EspeakError: espeak-ng failed.
    """
    from scipy.signal import resample_poly

    samples, rate = _decode(_espeak_wav(text, voice, speed, pitch))
    if rate != sample_rate:
        g = math.gcd(rate, sample_rate)
        samples = resample_poly(samples, sample_rate // g, rate // g).astype(np.float32)
    return wav_bytes(samples, sample_rate)


def synthesize(
    text: str,
    voice: str,
    out_path: str | os.PathLike,
    *,
    sample_rate: int = 16000,
    speed: int | None = None,
    pitch: int | None = None,
) -> Path:
    """Speak ``text`` with ``voice`` into a 16-bit mono WAV file at ``out_path``, written atomically.

    Args:
        text: what to say (plain text; not SSML).
        voice: an espeak-ng voice, optionally with a variant (``en-us``, ``en-gb+f3``).
        out_path: the WAV file to write (its folder is created).
        sample_rate: output rate in Hz (16000 by default, what speech encoders expect).
        speed: words per minute (espeak-ng's default is 175).
        pitch: 0-99 (espeak-ng's default is 50).

    Returns:
        ``out_path`` as a :class:`~pathlib.Path`.

    Raises:
        EspeakNotFoundError: espeak-ng is not installed; the message names the install command.
        EspeakError: espeak-ng failed, e.g. on an unknown voice.
        ValueError: ``text`` is empty.
    """
    return atomic_write_bytes(
        out_path, render_wav(text, voice, sample_rate=sample_rate, speed=speed, pitch=pitch)
    )


def read_wav(path: str | os.PathLike) -> tuple[np.ndarray, int]:
    """A 16-bit PCM WAV file as float32 samples in [-1, 1] (mono: channels averaged) and its rate.

    Raises:
        ValueError: the file is not 16-bit PCM WAV; the message names it.
    """
    try:
        return _decode(Path(path).read_bytes())
    except (wave.Error, EOFError, EspeakError) as exc:
        raise ValueError(f"{path}: not a 16-bit PCM WAV file ({exc})") from None


def phonemize(word: str, voice: str = "en-us") -> str:
    """espeak-ng's phoneme mnemonics for ``word``, space-separated (``kitchen`` -> ``k 'I tS @ n``).

    Raises:
        EspeakNotFoundError: espeak-ng is not installed.
        EspeakError: espeak-ng failed.
    """
    out = _run(["-q", "-x", "--sep= ", "-b", "1", "-v", voice, "--stdin"], text=word).stdout
    return " ".join(out.decode("utf-8", "replace").split())
