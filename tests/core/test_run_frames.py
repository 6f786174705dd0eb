"""One frame count per run: ``model.num_frames`` decides how many frames of a video every model reads.

The preference recipes build their trainer as ``build_trainer(cfg)``; the DPO rows that trainer gives TRL
must hold the frames the policy sampled with (``model.num_frames``), not a default of the trainer's own.
A video with no frame count is refused rather than read at a guessed one.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from polyrlaif.core.config import LoraConfig, ModelConfig, OptimConfig, RunConfig, TrainConfig
from polyrlaif.core.media import sample_frames, video_ref
from polyrlaif.core.records import PreferencePair
from polyrlaif.core.tiny import TinyVLMConfig, build_tiny_vlm, corpus_words
from polyrlaif.core.trainers.base import build_trainer

pytestmark = pytest.mark.usefixtures("one_thread")

WORDS = corpus_words(["which way did the square move ? left right up down"])


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> dict:
    """A tiny VLM and three 16-frame clips, each frame its own shade (which frames were read is visible)."""
    from polyrlaif.datasets.video.mp4 import write_mp4

    root = tmp_path_factory.mktemp("frames_seam")
    cfg = TinyVLMConfig(image_size=32, hidden=32, vision_hidden=32, max_positions=512)
    vlm = str(build_tiny_vlm(root / "vlm", WORDS, cfg))
    pairs = []
    for i in range(3):
        frames = np.zeros((16, 32, 32, 3), dtype=np.uint8)
        for t in range(16):
            frames[t, :, :] = (10 * t + i, 200 - 10 * t, 60)
            frames[t, 8:14, 2 + t : 8 + t] = (230, 40, 40)  # a square moving right
        clip = write_mp4(root / f"clip{i}.mp4", frames, fps=8)
        pairs.append(
            PreferencePair(
                f"p{i}", f"q{i}", "which way did the square move ?", "right", "left", media=[video_ref(clip)]
            )  # fmt: skip
        )
    return {"vlm": vlm, "pairs": pairs}


def run_config(backend: str, num_frames: int) -> TrainConfig:
    """A preference run's config: one DPO step on CPU, the run's frame count ``num_frames``."""
    optim = OptimConfig(backend=backend, lr=1e-3, max_steps=1, batch_size=2, max_length=512,
                        lora=LoraConfig(enabled=False))  # fmt: skip
    return TrainConfig(
        model=ModelConfig(device="cpu", num_frames=num_frames), optim=optim, run=RunConfig(seed=0)
    )


@pytest.mark.parametrize("num_frames", [4, 8])
def test_the_dpo_rows_hold_the_runs_frames_per_video(world, num_frames):
    trainer = build_trainer(run_config("trl", num_frames))  # as the preference and pairs recipes build it
    rows = trainer.rows(world["pairs"])
    for pair, row in zip(world["pairs"], rows, strict=True):
        assert [p["type"] for p in row["prompt"][0]["content"]] == ["image"] * num_frames + ["text"]
        _, frames = sample_frames(pair.media[0].uri, num_frames)  # what the policy reads, pixel for pixel
        assert [np.asarray(im).tolist() for im in row["images"]] == frames.tolist()


@pytest.mark.parametrize(("backend", "num_frames"), [("fast", 4), ("trl", 8)])
def test_a_dpo_update_trains_on_the_runs_frames(world, tmp_path, backend, num_frames):
    # "fast" hands pairs with video to TRL's vision path; either way the update reads model.num_frames
    result = build_trainer(run_config(backend, num_frames)).train(world["vlm"], world["pairs"], tmp_path)
    assert (Path(result.model_path) / "config.json").is_file() and result.metrics["steps"] == 1
    assert result.metrics["images_per_prompt"] == num_frames


def test_a_video_without_a_frame_count_is_refused(world):
    from polyrlaif.core.trainers.trl_dpo import pairs_to_rows
    from polyrlaif.core.vlm import encode_multimodal

    with pytest.raises(ValueError, match=r"clip0\.mp4.*no frame count given \(the run's model.num_frames\)"):
        pairs_to_rows(world["pairs"])
    conv = [{"role": "user", "content": [{"type": "video", "path": world["pairs"][0].media[0].uri}]}]
    with pytest.raises(ValueError, match="no frame count given"):
        encode_multimodal(None, [conv], "cpu", num_frames=None)
