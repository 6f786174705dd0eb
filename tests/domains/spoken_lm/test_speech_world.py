"""The spoken story world on disk: determinism, layout and formats, held-out content, reruns."""

from __future__ import annotations

import csv
import json
import re
from dataclasses import replace
from pathlib import Path

import pytest

from polyrlaif.core.io import read_jsonl
from polyrlaif.datasets.speech import (
    CHARACTERS,
    SpeechWorldConfig,
    all_combos,
    all_sentences,
    espeak_available,
    generate_speech_world,
    load_speech_world,
    read_wav,
    tokens,
    vocabulary,
)

pytestmark = pytest.mark.skipif(
    not espeak_available(), reason="espeak-ng is not installed (sudo apt-get install espeak-ng)"
)

TINY = SpeechWorldConfig(
    seed=0,
    train_stories=12,
    prompt_stories=4,
    storycloze=5,
    swuggy_words=4,
    sblimp_pairs=6,
    zerospeech_voices=2,
)
TEXT_FILES = (
    "corpus.jsonl",
    "prompts.jsonl",
    "heldout_prompts.jsonl",
    "stories.jsonl",
    "storycloze/sSC.jsonl",
    "storycloze/tSC.jsonl",
    "storycloze/sSC.csv",
    "zerospeech/lexical/dev/gold.csv",
    "zerospeech/syntactic/dev/gold.csv",
)
GRAMMATICAL = {s for c, p in all_combos() for s in all_sentences(c, p)}


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """The tiny world, generated once (a few seconds)."""
    return generate_speech_world(tmp_path_factory.mktemp("speech") / "world", TINY)


def _gold(path: Path) -> tuple[list[str], list[dict]]:
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        return list(reader.fieldnames or []), list(reader)


def _sentences(text: str) -> list[str]:
    return [s.strip() + "." for s in text.split(".") if s.strip()]


def test_same_seed_gives_identical_text_files_and_another_seed_differs(world, tmp_path):
    again = generate_speech_world(tmp_path / "again", TINY)
    other = generate_speech_world(tmp_path / "other", replace(TINY, seed=1))
    for name in TEXT_FILES:
        assert world.file(name).read_bytes() == again.file(name).read_bytes(), name
        if not name.endswith(".csv") or "zerospeech" in name:  # the StoryCloze CSV lists only file names
            assert world.file(name).read_bytes() != other.file(name).read_bytes(), name
    wavs = sorted(p.relative_to(world.data_dir) for p in world.data_dir.rglob("*.wav"))
    assert wavs == sorted(p.relative_to(again.data_dir) for p in again.data_dir.rglob("*.wav"))


def test_every_listed_audio_file_is_16khz_mono_speech(world):
    root = world.data_dir
    listed = [r["audio"] for r in read_jsonl(world.corpus)] + [r["audio"] for r in read_jsonl(world.prompts)]
    listed += [r["audio"] for r in read_jsonl(world.heldout_prompts)]  # the StoryCloze stories' openings
    for task in ("sSC", "tSC"):
        listed += [r[k] for r in read_jsonl(world.storycloze(task)) for k in ("correct", "incorrect")]
    for gold, folder in ((world.lexical_gold, "lexical"), (world.syntactic_gold, "syntactic")):
        listed += [f"zerospeech/{folder}/dev/{r['filename']}.wav" for r in _gold(gold)[1]]
    assert sorted(listed) == sorted(str(p.relative_to(root)) for p in root.rglob("*.wav"))
    assert len(listed) == world.counts["utterances"]
    for rel in listed[::7]:
        samples, rate = read_wav(root / rel)
        assert rate == 16000 and samples.ndim == 1 and 0.3 < len(samples) / rate < 20
        assert abs(samples).max() > 0.05


def test_layout_rows_and_manifest(world):
    root = world.data_dir
    assert (root / "DONE").read_text().strip() == world.config_hash
    meta = json.loads((root / "world.json").read_text())
    assert meta["config_hash"] == world.config_hash and meta["counts"] == world.counts
    assert meta["vocabulary"] == vocabulary() and len(meta["heldout_combos"]) == TINY.heldout_combos
    corpus = read_jsonl(world.corpus)
    assert all(list(r) == ["audio", "text", "voice", "story_id"] for r in corpus)
    assert TINY.train_stories <= len(corpus) <= 2 * TINY.train_stories
    assert all(r["voice"] in TINY.voices and r["audio"].startswith("corpus/") for r in corpus)
    prompts = read_jsonl(world.prompts)
    assert [r["prompt_id"] for r in prompts] == [f"prompt_{i:05d}" for i in range(1, 5)]
    assert all(list(r) == ["prompt_id", "audio", "text", "voice", "story_id"] for r in prompts)
    stories = {r["story_id"]: r for r in read_jsonl(world.stories)}
    for r in prompts:  # a prompt is the context of its story, no ending
        assert r["text"] == " ".join(stories[r["story_id"]]["context"])
    ssc = read_jsonl(world.storycloze("sSC"))
    assert [r["id"] for r in ssc] == [f"{i:05d}" for i in range(1, 6)]
    for task in ("sSC", "tSC"):
        for r in read_jsonl(world.storycloze(task)):
            assert re.fullmatch(rf"storycloze/{task}/\d{{5}}_correct\.wav", r["correct"])
            assert r["incorrect"] == r["correct"].replace("_correct", "_incorrect")
            assert r["correct_text"] == f"{r['prompt']} {r['correct_ending']}"
            assert r["incorrect_text"] == f"{r['prompt']} {r['incorrect_ending']}"
            assert r["correct_ending"] != r["incorrect_ending"]
            assert r["correct_ending"] == stories[r["story_id"]]["coherent"]
        header, index = _gold(root / "storycloze" / f"{task}.csv")
        assert header == ["id", "correct_file", "incorrect_file"]
        assert [(r["id"], f"storycloze/{r['correct_file']}") for r in index] == [
            (r["id"], r["correct"]) for r in read_jsonl(world.storycloze(task))
        ]


