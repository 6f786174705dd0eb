"""Spoken StoryCloze: the release folder (``<story>_correct.wav`` / ``<story>_incorrect.wav``) and the
index CSV load with named errors, accuracy on hand-made scores (a tie counts 0.5), and the model path
through a fitted UnitTokenizer and a tiny unit LM, equal to the outcomes of its own per-file scores."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from scipy.io import wavfile

from polyrlaif.core.io import InputError
from polyrlaif.core.protocols import BenchmarkEvaluator, EvalRequest
from polyrlaif.domains.spoken_lm.storycloze import (
    StoryClozeEvaluator,
    StoryClozeOptions,
    load_stories,
    read_story_index,
    scan_story_folder,
)
from polyrlaif.domains.spoken_lm.zerospeech import pair_outcome


def _tone(path: Path, freq: float, seconds: float = 0.3) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.arange(int(seconds * 16000)) / 16000
    wave = 0.3 * np.sin(2 * np.pi * freq * t) + 0.2 * np.sin(2 * np.pi * freq * 3.1 * t * (1 + t))
    wavfile.write(path, 16000, np.round(wave * 32767).astype(np.int16))
    return path


def _release(root: Path, stories: list[str]) -> Path:
    for i, s in enumerate(stories):
        _tone(root / f"{s}_correct.wav", 200 + 30 * i, 0.25 + 0.02 * i)
        _tone(root / f"{s}_incorrect.wav", 230 + 30 * i, 0.3 + 0.02 * i)
    return root


def _read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _run(tmp_path: Path, policy=None, limit=None, **options) -> tuple[dict, Path]:
    out = tmp_path / "out"
    request = EvalRequest(output_dir=out, limit=limit, options=StoryClozeOptions(**options))
    return StoryClozeEvaluator().evaluate(policy, request), out


def test_evaluator_follows_the_protocol() -> None:
    assert isinstance(StoryClozeEvaluator(), BenchmarkEvaluator)
    assert StoryClozeEvaluator.name == "storycloze" and dict(StoryClozeEvaluator.metrics) == {
        "accuracy": "higher"
    }
    assert set(StoryClozeOptions.__dataclass_fields__) == {
        "annotations", "audio", "units", "score", "batch_size", "predictions",
    }  # fmt: skip


def test_release_folder_pairs_recordings_in_natural_order(tmp_path: Path) -> None:
    root = _release(tmp_path / "sSC", ["10", "2", "1"])
    (root / "notes.txt").write_text("not audio")
    stories = scan_story_folder(root)
    assert [s.id for s in stories] == ["1", "2", "10"]
    assert (stories[0].correct, stories[0].incorrect) == ("1_correct", "1_incorrect")
    assert stories[2].correct_path == root / "10_correct.wav"
    nested = _release(tmp_path / "tSC" / "part", ["7"])
    assert [s.correct for s in scan_story_folder(nested.parent)] == ["part/7_correct"]


def test_release_folder_errors_are_named(tmp_path: Path) -> None:
    root = _release(tmp_path / "a", ["1"])
    _tone(root / "2_correct.wav", 300)
    with pytest.raises(InputError, match=r"2_correct.wav: no 2_incorrect recording beside it"):
        scan_story_folder(root)
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "story.wav").write_bytes(b"")
    with pytest.raises(InputError, match="no <story>_correct.wav .* --annotations index.csv"):
        scan_story_folder(tmp_path / "empty")
    cross = _release(tmp_path / "cm", ["1"])
    _tone(cross / "1_mutual.wav", 300)
    with pytest.raises(InputError, match="cross-modal"):
        scan_story_folder(cross)
    with pytest.raises(InputError, match="no such folder"):
        scan_story_folder(tmp_path / "nowhere")
    with pytest.raises(ValueError, match="needs its recordings"):
        load_stories(None, None)


def test_index_csv_loads_and_names_its_errors(tmp_path: Path) -> None:
    index = tmp_path / "index.csv"
    index.write_text("id,correct_file,incorrect_file\ns1,wav/a.wav,wav/b.wav\ns2,wav/c.wav,wav/d.wav\n")
    stories = read_story_index(index)
    assert [(s.id, s.correct, s.incorrect) for s in stories] == [
        ("s1", "wav/a", "wav/b"),
        ("s2", "wav/c", "wav/d"),
    ]
    assert stories[0].correct_path == tmp_path / "wav" / "a.wav"
    assert read_story_index(index, tmp_path / "root")[0].incorrect_path == tmp_path / "root" / "wav" / "b.wav"
    index.write_text("id,correct_file\ns1,a.wav\n")
    with pytest.raises(InputError, match=rf"{index}: column 'incorrect_file' missing"):
        read_story_index(index)
    index.write_text("id,correct_file,incorrect_file\ns1,a.wav,b.wav\ns1,c.wav,d.wav\n")
    with pytest.raises(InputError, match=r":3: id 's1' repeats line 2"):
        read_story_index(index)
    index.write_text("id,correct_file,incorrect_file\ns1,a.wav,\n")
    with pytest.raises(InputError, match=r":2: column 'incorrect_file' is empty"):
        read_story_index(index)


def test_accuracy_from_predictions_counts_a_tie_half(tmp_path: Path) -> None:
    root = _release(tmp_path / "sSC", ["1", "2", "10"])
    pred = tmp_path / "scores.txt"
    pred.write_text(
        "1_correct -1.0\n1_incorrect -2.0\n2_correct -3\n2_incorrect -3\n10_correct -5\n10_incorrect -1\n"
    )
    metrics, out = _run(tmp_path, predictions=str(pred), audio=str(root))
    assert metrics["accuracy"] == pytest.approx(0.5) and metrics["n"] == 3 and metrics["skipped"] == 0
    items = _read_jsonl(out / "items.jsonl")
    assert [(r["id"], r["score"]) for r in items] == [("1", 1.0), ("2", 0.5), ("10", 0.0)]
    assert items[0]["correct_score"] == -1.0 and items[0]["incorrect_file"] == "1_incorrect"
    assert StoryClozeEvaluator.aggregate(items) == {"accuracy": metrics["accuracy"], "n": 3.0}
    limited, _ = _run(tmp_path / "l", limit=1, predictions=str(pred), audio=str(root))
    assert limited["accuracy"] == 1.0 and limited["n"] == 1

    pred.write_text("1_correct -1.0\n1_incorrect -2.0\n2_correct -3\n2_incorrect -3\n10_correct -5\n")
    with pytest.raises(InputError, match=r"no score for 1 file\(s\) of .*'10_incorrect'"):
        _run(tmp_path, predictions=str(pred), audio=str(root))


def test_predictions_against_an_index_need_no_audio(tmp_path: Path) -> None:
    index = tmp_path / "index.csv"
    index.write_text("id,correct_file,incorrect_file\na,x/a1.wav,x/a2.wav\nb,x/b1.wav,x/b2.wav\n")
    pred = tmp_path / "p.txt"
    pred.write_text("x/a1 0\nx/a2 -1\nx/b1 -2\nx/b2 -1\n")
    metrics, _ = _run(tmp_path, predictions=str(pred), annotations=str(index))
    assert metrics["accuracy"] == 0.5
    with pytest.raises(ValueError, match="not both"):
        _run(tmp_path, policy=object(), predictions=str(pred), annotations=str(index))
    with pytest.raises(ValueError, match="needs --predictions"):
        _run(tmp_path, annotations=str(index))
    with pytest.raises(InputError, match=r"4 recording\(s\) not found: .*a1.wav"):
        _run(tmp_path, policy=object(), annotations=str(index), units="u")


def test_model_path_scores_whole_stories(tmp_path: Path) -> None:
    from polyrlaif.domains.spoken_lm.adapter import ADAPTER, build_tiny_unit_lm, score_utterances
    from polyrlaif.domains.spoken_lm.units import UnitTokenizer

    root = _release(tmp_path / "sSC", ["1", "2", "3"])
    (root / "4_correct.wav").write_bytes(b"\x00\x01 broken")
    _tone(root / "4_incorrect.wav", 500)
    tok = UnitTokenizer.fit(sorted(root.glob("[123]_*.wav")), n_units=10, features="mfcc", seed=0)
    tok.save(tmp_path / "units")
    policy = ADAPTER.load(str(build_tiny_unit_lm(tmp_path / "lm", tok.tokens(), seed=2)), device="cpu")
    metrics, out = _run(tmp_path, policy=policy, audio=str(root), units=str(tmp_path / "units"))

    assert metrics["n"] == 3 and metrics["skipped"] == 1 and metrics["skipped_stories"] == 1
    (skip,) = _read_jsonl(out / "skipped.jsonl")
    assert skip["id"] == "4" and skip["filename"] == "4_correct" and skip["reason"].startswith("unreadable")
    names = [f"{s}_{r}" for s in "123" for r in ("correct", "incorrect")]
    texts = [tok.to_text(tok.encode(root / f"{n}.wav")) for n in names]
    got = dict(zip(names, score_utterances(policy.model, policy.tokenizer, texts, packed=False), strict=True))
    for k, variant in ((0, "sum"), (1, "mean")):
        want = [pair_outcome(got[f"{s}_correct"][k], got[f"{s}_incorrect"][k]) for s in "123"]
        assert metrics[f"accuracy_{variant}"] == pytest.approx(sum(want) / 3)
    assert metrics["accuracy"] == metrics["accuracy_sum"]
    items = _read_jsonl(out / "items.jsonl")
    assert [r["id"] for r in items] == ["1", "2", "3"] and all("score_mean" in r for r in items)
    assert StoryClozeEvaluator.aggregate(items)["accuracy_mean"] == metrics["accuracy_mean"]
