"""The synthetic video world: determinism, reruns, descriptions, held-out split, QA truth, SFT data."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from polyrlaif.core.io import read_jsonl
from polyrlaif.core.media import sample_frames
from polyrlaif.datasets.video import (
    ANSWER_VOCAB,
    COUNT_WORDS,
    SPLITS,
    Clip,
    VideoWorldConfig,
    generate_video_world,
    load_clips,
    load_video_world,
)

SMALL = {"sft": 40, "judge": 30, "rlaif": 10, "test": 40}
TEXT_FILES = [
    *(f"{kind}/{split}.jsonl" for kind in ("clips", "qa") for split in SPLITS),
    "sft/policy.jsonl",
    "sft/judge.jsonl",
    "world.json",
    "DONE",
]


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    return generate_video_world(tmp_path_factory.mktemp("video") / "w", VideoWorldConfig(seed=3, **SMALL))


def _clip_rows(world) -> dict[str, list[dict]]:
    return {s: read_jsonl(world.clips(s)) for s in SPLITS}


def test_layout_and_counts(world):
    assert world.counts["videos"] == sum(SMALL.values())
    for split, n in SMALL.items():
        rows = read_jsonl(world.clips(split))
        assert len(rows) == n == world.counts[f"clips/{split}"]
        assert all(world.file(r["video"]).is_file() for r in rows)
        assert {r["clip_id"] for r in read_jsonl(world.qa(split))} == {r["clip_id"] for r in rows}
        for r in read_jsonl(world.qa(split)):
            assert set(r) >= {"id", "video", "question", "answer", "type"}
            assert r["answer"] in ANSWER_VOCAB[r["type"]]
    assert load_video_world(world.data_dir) == world


def test_generation_is_deterministic_and_decodes_to_the_drawn_frames(world, tmp_path):
    other = generate_video_world(tmp_path / "again", VideoWorldConfig(seed=3, **SMALL))
    for name in TEXT_FILES:
        assert world.file(name).read_bytes() == other.file(name).read_bytes(), name
    clips = load_clips(world.data_dir, "test")
    for clip_id in ("test_00001", "test_00007", "test_00023"):
        drawn = clips[clip_id].render()
        for w in (world, other):
            indices, frames = sample_frames(w.file(f"videos/{clip_id}.mp4"), 8)
            assert np.abs(frames.astype(int) - drawn[indices].astype(int)).max() <= 2


def test_rerun_is_a_no_op_and_another_config_is_refused(world, tmp_path):
    stamps = {name: world.file(name).stat().st_mtime_ns for name in TEXT_FILES}
    assert generate_video_world(world.data_dir, VideoWorldConfig(seed=3, **SMALL)) == world
    assert stamps == {name: world.file(name).stat().st_mtime_ns for name in TEXT_FILES}
    with pytest.raises(ValueError, match="another config.*wrong_answer_rate"):
        generate_video_world(world.data_dir, VideoWorldConfig(seed=3, wrong_answer_rate=0.5, **SMALL))
    (tmp_path / "foreign").mkdir()
    (tmp_path / "foreign" / "notes.txt").write_text("mine")
    with pytest.raises(ValueError, match="not empty"):
        generate_video_world(tmp_path / "foreign", VideoWorldConfig(seed=3, **SMALL))


def test_a_split_does_not_change_when_another_grows(world, tmp_path):
    bigger = generate_video_world(tmp_path / "big", VideoWorldConfig(seed=3, **{**SMALL, "sft": 50}))
    assert bigger.clips("test").read_bytes() == world.clips("test").read_bytes()
    assert read_jsonl(bigger.clips("sft"))[:40] == read_jsonl(world.clips("sft"))


def _phrase(e: dict) -> str:
    return {
        "move": f"{e['shape']} moves {e['direction']}",
        "colour": f"{e['shape']} turns {e['new_colour']}",
        "disappear": f"{e['shape']} disappears",
        "appear": f"{e['shape']} appears",
    }[e["type"]]


def test_descriptions_tell_the_events_in_order(world):
    for rows in _clip_rows(world).values():
        for r in rows:
            positions = [r["description"].find(_phrase(e)) for e in r["events"]]
            assert -1 not in positions, (r["description"], r["events"])
            assert positions == sorted(positions), r["description"]
            assert r["description"].startswith("At the start") and "At the end" in r["description"]


def test_test_split_is_held_out_by_content(world):
    rows = _clip_rows(world)
    test_keys = {Clip.from_json(r).content_key() for r in rows["test"]}
    test_text = {r["description"] for r in rows["test"]}
    for split in ("sft", "judge", "rlaif"):
        assert not test_keys & {Clip.from_json(r).content_key() for r in rows[split]}
        assert not test_text & {r["description"] for r in rows[split]}


def _answer_from_events(question: str, qtype: str, clip: dict) -> str:
    """The answer recomputed from the event list alone (independent of the generator's QA code)."""
    events, objects = clip["events"], clip["objects"]
    if qtype == "count":
        hidden = sum(e["type"] == "appear" for e in events)
        gone = sum(e["type"] == "disappear" for e in events)
        return COUNT_WORDS[len(objects) - (gone if "end" in question else hidden)]
    if qtype == "direction":
        shape = re.match(r"Which way did the \w+ (\w+) move\?", question).group(1)
        return next(e["direction"] for e in events if e["type"] == "move" and e["shape"] == shape)
    if qtype == "colour":
        shape = re.match(r"What colour did the (\w+) turn\?", question).group(1)
        return next(e["new_colour"] for e in events if e["type"] == "colour" and e["shape"] == shape)
    if qtype in ("disappear", "appear"):
        return next(e["shape"] for e in events if e["type"] == qtype)
    if question == "Which shape moved first?":
        return min((e["start"], e["shape"]) for e in events if e["type"] == "move")[1]
    a, verb_a, b, verb_b = re.match(
        r"Did the (\w+) (\w+).* before or after the (\w+) (\w+)", question
    ).groups()
    kinds = {"move": "move", "moved": "move", "turn": "colour", "turned": "colour"}

    def start(shape, verb):
        kind = kinds.get(verb, verb.removesuffix("ed"))
        return next(e["start"] for e in events if e["shape"] == shape and e["type"] == kind)

    return "before" if start(a, verb_a) < start(b, verb_b) else "after"


def test_qa_answers_follow_from_the_events(world):
    seen = set()
    for split, rows in _clip_rows(world).items():
        clips = {r["clip_id"]: r for r in rows}
        for q in read_jsonl(world.qa(split)):
            assert q["answer"] == _answer_from_events(q["question"], q["type"], clips[q["clip_id"]]), q
            seen.add(q["type"])
    assert seen == set(ANSWER_VOCAB)


def test_policy_sft_is_wrong_at_the_rate_about_motion_and_order(world):
    cfg = VideoWorldConfig(seed=3, **SMALL)
    rows = read_jsonl(world.policy_sft)
    gold = {q["id"]: q["answer"] for q in read_jsonl(world.qa("sft"))}
    assert [r["id"] for r in rows] == list(gold)
    eligible = [r for r in rows if r["type"] in cfg.wrong_answer_types]
    wrong = [r for r in rows if not r["correct"]]
    assert len(wrong) == round(cfg.wrong_answer_rate * len(eligible)) > 0
    assert all(r["type"] in cfg.wrong_answer_types for r in wrong)
    for r in rows:
        assert r["gold"] == gold[r["id"]] and r["correct"] == (r["answer"] == r["gold"])
        assert r["answer"] in ANSWER_VOCAB[r["type"]]


def test_judge_sft_pairs_each_question_with_a_right_and_a_wrong_answer(world):
    rows = read_jsonl(world.judge_sft)
    descriptions = {r["clip_id"]: r["description"] for r in read_jsonl(world.clips("judge"))}
    qa = read_jsonl(world.qa("judge"))
    assert len(rows) == 2 * len(qa)
    for q, yes, no in zip(qa, rows[::2], rows[1::2], strict=True):
        assert (yes["label"], no["label"]) == ("yes", "no")
        assert yes["answer"] == q["answer"] != no["answer"]
        assert yes["question"] == no["question"] == q["question"]
        assert yes["description"] == descriptions[q["clip_id"]]


@pytest.mark.parametrize(
    "field, value",
    [
        ("frames_per_clip", 8),
        ("image_size", 33),
        ("wrong_answer_rate", 1.5),
        ("wrong_answer_types", ("why",)),
    ],
)
def test_invalid_configs_name_the_field(field, value, tmp_path):
    with pytest.raises(ValueError, match=f"VideoWorldConfig.{field}"):
        generate_video_world(tmp_path / "w", VideoWorldConfig(**{field: value}))
    assert not Path(tmp_path / "w").exists()
