"""``domain.reward_context``: the reward model reads the video's description before the answer, in its
training pairs and in every online reward, while the policy's prompt stays the question alone."""

from __future__ import annotations

import pytest
from tiny_configs import tiny_config

from polyrlaif.core.config import load_config
from polyrlaif.core.media import video_ref
from polyrlaif.core.records import PromptRecord


def _prompt(tmp_path, **meta) -> PromptRecord:
    import numpy as np

    from polyrlaif.datasets.video.mp4 import write_mp4  # a real clip, so the rows carry a real video part

    path = tmp_path / "clip.mp4"
    write_mp4(path, np.zeros((4, 32, 32, 3), dtype=np.uint8))
    return PromptRecord("q1", "Which way did the red circle move?", media=[video_ref(path)], meta=meta)


def test_the_reward_prompt_is_the_judge_template_with_the_description(tmp_path) -> None:
    from polyrlaif.domains.video_lmm.online import reward_prompt_text

    described = _prompt(tmp_path, description="The red circle moves left.", answers=["up", "left"])
    text = reward_prompt_text(described)
    assert text.startswith("Video description: The red circle moves left.")
    assert "Question: Which way did the red circle move?" in text and text.endswith("Answer (up, left):")
    open_ended = reward_prompt_text(_prompt(tmp_path, description="d."))
    assert open_ended == "Video description: d.\nQuestion: Which way did the red circle move?"
    with pytest.raises(ValueError, match="reward_context=true, but prompt q1 has no description"):
        reward_prompt_text(_prompt(tmp_path))


def test_online_rows_give_the_reward_model_its_own_prompt_and_the_policy_the_question(tmp_path) -> None:
    from polyrlaif.domains.video_lmm.online import online_task

    prompt = _prompt(tmp_path, description="The red circle moves left.", answers=["up", "left"])
    base = [tiny_config("video_lmm", "tiny-online"), [f"run.output_dir={tmp_path}"]]
    plain = online_task(load_config(*base), [prompt], str(tmp_path / "rm"))  # the model loads on first use
    assert "reward_prompt" not in plain.prompts[0]
    cfg = load_config(base[0], [*base[1], "domain.reward_context=true"])
    (row,) = online_task(cfg, [prompt], str(tmp_path / "rm")).prompts
    policy_text = [p["text"] for p in row["prompt"][0]["content"] if p["type"] == "text"]
    assert policy_text == ["Which way did the red circle move?"]  # the policy never sees the description
    parts = row["reward_prompt"][0]["content"]
    assert [p["type"] for p in parts] == ["video", "text"] and parts[0]["path"] == prompt.media[0].uri
    assert parts[1]["text"].startswith("Video description: The red circle moves left.")


def test_the_wrapped_reward_scores_each_completion_after_its_reward_prompt() -> None:
    from polyrlaif.domains.video_lmm.online import reads_reward_prompt

    seen: list[tuple] = []

    def reward(prompts, completions, **columns):
        seen.append((list(prompts), list(completions), sorted(columns)))
        return [float(len(p)) for p in prompts]

    reward.stats = {"calls": 0}
    fn = reads_reward_prompt(reward)
    out = fn(["policy a", "policy b"], ["left", "up"], reward_prompt=["described a!", "b"], answers=[[], []])
    assert out == [12.0, 1.0] and seen == [(["described a!", "b"], ["left", "up"], ["answers"])]
    assert fn.__name__ == "reward" and fn.stats is reward.stats


def test_the_reward_model_stage_hash_covers_reward_context(tmp_path) -> None:
    from polyrlaif.core.stages import settings_hash
    from polyrlaif.domains.video_lmm.build import stages

    def key(*overrides):
        cfg = load_config(tiny_config("video_lmm", "tiny-online"), [f"run.output_dir={tmp_path}", *overrides])
        return settings_hash(stages(cfg)[-1].settings, {})

    assert key("domain.reward_context=true") != key() == key("domain.reward_context=false")
