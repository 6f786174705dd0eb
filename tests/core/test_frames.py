"""Video frames: sample_frames (indices, pixels, bad files) and the frame cache."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys

import numpy as np
import pytest

from polyrlaif.core.io import InputError
from polyrlaif.core.media import FrameCache, cached_frames, frame_indices, sample_frames, video_ref
from polyrlaif.datasets.video.mp4 import write_mp4


def _colour(i: int) -> tuple[int, int, int]:
    return (10 * i % 256, 255 - 9 * i % 256, 40 + 5 * i)


def _numbered_clip(path, n: int, size: int = 32):
    """A clip whose frame i is filled with _colour(i), so a decoded frame tells which frame it is."""
    frames = np.empty((n, size, size, 3), dtype=np.uint8)
    for i in range(n):
        frames[i] = _colour(i)
    write_mp4(path, frames)
    return frames


def _which_frame(frame: np.ndarray, n: int) -> int:
    mean = frame.reshape(-1, 3).mean(axis=0)
    return int(np.argmin([np.abs(mean - np.array(_colour(i))).sum() for i in range(n)]))


def test_frame_indices_are_segment_middles():
    assert frame_indices(16, 8) == [1, 3, 5, 7, 9, 11, 13, 15]
    assert frame_indices(20, 5) == [2, 6, 10, 14, 18]
    for total, n in [(16, 8), (7, 3), (100, 7), (31, 32), (1, 4)]:
        got = frame_indices(total, n)
        assert got == [min(int((i + 0.5) * total / n), total - 1) for i in range(n)]
        assert all(0 <= k < total for k in got)
    with pytest.raises(ValueError):
        frame_indices(0, 4)


def test_sample_frames_reads_the_middle_frame_of_each_segment(tmp_path):
    path = tmp_path / "numbered.mp4"
    written = _numbered_clip(path, 20)
    indices, frames = sample_frames(path, 5)
    assert indices == [2, 6, 10, 14, 18]
    assert frames.shape == (5, 32, 32, 3) and frames.dtype == np.uint8
    assert [_which_frame(f, 20) for f in frames] == indices
    # lossless RGB H.264: the colours survive the round trip
    assert np.abs(frames.astype(int) - written[indices].astype(int)).max() <= 2


def test_a_short_video_repeats_frames(tmp_path):
    path = tmp_path / "short.mp4"
    _numbered_clip(path, 3)
    indices, frames = sample_frames(path, 8)
    assert indices == [0, 0, 0, 1, 1, 2, 2, 2]
    assert frames.shape == (8, 32, 32, 3)
    assert [_which_frame(f, 3) for f in frames] == indices


@pytest.mark.parametrize("kind", ["missing", "empty", "garbage", "truncated", "directory"])
def test_bad_videos_raise_input_error_naming_the_file(tmp_path, kind):
    path = tmp_path / f"{kind}.mp4"
    if kind == "empty":
        path.write_bytes(b"")
    elif kind == "garbage":
        path.write_bytes(bytes(range(256)) * 20)
    elif kind == "truncated":
        _numbered_clip(tmp_path / "whole.mp4", 16)
        path.write_bytes((tmp_path / "whole.mp4").read_bytes()[:600])
    elif kind == "directory":
        path.mkdir()
    with pytest.raises(InputError, match=str(path)):
        sample_frames(path, 4)
    with pytest.raises(InputError, match=str(path)):
        cached_frames(path, 4, tmp_path / "cache")


def test_num_frames_must_be_positive(tmp_path):
    path = tmp_path / "v.mp4"
    _numbered_clip(path, 4)
    with pytest.raises(ValueError, match="num_frames"):
        sample_frames(path, 0)


def test_video_ref_carries_the_content_hash(tmp_path):
    path = tmp_path / "v.mp4"
    _numbered_clip(path, 4)
    ref = video_ref(path)
    assert (ref.kind, ref.uri) == ("video", str(path))
    assert ref.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def decord_constructions(monkeypatch):
    """Counts real decord.VideoReader constructions on the path sample_frames takes."""
    import decord

    count = {"n": 0}
    real = decord.VideoReader

    class CountingReader(real):
        def __init__(self, *args, **kwargs):
            count["n"] += 1
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(decord, "VideoReader", CountingReader)
    return count


def test_cache_decodes_once_per_content_and_num_frames(tmp_path, decord_constructions):
    video, cache_dir = tmp_path / "v.mp4", tmp_path / "cache"
    _numbered_clip(video, 16)
    first = FrameCache(cache_dir).frames(video, 8)
    assert decord_constructions["n"] == 1
    assert sorted(p.suffix for p in cache_dir.iterdir()) == [".json", ".npy"]

    # a later round: a new cache object over the same folder decodes nothing
    later = FrameCache(cache_dir)
    again = later.frames(video, 8)
    assert decord_constructions["n"] == 1 and (later.hits, later.misses) == (1, 0)
    assert again[0] == first[0] and np.array_equal(again[1], first[1])
    assert np.array_equal(first[1], sample_frames(video, 8)[1])  # what the cache holds is what decord reads
    assert decord_constructions["n"] == 2

    # the key is the content: a copy elsewhere hits, another num_frames or other bytes miss
    copy = tmp_path / "copy.mp4"
    shutil.copy(video, copy)
    cached_frames(copy, 8, cache_dir)
    assert decord_constructions["n"] == 2
    cached_frames(video, 4, cache_dir)
    assert decord_constructions["n"] == 3
    _numbered_clip(video, 12)
    _, frames = cached_frames(video, 8, cache_dir)
    assert decord_constructions["n"] == 4 and [_which_frame(f, 12) for f in frames] == frame_indices(12, 8)


def test_a_damaged_cache_entry_is_decoded_again(tmp_path, decord_constructions):
    video, cache_dir = tmp_path / "v.mp4", tmp_path / "cache"
    _numbered_clip(video, 16)
    _, frames = cached_frames(video, 8, cache_dir)
    next(cache_dir.glob("*.npy")).write_bytes(b"not an array")
    _, again = cached_frames(video, 8, cache_dir)
    assert decord_constructions["n"] == 2 and np.array_equal(again, frames)


def test_importing_media_and_the_video_world_loads_no_decoder():
    code = (
        "import sys, polyrlaif.core.media, polyrlaif.datasets.video; "
        "print(sorted(m for m in ('decord', 'av') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
