"""The video world's vision-pretraining stages: each model's tower first learns what its own split's
frames show (shapes, colours, pairs, where each shape is), in view and hashed; without them the plan and
the hashes of the other stages are what they were."""

from __future__ import annotations

import pytest
from tiny_configs import tiny_config

from polyrlaif.core.config import load_config
from polyrlaif.domains.video_lmm.build import stages


def _plan(tmp_path, *overrides):
    cfg = load_config(tiny_config("video_lmm"), [f"run.output_dir={tmp_path}", *overrides])
    return {s.name: s for s in stages(cfg)}


def test_vision_steps_add_a_tower_stage_before_each_model(tmp_path):
    plan = _plan(tmp_path, "domain.world.vision_pretrain_steps=5")
    assert list(plan) == ["world", "policy_vision", "policy_sft", "judge_vision", "judge"]
    assert plan["policy_sft"].after == ("world", "policy_vision")
    assert plan["judge"].after == ("world", "judge_vision")
    assert plan["policy_vision"].settings["split"] == "sft"
    assert plan["judge_vision"].settings["split"] == "judge"
    assert plan["policy_sft"].settings["freeze_vision"] is True
    unfrozen = _plan(tmp_path, "domain.world.vision_pretrain_steps=5", "domain.world.freeze_vision=false")
    assert unfrozen["judge"].settings != plan["judge"].settings


def test_without_vision_steps_the_plan_and_its_settings_are_unchanged(tmp_path):
    plan = _plan(tmp_path)
    assert list(plan) == ["world", "policy_sft", "judge"]
    assert set(plan["policy_sft"].settings) == {"lr", "batch_size", "num_frames", "epochs", "seed"}
    assert set(plan["judge"].settings) == {"lr", "batch_size", "num_frames", "epochs", "seed", "dropout"}
    assert _plan(tmp_path, "domain.world.judge_lr=0.001")["judge"].settings["judge_lr"] == 0.001


def test_frame_labels_name_what_each_frame_shows():
    from polyrlaif.datasets.video.clip import Clip, ClipEvent, ClipObject
    from polyrlaif.domains.video_lmm.world import N_FRAME_LABELS, frame_labels, n_frame_labels

    # a red square at the top left that moves right, then a blue circle appears at the bottom right
    square, circle = ClipObject("square", "red", 2, 2, 6), ClipObject("circle", "blue", 20, 20, 6)
    move = ClipEvent("move", "square", 2, 5, "red", direction="right", distance=18, origin=(2, 2),
                     target=(20, 2))  # fmt: skip
    appear = ClipEvent("appear", "circle", 8, 8, "blue")
    clip = Clip((square, circle), (move, appear), 12, 32)
    # shapes 0-2 (square, circle, triangle), colours 3-6 (red, green, blue, yellow), pairs 7-18
    # (shape * 4 + colour), shape in quarter 19-30 (shape * 4 + quarter: 0 top left ... 3 bottom right)
    assert frame_labels(clip, 0) == [0, 3, 7, 19]
    assert frame_labels(clip, 6) == [0, 3, 7, 20]  # the square is now at the top right
    assert frame_labels(clip, 11) == [0, 1, 3, 5, 7, 13, 20, 26]  # and the blue circle at the bottom right
    assert max(max(frame_labels(clip, t)) for t in range(12)) < N_FRAME_LABELS == 31 == n_frame_labels(2)
    # a 4 x 4 grid of 8-pixel cells (19 + shape * 16 + row * 4 + column): a move of 8 pixels changes cell
    assert frame_labels(clip, 0, grid=4) == [0, 3, 7, 19]  # centre (5, 5): row 0, column 0
    assert frame_labels(clip, 3, grid=4)[-1] == 19 + 1  # centre (11, 5) after 6 of the 18 pixels
    assert frame_labels(clip, 11, grid=4) == [0, 1, 3, 5, 7, 13, 19 + 2, 19 + 16 + 4 * 2 + 2]
    assert n_frame_labels(4) == 19 + 48


