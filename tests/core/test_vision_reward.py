"""The vision reward model: a tiny VLM with a scalar head, trained on video pairs, saved, loaded and used
as a reward function."""

from __future__ import annotations

import itertools
import json
import math
import random
from pathlib import Path

import numpy as np
import pytest

from polyrlaif.core.config import LoraConfig, ModelConfig, OptimConfig, RunConfig, TrainConfig
from polyrlaif.core.io import InputError
from polyrlaif.core.judges.reward_model import RewardModelScorer
from polyrlaif.core.judges.vision_reward_model import VisionRewardModelScorer, reward_model_scorer
from polyrlaif.core.records import MediaRef, PreferencePair
from polyrlaif.core.registry import TRAINERS
from polyrlaif.core.tiny import TinyVLMConfig, build_tiny_vlm, corpus_words
from polyrlaif.core.trainers.base import DONE_MARKER
from polyrlaif.core.trainers.reward_model import RewardModelTrainer, pair_accuracy, split_pairs
from polyrlaif.core.trainers.vision_reward import VisionRewardModelTrainer
from polyrlaif.core.vision_reward import (
    HEAD_FILE,
    INFO_FILE,
    VisionRewardModel,
    bradley_terry_loss,
    is_vision_reward_model,
)

pytestmark = pytest.mark.usefixtures("one_thread")

#: The preference to learn: the answer that names the clip's colour beats one that names another colour.
COLOURS = {"red": (220, 40, 40), "green": (40, 200, 60), "blue": (50, 60, 220)}
QUESTION = "what colour is the video ?"
NUM_FRAMES = 2
FRACTION = 0.25


def write_clip(path: Path, colour: str, rng: random.Random) -> Path:
    """Four 32x32 frames of one colour (brightness varied per clip) as a lossless MP4."""
    from polyrlaif.datasets.video.mp4 import write_mp4

    shade = rng.uniform(0.8, 1.0)
    frames = np.empty((4, 32, 32, 3), dtype=np.uint8)
    frames[:] = [round(c * shade) for c in COLOURS[colour]]
    return write_mp4(path, frames, fps=4)


def make_pairs(folder: Path, n: int, seed: int = 0) -> list[PreferencePair]:
    """``n`` pairs, one clip each, colours in turn; the rejected answer names another colour at random."""
    rng = random.Random(seed)
    pairs = []
    for i in range(n):
        colour = list(COLOURS)[i % len(COLOURS)]
        clip = write_clip(folder / f"clip{i}.mp4", colour, rng)
        wrong = rng.choice([c for c in COLOURS if c != colour])
        pairs.append(
            PreferencePair(
                pair_id=f"p{i}",
                prompt_id=f"q{i}",
                prompt=QUESTION,
                chosen=f"it is {colour}",
                rejected=f"it is {wrong}",
                media=[MediaRef(kind="video", uri=str(clip))],
            )
        )
    return pairs


def video_prompt(clip: Path | str) -> list[dict]:
    return [
        {
            "role": "user",
            "content": [{"type": "video", "path": str(clip)}, {"type": "text", "text": QUESTION}],
        }
    ]


def rm_config(num_frames: int = NUM_FRAMES, **optim) -> TrainConfig:
    settings = dict(lr=1e-3, epochs=1, max_steps=120, batch_size=8, max_length=512,
                    reward_eval_fraction=FRACTION, lora=LoraConfig(enabled=False))  # fmt: skip
    settings.update(optim)
    model = ModelConfig(device="cpu", num_frames=num_frames)
    return TrainConfig(optim=OptimConfig(**settings), model=model, run=RunConfig(seed=0))


@pytest.fixture(scope="module")
def vlm(tmp_path_factory) -> str:
    words = corpus_words([QUESTION, "it is", *COLOURS])
    cfg = TinyVLMConfig(image_size=32, hidden=32, vision_hidden=32, max_positions=512)
    return str(build_tiny_vlm(tmp_path_factory.mktemp("vlm") / "m", words, cfg))


