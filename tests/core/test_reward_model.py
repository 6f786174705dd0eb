"""The reward-model trainer (TRL's RewardTrainer, Bradley-Terry) and the reward-model scorer and judge."""

from __future__ import annotations

import json
import math
import random

import pytest

from polyrlaif.core.config import LoraConfig, ModelConfig, OptimConfig, RunConfig, TrainConfig
from polyrlaif.core.judges.reward import as_judge
from polyrlaif.core.judges.reward_model import (
    MEDIA_FAILURE,
    RewardModelJudge,
    RewardModelScorer,
    reward_model_input,
)
from polyrlaif.core.records import Candidate, MediaRef, PreferencePair, PromptRecord
from polyrlaif.core.registry import TRAINERS
from polyrlaif.core.trainers.base import DONE_MARKER, build_trainer
from polyrlaif.core.trainers.reward_model import RewardModelTrainer, pair_accuracy, split_pairs

pytestmark = pytest.mark.usefixtures("one_thread")

#: The preference to learn: an answer that ends with "fox" beats one that ends with another word.
TARGET = "fox"
OTHERS = ["dog", "cat", "code", "sum", "Paris", "print"]
WORDS = ["the", "quick", "brown", "lazy", "jumps", "over", "a", "good", "answer", "is", "short"]
QUESTIONS = ["Say an animal.", "Write some words.", "What is the capital of France?", "Answer briefly."]


def make_pairs(n: int, seed: int = 0) -> list[PreferencePair]:
    """``n`` pairs on distinct prompts; the two answers share their words but for the last one."""
    rng = random.Random(seed)
    pairs = []
    for i in range(n):
        stem = " ".join(rng.choice(WORDS) for _ in range(rng.randint(2, 5)))
        prompt: str | list[dict[str, str]] = f"{QUESTIONS[i % len(QUESTIONS)]} ({i})"
        if i % 2:  # half the prompts as chat messages
            prompt = [{"role": "user", "content": prompt}]
        pairs.append(
            PreferencePair(
                pair_id=f"p{i}",
                prompt_id=f"q{i}",
                prompt=prompt,
                chosen=f"{stem} {TARGET}",
                rejected=f"{stem} {rng.choice(OTHERS)}",
            )
        )
    return pairs


def rm_config(**optim) -> TrainConfig:
    settings = dict(lr=3e-3, epochs=6, batch_size=8, max_length=128, lora=LoraConfig(enabled=False))
    settings.update(optim)
    return TrainConfig(optim=OptimConfig(**settings), model=ModelConfig(device="cpu"), run=RunConfig(seed=0))


@pytest.fixture(scope="module")
def trained(tiny_lm_path, tmp_path_factory):
    """A reward model trained on 48 pairs (12 held out), and its output folder."""
    out = tmp_path_factory.mktemp("rm")
    trainer = build_trainer(rm_config(reward_eval_fraction=0.25), "reward_model")
    return trainer.train(tiny_lm_path, make_pairs(48), out), out


def test_registered_and_not_a_policy_backend():
    assert TRAINERS.get("reward_model") is RewardModelTrainer
    from polyrlaif.core.config_checks import check_config

    with pytest.raises(ValueError, match="optim.backend.*'reward_model'"):
        check_config(TrainConfig(optim=OptimConfig(backend="reward_model")))
    with pytest.raises(ValueError, match=r"optim.reward_eval_fraction.*\[0, 1\)"):
        check_config(TrainConfig(optim=OptimConfig(reward_eval_fraction=1.0)))


