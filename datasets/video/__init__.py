"""The video world: the shape world extended into time, for video LMM RLAIF (``video_lmm``).

Short clips (16-32 frames, 32 x 32 px by default) show 1-3 of the draw world's flat shapes that
appear, move (left, right, up, down), change colour or disappear, one event at a time. Each clip comes
with its ground-truth events, a detailed description (what a context-aware judge reads) and MSVD-QA
style questions about order, direction, colour changes, counts and (dis)appearances. Videos are
lossless MP4 that decord reads back pixel for pixel.

:mod:`.clip` holds and renders clips, :mod:`.sample` draws them, :mod:`.text` writes descriptions,
questions and wrong answers, :mod:`.mp4` encodes frames, :mod:`.files` builds the rows and
:mod:`.world` writes the files (layout in its module docstring).

Example::

    from polyrlaif.core.media import sample_frames
    from polyrlaif.datasets.video import VideoWorldConfig, generate_video_world, load_clips

    manifest = generate_video_world("runs/video_world", VideoWorldConfig(seed=0))
    indices, frames = sample_frames(manifest.file("videos/test_00001.mp4"), num_frames=8)
    truth = load_clips(manifest.data_dir, "test")["test_00001"]
"""

from polyrlaif.datasets.video.clip import DIRECTIONS, EVENT_TYPES, STEPS, Clip, ClipEvent, ClipObject
from polyrlaif.datasets.video.mp4 import encode_mp4, write_mp4
from polyrlaif.datasets.video.sample import sample_clip
from polyrlaif.datasets.video.text import (
    ANSWER_VOCAB,
    COUNT_WORDS,
    QA_TYPES,
    describe,
    location,
    qa_items,
    wrong_answer,
)
from polyrlaif.datasets.video.world import (
    SPLITS,
    WORLD_FORMAT,
    VideoWorldConfig,
    VideoWorldManifest,
    generate_video_world,
    load_clips,
    load_video_world,
)

__all__ = [
    "ANSWER_VOCAB",
    "COUNT_WORDS",
    "DIRECTIONS",
    "EVENT_TYPES",
    "QA_TYPES",
    "SPLITS",
    "STEPS",
    "WORLD_FORMAT",
    "Clip",
    "ClipEvent",
    "ClipObject",
    "VideoWorldConfig",
    "VideoWorldManifest",
    "describe",
    "encode_mp4",
    "generate_video_world",
    "load_clips",
    "load_video_world",
    "location",
    "qa_items",
    "sample_clip",
    "wrong_answer",
    "write_mp4",
]
