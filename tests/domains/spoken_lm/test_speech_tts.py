"""espeak-ng synthesis: 16 kHz mono files of plausible length, safe text, and a clear error without it."""

from __future__ import annotations

import wave

import pytest

from polyrlaif.datasets.speech import (
    EspeakError,
    EspeakNotFoundError,
    SpeechWorldConfig,
    check_voices,
    espeak_available,
    generate_speech_world,
    phonemize,
    read_wav,
    synthesize,
)

needs_espeak = pytest.mark.skipif(
    not espeak_available(), reason="espeak-ng is not installed (sudo apt-get install espeak-ng)"
)


@needs_espeak
def test_synthesize_writes_16khz_mono_speech_of_plausible_length(tmp_path):
    short = synthesize("Tom went to the park.", "en-us", tmp_path / "a" / "short.wav")
    long = synthesize(
        "Tom went to the park. He took his new kite. He flew the kite high in the sky.",
        "en-gb+f3",
        tmp_path / "long.wav",
        speed=160,
        pitch=60,
    )
    with wave.open(str(short)) as w:
        assert (w.getnchannels(), w.getsampwidth(), w.getframerate()) == (1, 2, 16000)
    samples, rate = read_wav(short)
    assert rate == 16000 and 0.6 < len(samples) / rate < 4.0
    assert 0.05 < abs(samples).max() <= 1.0  # speech, not silence
    long_samples, _ = read_wav(long)
    assert len(long_samples) > 2.5 * len(samples)
    assert not list(tmp_path.rglob("*.tmp"))  # written atomically, nothing left behind


@needs_espeak
def test_other_rates_and_voices_and_text_that_looks_like_an_option(tmp_path):
    out = synthesize("-w /tmp/evil.wav --version", "en-us", tmp_path / "x.wav", sample_rate=8000)
    samples, rate = read_wav(out)
    assert rate == 8000 and len(samples) > 0.5 * rate  # spoken, not taken as options
    a, _ = read_wav(synthesize("Anna went to the lake.", "en-us", tmp_path / "a.wav"))
    b, _ = read_wav(synthesize("Anna went to the lake.", "en-us+f3", tmp_path / "b.wav"))
    assert a.shape != b.shape or abs(a - b).max() > 0.01  # a variant sounds different


@needs_espeak
def test_unknown_voices_and_empty_text_fail_clearly(tmp_path):
    with pytest.raises(EspeakError, match="en-us\\+nosuchvariant"):
        check_voices(["en-us", "en-us+nosuchvariant"])
    with pytest.raises(EspeakError):
        synthesize("hello", "xx-nosuch", tmp_path / "x.wav")
    with pytest.raises(ValueError, match="empty"):
        synthesize("  ", "en-us", tmp_path / "y.wav")
    assert not (tmp_path / "x.wav").exists()


@needs_espeak
def test_phonemize_gives_space_separated_espeak_phonemes():
    assert phonemize("kitchen") == "k 'I tS @ n"
    assert phonemize("kitchem") != phonemize("kitchen")


def test_missing_espeak_names_the_install_command(tmp_path, monkeypatch):
    empty = tmp_path / "bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    assert not espeak_available()
    with pytest.raises(EspeakNotFoundError, match="apt-get install espeak-ng"):
        synthesize("hello", "en-us", tmp_path / "x.wav")
    with pytest.raises(EspeakNotFoundError, match="make install"):
        generate_speech_world(tmp_path / "world", SpeechWorldConfig(train_stories=2))
    assert not (tmp_path / "x.wav").exists() and not (tmp_path / "world").exists()


def test_read_wav_rejects_other_files(tmp_path):
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"not a wav file")
    with pytest.raises(ValueError, match="bad.wav"):
        read_wav(bad)