@pytest.fixture(scope="module")
def pairs(tmp_path_factory) -> list[PreferencePair]:
    return make_pairs(tmp_path_factory.mktemp("clips"), 48)


@pytest.fixture(scope="module")
def trained(vlm, pairs, tmp_path_factory):
    """A vision reward model trained through the ``reward_model`` trainer (it sees the pairs' videos)."""
    out = tmp_path_factory.mktemp("vrm")
    return RewardModelTrainer(rm_config()).train(vlm, pairs, out), out


def test_bradley_terry_loss_against_hand_values():
    import torch

    chosen = torch.tensor([1.0, 0.0, 2.0], requires_grad=True)
    loss = bradley_terry_loss(chosen, torch.tensor([0.0, 0.0, 3.0]))
    # -log sigmoid(m) = log(1 + e^-m) for margins 1, 0, -1
    expected = (math.log1p(math.exp(-1.0)) + math.log(2.0) + math.log1p(math.exp(1.0))) / 3
    assert loss.item() == pytest.approx(expected, rel=1e-6)
    assert loss.item() == pytest.approx(pair_accuracy([1.0, 0.0, 2.0], [0.0, 0.0, 3.0])["loss"], rel=1e-6)
    loss.backward()  # d/dc of mean(-log sigmoid(c - r)) = -(1 - sigmoid(c - r)) / n
    sig = [1 / (1 + math.exp(-m)) for m in (1.0, 0.0, -1.0)]
    assert chosen.grad.tolist() == pytest.approx([-(1 - s) / 3 for s in sig], rel=1e-5)


def test_reward_model_picks_the_vision_trainer_and_learns_the_colour(trained, pairs):
    result, out = trained
    m = result.metrics
    assert TRAINERS.get("vision_reward_model") is VisionRewardModelTrainer
    assert (out / "model" / DONE_MARKER).is_file() and is_vision_reward_model(out / "model")
    info = json.loads((out / "model" / INFO_FILE).read_text())
    assert info["kind"] == "vision_reward_model" and info["num_frames"] == NUM_FRAMES
    assert (out / "model" / HEAD_FILE).is_file() and (out / "model" / "config.json").is_file()
    assert json.loads((out / "train_metrics.json").read_text()) == m
    assert m["pairs"] == 48 and m["eval_pairs"] == 12 and m["train_pairs"] == 36 and m["steps"] == 120
    assert m["loss"] < m["loss_first"] and m["pairs_too_long"] == 0
    # the answers alone cannot tell the pairs apart: the best ranking of the colour words gets no
    # further than this on the held-out pairs, and the model must beat it by reading the frames
    _, held = split_pairs(pairs, FRACTION, seed=0)
    word = {p.pair_id: (p.chosen.split()[-1], p.rejected.split()[-1]) for p in held}
    blind = max(
        sum(order.index(word[p.pair_id][0]) < order.index(word[p.pair_id][1]) for p in held) / len(held)
        for order in itertools.permutations(COLOURS)
    )
    assert blind < 0.9
    assert m["eval_accuracy"] >= 0.9 and m["eval_accuracy"] > blind
    assert m["eval_loss"] < math.log(2)  # better than a constant reward
    assert {"eval_accuracy_before", "eval_margin", "train_accuracy", "train_loss", "train_seconds"} <= set(m)


def test_save_load_round_trip_gives_identical_rewards(trained, pairs, tmp_path):
    import torch

    result, _ = trained
    model = VisionRewardModel.load(result.model_path)
    items = [(video_prompt(p.media[0].uri), p.chosen) for p in pairs[:3]] + [
        (video_prompt(pairs[0].media[0].uri), "it is")  # a shorter answer: padding in the batch
    ]
    with torch.inference_mode():
        batch = model(model.encode(model.inputs(items))).tolist()
        alone = [model(model.encode(model.inputs([item]))).item() for item in items]
    assert batch == pytest.approx(alone, abs=1e-5)  # the reward is read at each row's last real token
    copy = VisionRewardModel.load(model.save(tmp_path / "copy"))
    with torch.inference_mode():
        assert copy(copy.encode(copy.inputs(items))).tolist() == batch
    scorer = VisionRewardModelScorer(tmp_path / "copy", device="cpu", batch_size=3)
    assert scorer.score([p for p, _ in items], [c for _, c in items]) == pytest.approx(batch, abs=1e-6)
    assert isinstance(reward_model_scorer(tmp_path / "copy", device="cpu"), VisionRewardModelScorer)
    assert isinstance(reward_model_scorer(tmp_path, device="cpu"), RewardModelScorer)  # not one: text