def test_learns_the_preference_and_reports_held_out_accuracy(trained):
    result, out = trained
    m = result.metrics
    assert (out / "model" / DONE_MARKER).is_file()
    assert json.loads((out / "train_metrics.json").read_text()) == m
    assert m["pairs"] == 48 and m["eval_pairs"] == 12 and m["train_pairs"] == 36
    assert m["steps"] == 6 * math.ceil(36 / 8)
    assert m["eval_accuracy"] > 0.8
    assert m["eval_accuracy"] > m["eval_accuracy_before"]
    assert m["eval_loss"] < math.log(2)  # better than a constant reward
    assert m["train_accuracy"] > 0.8
    assert m["loss"] < m["loss_first"]
    assert m["train_seconds"] > 0 and m["pairs_too_long"] == 0
    config = json.loads((out / "model" / "config.json").read_text())
    assert len(config["id2label"]) == 1 and config["pad_token_id"] is not None  # num_labels=1
    assert config["architectures"] == ["LlamaForSequenceClassification"]


def test_finished_dir_is_not_trained_again(trained, tiny_lm_path):
    result, out = trained
    before = (out / "model" / "model.safetensors").stat().st_mtime_ns
    # no pairs would raise: a finished folder returns before looking at them
    again = RewardModelTrainer(rm_config()).train(tiny_lm_path, [], out)
    assert again.resumed and again.metrics == result.metrics
    assert (out / "model" / "model.safetensors").stat().st_mtime_ns == before


def test_bad_input_is_refused(tiny_lm_path, tmp_path):
    trainer = RewardModelTrainer(rm_config())
    with pytest.raises(ValueError, match="no preference pairs"):
        trainer.train(tiny_lm_path, [], tmp_path)
    pairs = make_pairs(4)
    pairs[2].media = [MediaRef(kind="audio", uri="/nonexistent.wav")]
    with pytest.raises(ValueError, match=r"pair 'p2' carries audio media: a text reward model cannot see"):
        trainer.train(tiny_lm_path, pairs, tmp_path)
    # a prompt with an image goes to the vision reward model, which needs an image-text-to-text model
    pairs[2].media = [MediaRef(kind="image", uri="/nonexistent.png")]
    with pytest.raises(ValueError, match=r"vision reward model is built on an image-text-to-text model"):
        trainer.train(tiny_lm_path, pairs, tmp_path)
    with pytest.raises(ValueError, match=r"all 4 pairs are over optim.max_length=5 tokens"):
        RewardModelTrainer(rm_config(max_length=5)).train(tiny_lm_path, make_pairs(4), tmp_path)
    with pytest.raises(ValueError, match="reward_eval_fraction"):
        RewardModelTrainer(rm_config(reward_eval_fraction=-0.1))
    assert not (tmp_path / "model").exists()


def test_split_is_by_prompt_and_keeps_a_training_prompt():
    pairs = make_pairs(10)
    for p in pairs:
        p.prompt_id = f"q{int(p.pair_id[1:]) // 2}"  # two pairs per prompt
    train, held = split_pairs(pairs, 0.3, seed=1)
    assert len(train) + len(held) == 10 and len(held) == 4  # whole prompts, until >= 30%
    assert not {p.prompt_id for p in train} & {p.prompt_id for p in held}
    assert split_pairs(pairs, 0.0, seed=1) == (pairs, [])
    assert split_pairs(pairs[:1], 0.5, seed=1) == (pairs[:1], [])


def test_pair_accuracy_against_hand_values():
    m = pair_accuracy([1.0, 0.0, 2.0], [0.0, 0.0, 3.0])
    assert m["accuracy"] == pytest.approx(1 / 3)  # a tie is not a correct ranking
    assert m["margin"] == pytest.approx(0.0)
    expected = (math.log1p(math.exp(-1.0)) + math.log(2.0) + math.log1p(math.exp(1.0))) / 3
    assert m["loss"] == pytest.approx(expected)


