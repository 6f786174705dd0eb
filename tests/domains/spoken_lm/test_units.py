"""Speech units (``domains/spoken_lm/units.py``): audio loading, unit text, and the k-means unit tokenizer
over log-mel, MFCC and a tiny random HuBERT saved locally, on synthetic tones, chirps and noise."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.io import wavfile

from polyrlaif.domains.spoken_lm.units import (
    UnitTokenizer,
    load_audio,
    save_audio,
    text_to_units,
    units_to_text,
)

SR = 16000


@pytest.fixture(autouse=True)
def _one_thread():
    torch.set_num_threads(1)


def tone(freq: float, seconds: float = 0.5, sr: int = SR, amp: float = 0.5) -> torch.Tensor:
    t = torch.arange(int(seconds * sr)) / sr
    return amp * torch.sin(2 * math.pi * freq * t)


def chirp(f0: float, f1: float, seconds: float = 0.5) -> torch.Tensor:
    t = torch.arange(int(seconds * SR)) / SR
    return 0.5 * torch.sin(2 * math.pi * (f0 * t + (f1 - f0) * t**2 / (2 * seconds)))


def noisy(wav: torch.Tensor, seed: int) -> torch.Tensor:
    """A little background noise, as any recording has (and so no frame is digital silence)."""
    return wav + 0.01 * torch.randn(len(wav), generator=torch.Generator().manual_seed(seed))


def utterance(seed: int) -> torch.Tensor:
    """A speech-like clip: five 0.2 s "syllables", each a tone, a chirp or a noise burst."""
    rng = torch.Generator().manual_seed(seed)
    parts = []
    for _ in range(5):
        kind = int(torch.randint(3, (1,), generator=rng))
        if kind == 0:
            parts.append(tone([200, 500, 1200, 3000][int(torch.randint(4, (1,), generator=rng))], 0.2))
        elif kind == 1:
            parts.append(
                chirp(300, 3000, 0.2) if torch.rand(1, generator=rng) < 0.5 else chirp(3000, 300, 0.2)
            )
        else:
            parts.append(0.3 * torch.randn(int(0.2 * SR), generator=rng))
    return noisy(torch.cat(parts), seed)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """Ten synthetic utterances of tones, chirps and noise (the last: a low tone, then a high one)."""
    root = tmp_path_factory.mktemp("speech")
    clips = [utterance(i) for i in range(9)] + [noisy(torch.cat([tone(200), tone(3000)]), 9)]
    return [save_audio(root / f"clip{i}.wav", clip) for i, clip in enumerate(clips)]


def test_unit_text_round_trip_and_parsing():
    units = [12, 5, 40, 0, 5]
    text = units_to_text(units)
    assert text == "<u12> <u5> <u40> <u0> <u5>"
    assert text_to_units(text) == units
    assert text_to_units("  <u3>\n<u4>\t") == [3, 4]
    with pytest.raises(ValueError, match="hello"):
        text_to_units("<u1> hello <u2>")
    assert text_to_units("<u1> hello <u2> <s>", strict=False) == [1, 2]


def test_load_audio_mixes_stereo_and_resamples(tmp_path):
    sr = 44100
    left = tone(440, seconds=1.0, sr=sr).numpy()
    stereo = np.stack([left, np.zeros_like(left)], 1)  # right channel silent: the mix is half the left
    path = tmp_path / "stereo44k.wav"
    wavfile.write(path, sr, (stereo * 32767).astype(np.int16))
    wav, reason = load_audio(path)
    assert reason is None and wav.dim() == 1 and wav.dtype == torch.float32
    assert abs(len(wav) - SR) <= 1
    spectrum = torch.fft.rfft(wav).abs()
    assert abs(spectrum.argmax().item() * SR / len(wav) - 440) < 2  # the pitch survives resampling
    assert wav.abs().max().item() == pytest.approx(0.25, abs=0.01)  # (0.5 + 0) / 2

    as_float = tmp_path / "float.wav"
    wavfile.write(as_float, SR, tone(300).numpy().astype(np.float32))
    wav, reason = load_audio(as_float)
    assert reason is None and torch.allclose(wav, tone(300), atol=1e-6)
    # our own writer reads back at 16-bit precision
    wav, _ = load_audio(save_audio(tmp_path / "ours.wav", tone(300)))
    assert torch.allclose(wav, tone(300), atol=1e-4)


def test_load_audio_reasons_for_bad_files(tmp_path):
    empty = tmp_path / "empty.wav"
    wavfile.write(empty, SR, np.zeros(0, dtype=np.int16))
    garbage = tmp_path / "garbage.wav"
    garbage.write_bytes(b"this is not audio at all" * 20)
    zero_bytes = tmp_path / "zero.wav"
    zero_bytes.write_bytes(b"")
    for path, category in [
        (empty, "empty:"),
        (garbage, "unreadable:"),
        (zero_bytes, "unreadable:"),
        (tmp_path / "missing.wav", "unreadable:"),
    ]:
        wav, reason = load_audio(path)
        assert wav is None and reason.startswith(category), (path.name, reason)


@pytest.mark.parametrize(("features", "dims"), [("logmel", 40), ("mfcc", 39)])
def test_spectral_units(corpus, features, dims):
    tok = UnitTokenizer.fit(corpus, n_units=8, features=features, seed=0)
    assert tok.centroids.shape == (8, dims) and tok.frame_rate == 50.0 and tok.n_units == 8
    assert tok.tokens() == [f"<u{i}>" for i in range(8)]
    feats = tok.frame_features(corpus[0])
    assert feats.shape == (51, dims)  # 1 s at 50 frames/s, centred frames
    # per-utterance normalisation: zero mean, unit variance over time in every dimension
    assert feats.mean(0).abs().max() < 1e-4
    assert torch.allclose(feats.std(0, unbiased=False), torch.ones(dims), atol=1e-2)
    raw = tok.encode(corpus[9], dedup=False)  # 200 Hz then 3 kHz
    assert len(raw) == 51 and all(0 <= u < 8 for u in raw)
    # the two halves get different units, and a louder copy of the same audio the same units
    assert raw[5] != raw[-5]
    wav, _ = load_audio(corpus[9])
    assert tok.encode(wav * 1.5, dedup=False) == raw


def test_deduplication_collapses_runs():
    wav = noisy(torch.cat([tone(200), tone(200), tone(3000)]), 0)  # a long low tone, then a high one
    feats = UnitTokenizer(torch.zeros(1, 40), features="logmel").frame_features(wav)
    # two units by hand: the mean frame of each tone
    tok = UnitTokenizer(torch.stack([feats[5:45].mean(0), feats[55:70].mean(0)]), features="logmel")
    raw = tok.encode(wav, dedup=False)
    assert len(raw) == 76 and set(raw[2:48]) == {0} and set(raw[52:74]) == {1}
    dedup = tok.encode(wav)
    assert dedup == [u for i, u in enumerate(raw) if i == 0 or u != raw[i - 1]]
    assert all(a != b for a, b in zip(dedup, dedup[1:], strict=False))
    assert 0 in dedup and 1 in dedup and len(dedup) <= 4  # the edge frames may take either unit
    assert tok.from_text(tok.to_text(dedup)) == dedup
    with pytest.raises(ValueError, match="out of range"):
        tok.from_text("<u0> <u7>")


def test_fit_is_deterministic_and_save_load_round_trips(corpus, tmp_path):
    a = UnitTokenizer.fit(corpus, n_units=6, features="mfcc", seed=3)
    b = UnitTokenizer.fit(corpus, n_units=6, features="mfcc", seed=3)
    assert torch.equal(a.centroids, b.centroids)
    out = a.save(tmp_path / "units")
    assert sorted(p.name for p in out.iterdir()) == ["centroids.npy", "unit_tokenizer.json"]
    loaded = UnitTokenizer.load(out)
    assert torch.equal(loaded.centroids, a.centroids)
    assert (loaded.features, loaded.n_units, loaded.frame_rate) == ("mfcc", 6, 50.0)
    for path in corpus:
        assert loaded.encode(path) == a.encode(path)
    # a subset of frames (max_frames) is drawn from the seed too
    c = UnitTokenizer.fit(corpus, n_units=6, features="mfcc", seed=3, max_frames=100)
    d = UnitTokenizer.fit(corpus, n_units=6, features="mfcc", seed=3, max_frames=100)
    assert torch.equal(c.centroids, d.centroids) and not torch.equal(c.centroids, a.centroids)
    with pytest.raises(FileNotFoundError, match="UnitTokenizer"):
        UnitTokenizer.load(tmp_path)


def test_fit_skips_unreadable_files_and_needs_one(corpus, tmp_path):
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"garbage")
    tok = UnitTokenizer.fit([bad, *corpus[:3]], n_units=4, features="logmel")
    assert tok.n_units == 4
    with pytest.raises(ValueError, match="no readable audio"):
        UnitTokenizer.fit([bad], n_units=4)
    with pytest.raises(ValueError, match="frames cannot make"):
        UnitTokenizer.fit(corpus[:1], n_units=100)
    with pytest.raises(ValueError, match="unreadable"):
        tok.encode(bad)


@pytest.fixture(scope="module")
def tiny_hubert(tmp_path_factory):
    """A randomly initialised 2-layer HubertModel with its feature extractor, saved locally."""
    from transformers import HubertConfig, HubertModel, Wav2Vec2FeatureExtractor

    torch.manual_seed(0)
    config = HubertConfig(
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        conv_dim=(16,) * 7,
        num_conv_pos_embeddings=16,
        num_conv_pos_embedding_groups=2,
    )
    out = tmp_path_factory.mktemp("hubert")
    HubertModel(config).eval().save_pretrained(out)
    Wav2Vec2FeatureExtractor(feature_size=1, sampling_rate=SR, do_normalize=True).save_pretrained(out)
    return out


def test_hubert_units_from_a_local_model(corpus, tiny_hubert, tmp_path):
    from transformers import HubertModel

    tok = UnitTokenizer.fit(corpus, n_units=5, features=str(tiny_hubert), layer=1, seed=0)
    assert tok.frame_rate == 50.0 and tok.centroids.shape == (5, 32)
    # the features are the layer-1 hidden states of the normalised waveform, computed independently
    wav, _ = load_audio(corpus[0])
    model = HubertModel.from_pretrained(tiny_hubert).eval()
    with torch.no_grad():
        x = ((wav - wav.mean()) / torch.sqrt(wav.var(unbiased=False) + 1e-7))[None]
        expected = model(x, output_hidden_states=True).hidden_states[1][0]
    feats = tok.frame_features(corpus[0])
    assert feats.shape == (49, 32)  # 16000 samples through the conv stack (stride 320, 400 receptive)
    assert torch.allclose(feats, expected, atol=1e-4)
    raw = tok.encode(corpus[0], dedup=False)
    assert raw == torch.cdist(expected, tok.centroids).argmin(1).tolist()

    loaded = UnitTokenizer.load(tok.save(tmp_path / "hubert_units"))
    assert loaded.layer == 1 and loaded.encode(corpus[0], dedup=False) == raw
    with pytest.raises(ValueError, match="layer"):
        UnitTokenizer.fit(corpus, n_units=5, features=str(tiny_hubert), layer=3)