def test_zerospeech_gold_files_follow_the_2021_format(world):
    header, lexical = _gold(world.lexical_gold)
    assert header == ["id", "filename", "voice", "frequency", "word", "phones", "correct"]
    header, syntactic = _gold(world.syntactic_gold)
    assert header == ["id", "voice", "type", "subtype", "transcription", "filename", "correct"]
    for rows, text in ((lexical, "word"), (syntactic, "transcription")):
        good = [r for r in rows if r["correct"] == "1"]
        bad = [r for r in rows if r["correct"] == "0"]
        assert len(good) == len(bad) == len(rows) // 2
        # ZeroSpeech's evaluation pairs the k-th correct row with the k-th incorrect one
        for g, b in zip(good, bad, strict=True):
            assert (g["id"], g["voice"]) == (b["id"], b["voice"]) and g[text] != b[text]
        assert len({r["filename"] for r in rows}) == len(rows)
        assert all(re.fullmatch(r"[A-Za-z]{10}", r["filename"]) for r in rows)
        assert len({(r["id"], r["voice"]) for r in rows}) == len(rows) // 2
        assert {len({r["voice"] for r in rows if r["id"] == i}) for i in {r["id"] for r in rows}} == {2}
    counts = {}
    for r in read_jsonl(world.corpus):
        for w in tokens(r["text"]):
            counts[w] = counts.get(w, 0) + 1
    for r in lexical:
        assert r["phones"] and int(r["frequency"]) >= 0
        if r["correct"] == "1":
            assert int(r["frequency"]) == counts.get(r["word"], 0)
    assert {r["type"] for r in syntactic} <= {"agreement", "case", "word_order", "determiner"}
    assert len({r["subtype"] for r in syntactic}) == 6  # subtypes in turn


def test_heldout_content_never_reaches_training_text(world):
    held = {tuple(c) for c in json.loads((world.data_dir / "world.json").read_text())["heldout_combos"]}
    stories = read_jsonl(world.stories)
    assert {(s["character"], s["scene"]) for s in stories if s["split"] == "storycloze"} <= held
    assert not {(s["character"], s["scene"]) for s in stories if s["split"] != "storycloze"} & held
    training = [r["text"] for r in read_jsonl(world.corpus)] + [r["text"] for r in read_jsonl(world.prompts)]
    seen_sentences = {s for t in training for s in _sentences(t)}
    joined = "\n".join(training)
    for task in ("sSC", "tSC"):
        for r in read_jsonl(world.storycloze(task)):
            assert r["prompt"] not in joined and r["correct_text"] not in joined
            assert r["incorrect_text"] not in joined
            assert _sentences(r["prompt"])[0] not in seen_sentences  # the opening names the held-out pair
    for r in _gold(world.syntactic_gold)[1]:
        if r["correct"] == "0":
            assert r["transcription"] not in seen_sentences and r["transcription"] not in GRAMMATICAL
    words = {w for t in training for w in tokens(t)}
    for r in _gold(world.lexical_gold)[1]:
        assert (r["word"] in words or r["word"] in vocabulary()) == (r["correct"] == "1")


def test_rerun_is_a_no_op_and_other_configs_or_files_are_refused(world, tmp_path):
    done = world.data_dir / "DONE"
    before = done.stat().st_mtime_ns
    again = generate_speech_world(world.data_dir, TINY)
    assert again.counts == world.counts and done.stat().st_mtime_ns == before
    assert load_speech_world(world.data_dir).config_hash == world.config_hash
    with pytest.raises(ValueError, match="another config.*seed"):
        generate_speech_world(world.data_dir, replace(TINY, seed=5))
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "notes.txt").write_text("mine")
    with pytest.raises(ValueError, match="not empty"):
        generate_speech_world(tmp_path / "junk", TINY)
    with pytest.raises(ValueError, match="no DONE"):
        load_speech_world(tmp_path / "junk")


def test_characters_keep_their_pronoun_in_coherent_stories(world):
    for s in read_jsonl(world.stories):
        pron = CHARACTERS[s["character"]]
        other = "she" if pron == "he" else "he"
        assert other not in tokens(" ".join([*s["context"], s["coherent"]]))


def test_heldout_prompts_are_the_storycloze_openings_in_the_same_voice(world):
    """The semantic-score benchmark continues these: held-out stories, never a training prompt."""
    openings = read_jsonl(world.heldout_prompts)
    cloze = read_jsonl(world.storycloze("sSC"))
    assert len(openings) == len(cloze) == world.counts["heldout_prompts"]
    for o, c in zip(openings, cloze, strict=True):
        assert (o["text"], o["voice"], o["story_id"]) == (c["prompt"], c["voice"], c["story_id"])
    trained = {r["text"] for r in read_jsonl(world.prompts)}
    assert not trained & {o["text"] for o in openings}
