"""Online RL of a vision policy: GRPO steps of a tiny VLM on video prompts against a tiny trained vision
reward model, through the core's trainer seam (the frames read as images, through the frame cache)."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest

from polyrlaif.core.config import LoraConfig, ModelConfig, OptimConfig, RLConfig, RunConfig, TrainConfig
from polyrlaif.core.io import InputError
from polyrlaif.core.judges.vision_reward_model import VisionRewardModelScorer
from polyrlaif.core.media import FrameCache, sample_frames
from polyrlaif.core.protocols import OnlineTask
from polyrlaif.core.records import MediaRef, PreferencePair
from polyrlaif.core.registry import TRAINERS
from polyrlaif.core.tiny import TinyVLMConfig, build_tiny_vlm, corpus_words
from polyrlaif.core.trainers.base import DONE_MARKER, build_trainer
from polyrlaif.core.trainers.grpo_vision import vision_rows
from polyrlaif.core.trainers.trl_grpo import grpo_train, read_steps

pytestmark = pytest.mark.usefixtures("one_thread")

COLOURS = {"red": (220, 40, 40), "green": (40, 200, 60), "blue": (50, 60, 220)}
QUESTION = "what colour is the video ?"
NUM_FRAMES = 2


def write_clip(path: Path, colour: str, rng: random.Random) -> Path:
    """Four 32x32 frames of one colour, each its own shade (frame order is visible), as a lossless MP4."""
    from polyrlaif.datasets.video.mp4 import write_mp4

    frames = np.empty((4, 32, 32, 3), dtype=np.uint8)
    for k in range(4):
        frames[k] = [round(c * rng.uniform(0.6, 1.0)) for c in COLOURS[colour]]
    return write_mp4(path, frames, fps=4)


def video_prompt(clip: Path) -> list[dict]:
    return [
        {
            "role": "user",
            "content": [{"type": "video", "path": str(clip)}, {"type": "text", "text": QUESTION}],
        }
    ]


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A tiny VLM, six clips, and a vision reward model trained briefly on which colour the answer names."""
    root = tmp_path_factory.mktemp("vlm_rl")
    rng = random.Random(0)
    words = corpus_words([QUESTION, "it is", *COLOURS])
    vlm = str(build_tiny_vlm(root / "vlm", words, TinyVLMConfig(image_size=32, hidden=32, vision_hidden=32)))
    clips = [write_clip(root / f"clip{i}.mp4", list(COLOURS)[i % 3], rng) for i in range(6)]
    pairs = []
    for i, clip in enumerate(clips):
        colour = list(COLOURS)[i % 3]
        wrong = rng.choice([c for c in COLOURS if c != colour])
        media = [MediaRef("video", str(clip))]
        pairs.append(
            PreferencePair(f"p{i}", f"q{i}", QUESTION, f"it is {colour}", f"it is {wrong}", media=media)
        )
    optim = OptimConfig(
        lr=1e-3, max_steps=4, batch_size=3, reward_eval_fraction=0.3, lora=LoraConfig(enabled=False)
    )
    cfg = TrainConfig(
        optim=optim, model=ModelConfig(device="cpu", num_frames=NUM_FRAMES), run=RunConfig(seed=0)
    )
    rm = TRAINERS.get("reward_model")(cfg).train(vlm, pairs, root / "rm")
    return {"vlm": vlm, "clips": clips, "rm": rm.model_path, "root": root}


def _weights(path: str) -> dict:
    from safetensors.torch import load_file

    return load_file(f"{path}/model.safetensors")


def test_grpo_steps_of_a_vlm_against_the_vision_reward_model_log_reward_and_kl(world, tmp_path):
    from PIL import Image

    scorer = VisionRewardModelScorer(world["rm"], device="cpu")
    reward = scorer.as_reward_fn()
    seen: list[tuple[list, list[float | None]]] = []

    def recorded(prompts, completions, **columns):
        out = reward(prompts, completions, **columns)
        seen.append((prompts, out))
        return out

    rl = RLConfig(beta=0.1, lr=1e-2, num_generations=2, batch_size=4, max_steps=2, max_completion_length=6)
    # the run's one frame count: the trainer samples the policy's frames with it, as the reward model did
    cfg = TrainConfig(rl=rl, model=ModelConfig(device="cpu", num_frames=NUM_FRAMES), run=RunConfig(seed=0))
    rows = [{"prompt": video_prompt(c), "clip": c.name} for c in world["clips"][:2]]
    cache = tmp_path / "frames"
    task = OnlineTask(rows, {"reward_model": recorded}, frame_cache=str(cache))
    result = build_trainer(cfg, "grpo").train(world["vlm"], task, tmp_path / "rl")

    # the saved policy is a whole VLM checkpoint: the next round and the evaluation load it
    model = tmp_path / "rl" / "model"
    assert (model / DONE_MARKER).is_file() and (model / "processor_config.json").is_file()
    from polyrlaif.core.vlm import load_vlm

    loaded, processor = load_vlm(str(model), device="cpu")
    assert type(loaded).__name__ == "LlavaForConditionalGeneration" and processor.chat_template
    before, after = _weights(world["vlm"]), _weights(result.model_path)
    assert any(not (before[k] == after[k]).all() for k in before)

    steps = read_steps(tmp_path / "rl")
    assert len(steps) == 2 and len(seen) == 2 and not scorer.stats.failures
    for step, (prompts, batch) in zip(steps, seen, strict=True):
        assert len(batch) == 4 and all(isinstance(x, float) for x in batch)
        assert step["rewards/reward_model/mean"] == pytest.approx(sum(batch) / len(batch), rel=1e-5)
        # the reward model read the frames the policy read: num_frames images in each prompt, in order
        for prompt in prompts:
            images = [p["image"] for m in prompt for p in m["content"] if p["type"] == "image"]
            assert len(images) == NUM_FRAMES and all(isinstance(im, Image.Image) for im in images)
    # ... and they are the clips' sampled frames, pixel for pixel (TRL's dataset stores them losslessly)
    frames = [sample_frames(c, NUM_FRAMES)[1] for c in world["clips"][:2]]
    for prompt in seen[0][0]:
        images = [np.asarray(p["image"]) for m in prompt for p in m["content"] if p["type"] == "image"]
        assert any(all(np.array_equal(a, b) for a, b in zip(images, f, strict=True)) for f in frames)
    # KL to the starting policy: 0 before the first update, above 0 once the policy has moved
    assert steps[0]["kl"] == pytest.approx(0.0, abs=1e-6) and steps[1]["kl"] > 0
    assert result.metrics["kl"] == steps[1]["kl"] and "reward" in steps[0]
    # the frames were cached: a later round reads them from disk and decodes nothing
    again = FrameCache(cache)
    for c in world["clips"][:2]:
        again.frames(c, NUM_FRAMES)
    assert (again.hits, again.misses) == (2, 0)


