"""The `spoken_lm` domain brought back to words through speech (``domain.back_to_words=speech``): one
round in the tiny spoken world, where the world fits its own vocoder in a stage and pocketsphinx, with a
language model of the corpus's transcripts, hears each continuation."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from tiny_configs import tiny_config

from polyrlaif.domains.spoken_lm.asr import normalize_words


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="the spoken world speaks with espeak-ng")
def test_a_round_hears_continuations_through_the_worlds_vocoder(tmp_path, tiny_lm_path, rule_judge, cli):
    url, _ = rule_judge
    out = tmp_path / "speech"
    cli("train", "--config", tiny_config("spoken_lm"), f"run.output_dir={out}",
        f"model.name_or_path={tiny_lm_path}", f"judge.base_url={url}", "domain.back_to_words=speech",
        "run.rounds=1",
        "domain.eval_benchmarks=[storycloze,topic_storycloze,semantic]")  # fmt: skip

    metrics = json.loads((out / "metrics.json").read_text())
    assert [s["name"] for s in metrics["stages"]][-1] == "vocoder"
    built = {s["name"]: Path(s["output_dir"]) for s in metrics["stages"]}  # in the test session's cache
    assert (built["vocoder"] / "vocoder" / "world_vocoder.json").is_file()
    rows = [json.loads(x) for x in (out / "round_1" / "judgments.jsonl").read_text().splitlines()]
    said = [j for j in rows if j["judge_id"] == "transcript"]
    assert said and all(j["failure"] is None and "transcript" in j["scores"] for j in said)
    heard = [j["scores"]["transcript"] for j in said if j["score"] == 1.0]
    assert heard and all(heard)
    corpus = (built["world"] / "corpus.jsonl").read_text().splitlines()
    vocabulary = {w for x in corpus for w in normalize_words(json.loads(x)["text"])}
    assert {w for t in heard for w in t.split()} <= vocabulary  # the ASR's LM is the world's corpus
    assert metrics["rounds"][1]["transcript_rate"] == len(heard) / len(said)

    # the semantic score ran on the held-out openings before and after the round, through the same judge
    for rnd in ("round_0", "round_1"):
        sem = out / rnd / "eval_semantic"
        items = [json.loads(x) for x in (sem / "items.jsonl").read_text().splitlines()]
        held = (built["world"] / "heldout_prompts.jsonl").read_text().splitlines()
        assert [r["id"] for r in items] == [json.loads(x)["prompt_id"] for x in held]
        got = json.loads((sem / "metrics.json").read_text())
        scored = [r["score"] for r in items if r["score"] is not None]
        assert got["n"] == len(scored) > 0 and 0.0 <= got["semantic_score"] <= 1.0
        # the grammar's check of the same transcripts, which no judge reads
        assert all(len(r["on_topic"]) == len(r["transcripts"]) for r in items)
        assert 0.0 <= got["on_topic_rate"] <= 1.0

    # StoryCloze and Topic-StoryCloze score the same stories' two index files, each its own recordings
    for name, split in (("storycloze", "sSC"), ("topic_storycloze", "tSC")):
        rows = (out / "round_1" / f"eval_{name}" / "items.jsonl").read_text().splitlines()
        items = [json.loads(x) for x in rows]
        assert items and all(r["correct_file"].startswith(f"{split}/") for r in items)
        assert f"{name}/accuracy" in metrics["rounds"][1]