def test_scorer_agrees_with_a_direct_forward_pass(trained):
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    result, _ = trained
    path = result.model_path
    scorer = RewardModelScorer(path, device="cpu", batch_size=3)
    prompts: list = ["Say an animal.", [{"role": "user", "content": "Write some words."}]] * 2 + ["Hi"]
    completions: list = ["the lazy fox", "a dog", [{"role": "assistant", "content": "brown cat"}], "fox", "x"]
    scores = scorer.score(prompts, completions)

    model = AutoModelForSequenceClassification.from_pretrained(path).eval()
    tok = AutoTokenizer.from_pretrained(path)
    direct = []
    for p, c in zip(prompts, completions, strict=True):
        msgs = ([{"role": "user", "content": p}] if isinstance(p, str) else p) + (
            [{"role": "assistant", "content": c}] if isinstance(c, str) else c
        )
        ids = tok.apply_chat_template(msgs, tokenize=True, return_dict=True)["input_ids"]
        assert ids == reward_model_input(tok, p, c)  # TRL's own conversational tokenization
        with torch.no_grad():
            direct.append(model(input_ids=torch.tensor([ids])).logits[0, 0].item())
    assert scores == pytest.approx(direct, abs=1e-5)
    # the learnt preference shows on new text
    fox, dog = scorer.score(["Say an animal."] * 2, ["over the fox", "over the dog"])
    assert fox > dog


def test_reward_fn_and_judge_turn_failures_into_values(trained):
    result, _ = trained
    scorer = RewardModelScorer(result.model_path, device="cpu", max_length=40)
    reward = scorer.as_reward_fn()
    assert reward.__name__ == "reward_model"
    image_prompt = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "What is it?"}]}]
    out = reward(
        [[{"role": "user", "content": "Say an animal."}], image_prompt, "Hi"],
        [[{"role": "assistant", "content": "fox"}], [{"role": "assistant", "content": "fox"}], "fox " * 50],
        target=["a", "b", "c"],  # dataset columns are accepted and ignored
    )
    assert isinstance(out[0], float) and out[1:] == [None, None]
    assert reward.stats.failures == {"reward_model_media": 1, "reward_model_too_long": 1}

    judge = RewardModelJudge(scorer)
    assert as_judge(judge) is judge  # the core takes it as a judge, not as a reward callable to wrap
    digest = judge.judge_id.split(":")[1]
    assert judge.judge_id.startswith("reward_model:") and len(digest) == 12
    assert RewardModelJudge(result.model_path).judge_id == judge.judge_id  # same weights, same id
    prompts = {
        "a": PromptRecord(prompt_id="a", text="Say an animal."),
        "b": PromptRecord(prompt_id="b", text="What is in the image?", media=[MediaRef("image", "/x.png")]),
    }
    cands = [Candidate("a/0", "a", "the fox"), Candidate("a/1", "a", "the dog"), Candidate("b/0", "b", "fox")]
    judgments = judge.judge(prompts, cands)
    assert [j.kind for j in judgments] == ["reward"] * 3
    assert judgments[0].score == pytest.approx(scorer.score(["Say an animal."], ["the fox"])[0], abs=1e-6)
    assert judgments[2].score is None and judgments[2].failure == MEDIA_FAILURE
    assert judge.stats.failures == {"reward_model_media": 1}
    assert all(j.judge_id == judge.judge_id for j in judgments)


def test_lora_trains_the_head_and_publishes_a_plain_checkpoint(tiny_lm_path, tmp_path):
    cfg = rm_config(lr=1e-2, epochs=1, max_steps=2, lora=LoraConfig(enabled=True, r=4, alpha=8, dropout=0.0))
    result = RewardModelTrainer(cfg).train(tiny_lm_path, make_pairs(12), tmp_path)
    from safetensors.torch import load_file

    weights = load_file(f"{result.model_path}/model.safetensors")
    assert "score.weight" in weights and not any("lora" in k for k in weights)
    base = load_file(f"{tiny_lm_path}/model.safetensors")
    key = "model.layers.0.self_attn.q_proj.weight"
    assert not (weights[key] == base[key]).all()  # the adapters were merged into the weights
    assert result.metrics["steps"] == 2
    scores = RewardModelScorer(result.model_path, device="cpu").score(["Hi"], ["fox"])
    assert math.isfinite(scores[0])