def test_reward_fn_scores_a_batch_and_reports_failures(trained, tmp_path):
    from PIL import Image

    result, _ = trained
    scorer = VisionRewardModelScorer(result.model_path, device="cpu", batch_size=4)
    reward = scorer.as_reward_fn()
    rng = random.Random(7)
    clips = {c: write_clip(tmp_path / f"new_{c}.mp4", c, rng) for c in COLOURS}  # clips never trained on
    prompts, completions = [], []
    for clip in clips.values():
        for answer in COLOURS:  # a GRPO group: one prompt, several completions
            prompts.append(video_prompt(clip))
            completions.append([{"role": "assistant", "content": f"it is {answer}"}])
    frame = Image.new("RGB", (32, 32), COLOURS["red"])  # TRL's prompts carry the image itself
    image_prompt = [
        {"role": "user", "content": [{"type": "image", "image": frame}, {"type": "text", "text": QUESTION}]}
    ]
    missing = tmp_path / "missing.mp4"
    audio = [
        {"role": "user", "content": [{"type": "audio", "path": "x.wav"}, {"type": "text", "text": "hi"}]}
    ]
    out = reward([*prompts, image_prompt, video_prompt(missing), audio],
                 [*completions, "it is red", "it is red", "it is red"], images=[None] * 12)  # fmt: skip
    assert len(out) == 12 and all(isinstance(x, float) for x in out[:10]) and out[10:] == [None, None]
    scores = dict(zip(((c, a) for c in COLOURS for a in COLOURS), out[:9], strict=True))
    for colour in COLOURS:  # the answer naming the clip's colour gets the highest reward of its group
        assert max(COLOURS, key=lambda a: scores[(colour, a)]) == colour
    assert reward.stats.failures == {"reward_model_media_file": 1, "reward_model_input": 1}
    _, failures = scorer.try_score([video_prompt(missing)], ["it is red"])
    assert str(missing) in failures[0] and "not found" in failures[0]
    with pytest.raises(InputError, match="missing.mp4"):
        scorer.score([video_prompt(missing)], ["it is red"])
    # 20 tokens: a text-only question fits, a question with two frames (16 tokens each) does not
    short = VisionRewardModelScorer(result.model_path, device="cpu", max_length=20)
    values, failures = short.try_score([video_prompt(clips["red"]), QUESTION], ["it is red", "it is red"])
    assert values[0] is None and failures[0].startswith("reward_model_too_long")
    assert isinstance(values[1], float) and failures[1] is None


def test_a_missing_video_is_an_input_error_naming_the_pair_and_file(vlm, tmp_path):
    pairs = make_pairs(tmp_path / "clips", 4)
    pairs[2].media = [MediaRef(kind="video", uri=str(tmp_path / "gone.mp4"))]
    with pytest.raises(InputError, match=r"pair 'p2'.*video file not found: .*gone\.mp4"):
        RewardModelTrainer(rm_config()).train(vlm, pairs, tmp_path / "out")
    assert not (tmp_path / "out" / "model").exists()
    pairs[2].media, pairs[1].chosen_media = pairs[0].media, [MediaRef(kind="image", uri="x.png")]
    with pytest.raises(ValueError, match="pair 'p1': its answers are media"):
        VisionRewardModelTrainer(rm_config()).train(vlm, pairs, tmp_path / "out")


