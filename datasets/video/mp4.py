"""Writing frames as MP4 that decord reads back bit-exactly.

Frames are encoded with FFmpeg's ``libx264rgb`` at ``crf 0`` through PyAV: lossless H.264 in RGB, with
no YUV conversion or chroma subsampling, so every decoded pixel equals the drawn one and the palette
colours survive exactly (a ``yuv420p`` encode smears a 32 px frame's colours by up to ~100 levels).
One encoder thread: clips are tiny, and the world encodes many of them in a row.

The bytes depend on the FFmpeg/x264 build that PyAV bundles (its version string is in the file), so a
world's reproducibility is checked on decoded frames, not on MP4 bytes.
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import TYPE_CHECKING

from polyrlaif.core.io import atomic_write_bytes

if TYPE_CHECKING:
    import numpy as np

__all__ = ["encode_mp4", "write_mp4"]


def encode_mp4(frames: np.ndarray, fps: int = 8) -> bytes:
    """Encode RGB frames losslessly as MP4.

    Args:
        frames: uint8 array ``(num_frames, height, width, 3)``, RGB; height and width even.
        fps: frames per second stored in the file.

    Returns:
        The MP4 file's bytes.

    Raises:
        ValueError: a wrongly shaped or typed array, or odd frame sides.
    """
    import av  # lazy: only world generation and tests write video
    import numpy as np

    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8 or len(frames) == 0:
        raise ValueError(
            f"frames must be a non-empty uint8 (T, H, W, 3) array, got {frames.dtype} {frames.shape}"
        )
    _, height, width, _ = frames.shape
    if height % 2 or width % 2:
        raise ValueError(f"frame sides must be even for H.264, got {width}x{height}")
    buf = io.BytesIO()
    with av.open(buf, "w", format="mp4") as container:
        stream = container.add_stream("libx264rgb", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "rgb24"
        stream.options = {"crf": "0", "preset": "veryfast"}
        stream.codec_context.thread_count = 1
        for frame in frames:
            container.mux(
                stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24"))
            )
        container.mux(stream.encode())  # flush the encoder's delayed frames
    return buf.getvalue()


def write_mp4(path: str | os.PathLike, frames: np.ndarray, fps: int = 8) -> Path:
    """:func:`encode_mp4`, written atomically to ``path`` (its folder is created)."""
    return atomic_write_bytes(path, encode_mp4(frames, fps))