def test_a_judge_initialised_from_the_policy_waits_for_it_and_needs_no_tower_of_its_own(tmp_path):
    plan = _plan(tmp_path, "domain.world.vision_pretrain_steps=5", "domain.world.judge_init=policy")
    assert list(plan) == ["world", "policy_vision", "policy_sft", "judge"]
    assert plan["judge"].after == ("world", "policy_sft") and plan["judge"].settings["init"] == "policy"
    with pytest.raises(Exception, match="judge_init"):
        _plan(tmp_path, "domain.world.judge_init=sft")


def test_uniform_negatives_are_never_the_gold_answer_and_keep_the_answer_kind():
    import random

    from polyrlaif.domains.video_lmm.world import mix_negatives

    rows = []
    for i, (kind, gold, near) in enumerate(
        [
            ("count", "one", "two"),
            ("colour", "red", "blue"),
            ("order", "after", "before"),
            ("order", "circle", "square"),
        ]
        * 25  # fmt: skip
    ):
        rows += [{"id": f"q{i}_yes", "type": kind, "answer": gold, "label": "yes"},
                 {"id": f"q{i}_no", "type": kind, "answer": near, "label": "no"}]  # fmt: skip
    out = mix_negatives(rows, random.Random(0))
    assert [r["answer"] for r in out[0::2]] == [r["answer"] for r in rows[0::2]]  # right answers kept
    for gold, wrong in zip(out[0::2], out[1::2], strict=True):
        assert wrong["answer"] != gold["answer"] and wrong["label"] == "no"
        if gold["answer"] in ("before", "after"):
            assert wrong["answer"] in ("before", "after")
        elif gold["type"] == "order":
            assert wrong["answer"] in ("square", "triangle")
    assert len({r["answer"] for r in out[1::2] if r["type"] == "count"}) == 3  # zero, two, three all drawn


def test_the_policy_language_model_size_keys_its_stages_and_leaves_the_judge_and_default_keys_alone(tmp_path):
    base = _plan(tmp_path, "domain.world.vision_pretrain_steps=5")
    bigger = _plan(tmp_path, "domain.world.vision_pretrain_steps=5", "domain.world.lm_hidden=128",
                   "domain.world.lm_layers=4")  # fmt: skip
    assert bigger["world"].settings == base["world"].settings  # the clips do not depend on the models
    for name in ("policy_vision", "policy_sft"):
        assert bigger[name].settings == {**base[name].settings, "lm": [128, 4]}, name
    for name in ("judge_vision", "judge"):  # the judge is its own model, at its own size
        assert bigger[name].settings == base[name].settings, name
    assert all("lm" not in s.settings for s in base.values())
    finer = _plan(tmp_path, "domain.world.vision_pretrain_steps=5", "domain.world.position_grid=4")
    assert finer["policy_vision"].settings["labels"] == 67 and finer["judge_vision"].settings["labels"] == 31


def test_wrong_answer_types_key_the_world_only_when_set_and_make_those_answers_wrong(tmp_path):
    import json

    base, seen = _plan(tmp_path), _plan(tmp_path, "domain.world.wrong_answer_types=[colour,count]")
    assert "wrong_answer_types" not in base["world"].settings  # earlier worlds keep their keys
    assert seen["world"].settings == {**base["world"].settings, "wrong_answer_types": ["colour", "count"]}
    seen["world"].run(tmp_path / "w", {})
    rows = [json.loads(line) for line in (tmp_path / "w" / "sft" / "policy.jsonl").read_text().splitlines()]
    wrong = {r["type"] for r in rows if not r["correct"]}
    assert wrong and wrong <= {"colour", "count"}
    with pytest.raises(ValueError, match="domain.world.wrong_answer_types.*color"):
        _plan(tmp_path, "domain.world.wrong_answer_types=[color]")