def test_lora_trains_adapters_and_publishes_a_plain_checkpoint(vlm, pairs, tmp_path):
    from safetensors.torch import load_file

    lora = LoraConfig(enabled=True, r=4, alpha=8, dropout=0.0)
    result = VisionRewardModelTrainer(rm_config(1, max_steps=2, lr=1e-2, lora=lora)).train(
        vlm, pairs[:8], tmp_path
    )
    weights = load_file(f"{result.model_path}/model.safetensors")
    base = load_file(f"{vlm}/model.safetensors")
    assert not any("lora" in k for k in weights) and weights.keys() == base.keys()
    key = "language_model.model.layers.0.self_attn.q_proj.weight"
    assert not (weights[key] == base[key]).all()  # the adapters were merged into the weights
    assert result.metrics["steps"] == 2
    assert math.isfinite(
        VisionRewardModelScorer(result.model_path, device="cpu").score([QUESTION], ["it is"])[0]
    )


def test_answer_logprob_pooling_is_the_answers_mean_log_probability_and_survives_a_round_trip(vlm, tmp_path):
    """``optim.reward_pooling=answer_logprob``: the reward is the backbone's own mean log-probability of the
    answer turn's tokens (checked against a direct computation on the rendered text), batched with padding
    as alone, and a saved model reads it the same way."""
    import torch

    clip = write_clip(tmp_path / "clip.mp4", "red", random.Random(0))
    model = VisionRewardModel.from_backbone(vlm, num_frames=NUM_FRAMES, pooling="answer_logprob")
    items = [(video_prompt(clip), "it is red"), (video_prompt(clip), "red")]
    with torch.inference_mode():
        batch = model(model.encode(model.inputs(items))).tolist()
        alone = [model(model.encode(model.inputs([item]))).item() for item in items]
        expected = []
        for inp in model.inputs(items):
            enc = model.encode([inp])
            enc.pop("answer_tokens")
            logp = torch.log_softmax(model.backbone(**enc).logits[0].float(), -1)
            ids = enc["input_ids"][0]
            n = inp.answer_tokens  # the answer's words and the end of the turn, nothing of the question
            tail = model.processor.tokenizer.decode(ids[len(ids) - n :])
            assert "red" in tail and "?" not in tail and "colour" not in tail, tail
            expected.append(float(sum(logp[t - 1, ids[t]] for t in range(len(ids) - n, len(ids))) / n))
    assert [x.answer_tokens for x in model.inputs(items)][1] < [x.answer_tokens for x in model.inputs(items)][
        0
    ]
    assert batch == pytest.approx(alone, abs=1e-5) and batch == pytest.approx(expected, abs=1e-5)
    copy = VisionRewardModel.load(model.save(tmp_path / "rm"))
    assert copy.pooling == "answer_logprob"
    assert json.loads((tmp_path / "rm" / INFO_FILE).read_text())["pooling"] == "answer_logprob"
    with torch.inference_mode():
        assert copy(copy.encode(copy.inputs(items))).tolist() == pytest.approx(batch, abs=1e-6)
    with pytest.raises(ValueError, match="unknown reward pooling 'mean'"):
        VisionRewardModel(model.backbone, model.processor, model.head, pooling="mean")


def test_answer_logprob_pooling_trains_on_video_pairs_and_text_pairs_refuse_it(vlm, pairs, tmp_path):
    result = VisionRewardModelTrainer(rm_config(reward_pooling="answer_logprob", max_steps=60)).train(
        vlm, pairs, tmp_path / "vision"
    )
    m = result.metrics
    assert m["loss"] < m["loss_first"] and m["eval_accuracy"] > m["eval_accuracy_before"]
    text = [PreferencePair("t0", "q", "say hi", "hi", "no")]
    with pytest.raises(
        ValueError, match="optim.reward_pooling=answer_logprob is read by vision reward models"
    ):
        RewardModelTrainer(rm_config(reward_pooling="answer_logprob")).train(vlm, text, tmp_path / "text")
