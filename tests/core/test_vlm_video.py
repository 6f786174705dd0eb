"""Video parts in conversations: an image LMM reads a video as its sampled frames in a row, for sampling
(VisionLanguagePolicy) and for supervised fine-tuning (trl_sft)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from polyrlaif.core.tiny import TinyVLMConfig, build_tiny_vlm, corpus_words

WORDS = corpus_words(["which way did the red square move ? left right up down"])


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    from polyrlaif.datasets.video.mp4 import write_mp4

    frames = np.zeros((12, 32, 32, 3), dtype=np.uint8)
    for i in range(12):
        frames[i, 10:16, 2 + 2 * i : 8 + 2 * i] = (230, 40, 40)  # a red square moving right
    return write_mp4(tmp_path_factory.mktemp("clip") / "clip.mp4", frames, fps=8)


@pytest.fixture(scope="module")
def vlm(tmp_path_factory) -> str:
    cfg = TinyVLMConfig(image_size=32, hidden=32, vision_hidden=32, max_positions=512)
    return str(build_tiny_vlm(tmp_path_factory.mktemp("vlm") / "m", WORDS, cfg))


def _conv(clip: Path) -> list[dict]:
    return [
        {
            "role": "user",
            "content": [{"type": "video", "path": str(clip)}, {"type": "text", "text": "which way?"}],
        }
    ]


def test_a_video_becomes_its_frames_for_an_image_lmm(clip: Path) -> None:
    from polyrlaif.core.media import sample_frames
    from polyrlaif.core.vlm import expand_videos

    conv, frames = expand_videos(_conv(clip), 4, as_images=True)
    parts = conv[0]["content"]
    assert [p["type"] for p in parts] == ["image"] * 4 + ["text"] and all("path" not in p for p in parts)
    _, direct = sample_frames(clip, 4)
    assert [np.asarray(f).tolist() for f in frames] == direct.tolist()
    conv, arrays = expand_videos(_conv(clip), 4, as_images=False)
    assert [p["type"] for p in conv[0]["content"]] == ["video", "text"] and arrays[0].shape == (4, 32, 32, 3)


def test_the_policy_answers_about_a_video(clip: Path, vlm: str) -> None:
    from polyrlaif.core.vlm import VisionLanguagePolicy

    policy = VisionLanguagePolicy(vlm, batch_size=2)
    policy.num_frames = 4
    a = policy.generate([_conv(clip)], n=2, temperature=1.0, max_new_tokens=4, seed=3)
    b = policy.generate([_conv(clip)], n=2, temperature=1.0, max_new_tokens=4, seed=3)
    assert a == b and len(a[0]) == 2  # seeded, with the frames in the prompt
    with pytest.raises(Exception, match="missing.mp4"):
        policy.generate([_conv(clip.parent / "missing.mp4")], max_new_tokens=2)


def test_sft_reads_videos_as_frames(clip: Path, vlm: str, tmp_path: Path) -> None:
    from polyrlaif.core.trainers.trl_sft import SFTExample, SFTSettings, sft_train

    examples = [SFTExample(_conv(clip), "right")] * 4
    result = sft_train(vlm, examples, tmp_path / "sft", SFTSettings(epochs=1, batch_size=2, num_frames=4))
    assert (Path(result.model_path) / "config.json").is_file() and result.metrics["steps"] == 2


def test_dpo_rows_read_a_video_as_its_frames(clip: Path) -> None:
    from polyrlaif.core.media import video_ref
    from polyrlaif.core.records import PreferencePair
    from polyrlaif.core.trainers.trl_dpo import has_image_pairs, pairs_to_rows

    pair = PreferencePair("p1", "q1", "which way?", "right", "left", media=[video_ref(clip)])
    assert has_image_pairs([pair])
    (row,) = pairs_to_rows([pair], num_frames=4)
    assert len(row["images"]) == 4
    assert [p["type"] for p in row["prompt"][0]["content"]] == ["image"] * 4 + ["text"]
