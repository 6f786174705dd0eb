"""Frames for training: ``sample_frames`` (and its warm cache) against a naive per-frame decode loop.

All sides read the same clips: ``--clips`` video-world clips (:func:`polyrlaif.datasets.video.sample_clip`
from ``--seed``, ``--frames-per-clip`` frames of ``--image-size`` px, lossless MP4 written by
:func:`~polyrlaif.datasets.video.write_mp4`) in a temporary folder, and every side returns, per clip,
the processor-ready ``(num_frames, H, W, 3)`` uint8 array of the ``--num-frames`` segment-middle frames.

* ``sample_frames``: :func:`polyrlaif.core.media.sample_frames`, the training data path: one decord
  reader, the sampled frames fetched in one ``get_batch``.
* ``naive``: what a first version writes: open a decord reader, decode every frame one by one with
  ``vr[i]``, keep the sampled ones, stack them.
* ``cached``: :class:`polyrlaif.core.media.FrameCache` with the cache warm (filled by an untimed pass):
  a later round's path, reading ``.npy`` files and decoding nothing.

An untimed pass over a few clips warms every side up. Runs alternate their order, and the median
clips/s of ``--repeats`` is reported, since other load on the machine is noise. Printed per run:
seconds and clips/s; then each side's median and the largest pixel difference from ``naive``.

Usage::

    python bench/video_frames.py --quick                     # 64 clips, 2 repeats: seconds
    python bench/video_frames.py --clips 300 --image-size 224 --frames-per-clip 64 --num-frames 8

The last line is ``ratio=X ratio_cached=Y``: ``sample_frames`` clips/s over ``naive`` clips/s, and the
warm cache's clips/s over ``naive`` clips/s (medians).
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

SIDES = ("sample_frames", "naive", "cached")


def write_clips(folder: Path, count: int, frames_per_clip: int, image_size: int, seed: int) -> list[Path]:
    """``count`` video-world clips as MP4 files under ``folder``."""
    from polyrlaif.datasets.video import VideoWorldConfig, sample_clip, write_mp4

    kwargs = VideoWorldConfig(frames_per_clip=frames_per_clip, image_size=image_size).clip_kwargs()
    paths = []
    for i in range(count):
        clip = sample_clip(random.Random(f"bench/{seed}/{i}"), **kwargs)
        paths.append(write_mp4(folder / f"clip_{i:05d}.mp4", clip.render()))
    return paths


def naive_frames(path: Path, num_frames: int) -> Any:
    """Decode every frame one at a time with ``vr[i]`` and keep the segment-middle ones."""
    import decord
    import numpy as np

    from polyrlaif.core.media import frame_indices

    reader = decord.VideoReader(str(path))
    keep = frame_indices(len(reader), num_frames)
    decoded = {}
    for i in range(len(reader)):
        frame = reader[i].asnumpy()
        if i in keep:
            decoded[i] = frame
    return np.stack([decoded[i] for i in keep])


def _run(fn: Callable[[Path], Any], paths: list[Path]) -> tuple[float, list[Any]]:
    start = time.perf_counter()
    out = [fn(p) for p in paths]
    return time.perf_counter() - start, out


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; print a header, one line per run, a summary and ``ratio=X ratio_cached=Y``."""
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--clips", type=int, default=200)
    p.add_argument("--frames-per-clip", type=int, default=32)
    p.add_argument("--image-size", type=int, default=32)
    p.add_argument("--num-frames", type=int, default=8, help="frames sampled per clip")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--quick", action="store_true", help="64 clips, 2 repeats")
    args = p.parse_args(argv)
    if args.quick:
        args.clips, args.repeats = 64, 2

    import decord
    import numpy as np

    from polyrlaif.core.media import FrameCache, sample_frames

    with tempfile.TemporaryDirectory(prefix="video_frames_bench_") as tmp:
        tmp = Path(tmp)
        paths = write_clips(tmp / "clips", args.clips, args.frames_per_clip, args.image_size, args.seed)
        cache = FrameCache(tmp / "cache")
        sides: dict[str, Callable[[Path], Any]] = {
            "sample_frames": lambda path: sample_frames(path, args.num_frames)[1],
            "naive": lambda path: naive_frames(path, args.num_frames),
            "cached": lambda path: cache.frames(path, args.num_frames)[1],
        }
        print(
            f"decord {decord.__version__}, {args.clips} clips of {args.frames_per_clip} frames at "
            f"{args.image_size}x{args.image_size} px, {args.num_frames} sampled, {args.repeats} repeats",
            flush=True,
        )
        _run(sides["cached"], paths)  # fills the cache: the timed cached runs are a later round's
        for fn in sides.values():
            _run(fn, paths[:8])  # warm-up
        rates: dict[str, list[float]] = {s: [] for s in SIDES}
        outputs: dict[str, list[Any]] = {}
        for rep in range(args.repeats):
            order = SIDES if rep % 2 == 0 else SIDES[::-1]
            for name in order:
                seconds, outputs[name] = _run(sides[name], paths)
                rates[name].append(len(paths) / seconds)
                print(
                    f"  repeat {rep + 1} {name:13s} {seconds:7.3f} s  {len(paths) / seconds:9.1f} clips/s",
                    flush=True,
                )
        if cache.misses != len(paths):
            raise RuntimeError(f"the warm cache decoded {cache.misses - len(paths)} clips in timed runs")
        median = {name: statistics.median(r) for name, r in rates.items()}
        for name in SIDES:
            diff = max(
                int(np.abs(a.astype(int) - b.astype(int)).max())
                for a, b in zip(outputs[name], outputs["naive"], strict=True)
            )
            print(f"{name + ':':14s} {median[name]:9.1f} clips/s (median), max pixel diff from naive {diff}")
    print(
        f"ratio={median['sample_frames'] / median['naive']:.2f} "
        f"ratio_cached={median['cached'] / median['naive']:.2f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