def test_vision_rows_read_videos_as_frames_and_images_in_order(world, tmp_path):
    from PIL import Image

    png = tmp_path / "still.png"
    Image.new("RGB", (32, 32), (10, 20, 30)).save(png)
    prompt = [
        {"role": "system", "content": "be brief"},
        {
            "role": "user",
            "content": [{"type": "image", "path": str(png)}, *video_prompt(world["clips"][0])[0]["content"]],
        },
    ]
    (row,) = vision_rows([{"prompt": prompt, "k": 1}], 3, tmp_path / "cache")
    assert row["k"] == 1 and len(row["images"]) == 4
    assert row["prompt"][0]["content"] == [{"type": "text", "text": "be brief"}]
    assert [p["type"] for p in row["prompt"][1]["content"]] == ["image"] * 4 + ["text"]
    assert np.asarray(row["images"][0]).tolist() == np.asarray(Image.open(png).convert("RGB")).tolist()
    _, frames = sample_frames(world["clips"][0], 3)
    assert all(np.array_equal(np.asarray(im), f) for im, f in zip(row["images"][1:], frames, strict=True))
    with pytest.raises(InputError, match=r"prompt row 0: video file not found: .*missing\.mp4"):
        vision_rows([{"prompt": video_prompt(tmp_path / "missing.mp4")}], 2)


def test_prompt_length_counts_image_tokens_and_a_text_policy_is_refused(world, tiny_lm_path, tmp_path):
    rl = RLConfig(num_generations=2, batch_size=2, max_steps=1, max_prompt_length=20)
    rows = [{"prompt": video_prompt(world["clips"][0])}]
    # the text is 8 tokens; two 32x32 frames in 8x8 patches add 16 image tokens each
    with pytest.raises(
        ValueError, match=r"prompt row 0 has 40 tokens with its 2 image\(s\), over max_prompt_length=20"
    ):
        grpo_train(
            world["vlm"], rows, {"r": lambda p, c, **k: [0.0] * len(c)}, tmp_path / "a", rl,
            model=ModelConfig(num_frames=2),
        )  # fmt: skip
    with pytest.raises(
        ValueError, match="prompts carry images or video, and this checkpoint is not an image-text"
    ):
        grpo_train(tiny_lm_path, rows, {"r": lambda p, c, **k: [0.0] * len(c)}, tmp_path / "b", rl)
    assert not (tmp_path / "a" / "model").exists()


def test_rl_freeze_leaves_the_vision_tower_untrained_and_a_stray_prefix_is_refused(world, tmp_path):
    """``rl.freeze`` (a tower pretrained and frozen through SFT stays fixed in RL): the tower's weights
    come back bit for bit, the language model's move; a prefix that names no parameter stops the round."""
    reward = VisionRewardModelScorer(world["rm"], device="cpu").as_reward_fn()
    rows = [{"prompt": video_prompt(c)} for c in world["clips"][:2]]
    task = OnlineTask(rows, {"reward_model": reward}, frame_cache=str(tmp_path / "frames"))

    def train(freeze: list[str], out: str):
        rl = RLConfig(
            lr=1e-2, num_generations=2, batch_size=4, max_steps=2, max_completion_length=6, freeze=freeze
        )
        cfg = TrainConfig(
            rl=rl, model=ModelConfig(device="cpu", num_frames=NUM_FRAMES), run=RunConfig(seed=0)
        )
        return build_trainer(cfg, "grpo").train(world["vlm"], task, tmp_path / out)

    before, after = _weights(world["vlm"]), _weights(train(["model.vision_tower"], "frozen").model_path)
    tower = [k for k in before if "vision_tower" in k]  # saved under the checkpoint's own key names
    assert tower and all((before[k] == after[k]).all() for k in tower)
    assert any(not (before[k] == after[k]).all() for k in before if k not in tower)
    with pytest.raises(ValueError, match=r"freeze prefixes \['model.no_such_part'\] match no parameter"):
        train(["model.no_such_part"], "stray")
