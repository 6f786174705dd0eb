"""``polyrlaif eval --domain spoken_lm --benchmark swuggy --predictions dev.txt --annotations gold.csv
--output O.json``: the metrics in O.json, the per-id, per-pair and per-band files under O/, as computed by
hand; ``--model M --audio DIR --opt units=U`` scores the wav files with the domain's adapter; ``--audio``
reaches a benchmark's ``audio`` option and is refused, by name, by a benchmark without one.

Until the `spoken_lm` domain registers itself, a stand-in package registers the name through the
``polyrlaif.domains`` entry-point group (installed metadata written into a temporary folder, as pip would),
pointing at the real evaluators and adapter; once the project's own entry point exists it takes precedence
(it comes later on ``sys.path``), and these tests then run against it.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy.io import wavfile

from polyrlaif.core.cli import main

STAND_IN = """
from polyrlaif.core.protocols import Domain

DOMAIN = Domain(
    name="spoken_lm",
    description="stand-in registering the spoken_lm benchmarks for a CLI test",
    config="slm_stand_in:DOMAIN",
    adapter="polyrlaif.domains.spoken_lm.adapter:ADAPTER",
    build="slm_stand_in:DOMAIN",
    benchmarks={
        "swuggy": "polyrlaif.domains.spoken_lm.zerospeech:SwuggyEvaluator",
        "sblimp": "polyrlaif.domains.spoken_lm.zerospeech:SblimpEvaluator",
        "storycloze": "polyrlaif.domains.spoken_lm.storycloze:StoryClozeEvaluator",
    },
)
"""

GOLD = [
    ("id", "filename", "voice", "frequency", "word", "phones", "correct"),
    ("1", "w1a", "A", "0", "foo", "f u", "True"),
    ("1", "n1a", "A", "", "fuu", "f uu", "False"),
    ("1", "w1b", "B", "0", "foo", "f u", "True"),
    ("1", "n1b", "B", "", "fuu", "f uu", "False"),
    ("2", "w2a", "A", "42", "bar", "b a", "True"),
    ("2", "n2a", "A", "", "baa", "b aa", "False"),
]
SCORES = {
    "w1a": -1.5,
    "n1a": -2.0,
    "w1b": -3.0,
    "n1b": -3.0,
    "w2a": -7.25,
    "n2a": -4.0,
}  # id 1: 0.75, id 2: 0


def _install_stand_in(site: Path) -> Path:
    site.mkdir()
    (site / "slm_stand_in.py").write_text(STAND_IN)
    info = site / "slm_stand_in-0.0.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: slm-stand-in\nVersion: 0.0.0\n")
    (info / "entry_points.txt").write_text("[polyrlaif.domains]\nspoken_lm = slm_stand_in:DOMAIN\n")
    return site


def _write_gold(path: Path, rows=GOLD) -> Path:
    with path.open("w", newline="") as fh:
        csv.writer(fh).writerows(rows)
    return path


def _polyrlaif(site: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "polyrlaif.core.cli", *args],
        capture_output=True, text=True, timeout=300, env={**os.environ, "PYTHONPATH": str(site)},
    )  # fmt: skip


def test_eval_swuggy_from_a_zerospeech_submission(tmp_path: Path) -> None:
    gold = _write_gold(tmp_path / "gold.csv")
    dev = tmp_path / "dev.txt"
    dev.write_text("".join(f"{name} {score}\n" for name, score in SCORES.items()))
    out = tmp_path / "O.json"
    res = _polyrlaif(
        _install_stand_in(tmp_path / "site"), "eval", "--domain", "spoken_lm", "--benchmark", "swuggy",
        "--predictions", str(dev), "--annotations", str(gold), "--output", str(out),
    )  # fmt: skip
    assert res.returncode == 0, res.stderr[-3000:]

    metrics = json.loads(out.read_text())
    assert metrics["swuggy"] == pytest.approx((0.75 + 0.0) / 2) and metrics["n_pairs"] == 3
    folder = tmp_path / "O"
    items = [json.loads(line) for line in (folder / "items.jsonl").read_text().splitlines()]
    assert [(r["id"], r["score"], r["n_voices"]) for r in items] == [("1", 0.75, 2), ("2", 0.0, 1)]
    with (folder / "pairs.csv").open() as fh:
        assert [(r["id"], r["voice"], r["score"]) for r in csv.DictReader(fh)] == [
            ("1", "A", "1.0"), ("1", "B", "0.5"), ("2", "A", "0.0"),
        ]  # fmt: skip
    with (folder / "by_frequency.csv").open() as fh:
        bands = {r["frequency"]: (r["n"], r["score"]) for r in csv.DictReader(fh)}
    assert bands["oov"] == ("1", "0.75") and bands["21-100"] == ("1", "0.0")
    assert json.loads((folder / "benchmark.json").read_text())["benchmark"] == "swuggy"
    assert "swuggy" in res.stdout and "95% interval" in res.stdout


def test_eval_swuggy_scores_the_audio_with_a_unit_lm(tmp_path: Path) -> None:
    from polyrlaif.domains.spoken_lm.adapter import build_tiny_unit_lm
    from polyrlaif.domains.spoken_lm.units import UnitTokenizer

    audio = tmp_path / "lexical" / "dev"
    audio.mkdir(parents=True)
    for i, row in enumerate(GOLD[1:]):
        t = np.arange(int((0.2 + 0.04 * i) * 16000)) / 16000
        wave = 0.3 * np.sin(2 * np.pi * (180 + 45 * i) * t) + 0.1 * np.sin(2 * np.pi * 900 * t * (1 + t))
        wavfile.write(audio / f"{row[1]}.wav", 16000, np.round(wave * 32767).astype(np.int16))
    tok = UnitTokenizer.fit(sorted(audio.glob("*.wav")), n_units=8, features="logmel", seed=0)
    tok.save(tmp_path / "units")
    lm = build_tiny_unit_lm(tmp_path / "lm", tok.tokens(), seed=3)
    out = tmp_path / "O.json"
    res = _polyrlaif(
        _install_stand_in(tmp_path / "site"), "eval", "--domain", "spoken_lm", "--benchmark", "swuggy",
        "--model", str(lm), "--audio", str(audio), "--annotations", str(_write_gold(tmp_path / "gold.csv")),
        "--opt", f"units={tmp_path / 'units'}", "--opt", "score=mean", "--device", "cpu",
        "--output", str(out),
    )  # fmt: skip
    assert res.returncode == 0, res.stderr[-3000:]

    metrics = json.loads(out.read_text())
    utt = {
        u["filename"]: u
        for u in map(json.loads, (tmp_path / "O" / "utterances.jsonl").read_text().splitlines())
    }
    assert set(utt) == {row[1] for row in GOLD[1:]}

    def outcome(c: str, i: str, key: str) -> float:
        a, b = utt[c][key], utt[i][key]
        return 0.5 * (a == b) + (a > b)

    for key, metric in (("sum_logprob", "swuggy_sum"), ("mean_logprob", "swuggy_mean")):
        id1 = (outcome("w1a", "n1a", key) + outcome("w1b", "n1b", key)) / 2
        assert metrics[metric] == pytest.approx((id1 + outcome("w2a", "n2a", key)) / 2)
    assert metrics["swuggy"] == metrics["swuggy_mean"] and metrics["n_pairs"] == 3


def test_a_bad_gold_file_is_named_without_a_traceback(tmp_path: Path, capsys, monkeypatch) -> None:
    monkeypatch.syspath_prepend(str(_install_stand_in(tmp_path / "site")))
    gold = _write_gold(tmp_path / "gold.csv", [row[:3] + row[4:] for row in GOLD])
    dev = tmp_path / "dev.txt"
    dev.write_text("w1a -1\n")
    args = ["eval", "--domain", "spoken_lm", "--benchmark", "swuggy", "--output", str(tmp_path / "o")]
    assert main([*args, "--predictions", str(dev), "--annotations", str(gold)]) == 2
    err = capsys.readouterr().err
    assert f"{gold}: column 'frequency' missing" in err and "Traceback" not in err


def test_audio_fills_the_audio_option_and_is_refused_where_there_is_none(
    tmp_path: Path, capsys, monkeypatch
) -> None:
    from polyrlaif.core.cli import build_parser
    from polyrlaif.core.eval_command import eval_options as _eval_options
    from polyrlaif.domains.spoken_lm.storycloze import StoryClozeEvaluator

    parsed = build_parser().parse_args(
        [
            "eval",
            "--domain",
            "spoken_lm",
            "--benchmark",
            "storycloze",
            "--audio",
            "sSC",
            "--opt",
            "score=mean",
        ]
    )
    opts = _eval_options(parsed, StoryClozeEvaluator)
    assert (opts.audio, opts.score) == ("sSC", "mean")
    parsed = build_parser().parse_args(
        ["eval", "--domain", "spoken_lm", "--benchmark", "storycloze", "--audio", "a", "--opt", "audio=b"]
    )
    with pytest.raises(ValueError, match="--audio and --opt audio=... name the same option"):
        _eval_options(parsed, StoryClozeEvaluator)

    args = ["eval", "--domain", "code", "--benchmark", "humaneval", "--output", str(tmp_path / "o")]
    assert main([*args, "--audio", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "benchmark 'humaneval' of domain 'code' does not take --audio" in err
    assert "Traceback" not in err and not (tmp_path / "o").exists()

    monkeypatch.syspath_prepend(str(_install_stand_in(tmp_path / "site")))
    args = ["eval", "--domain", "spoken_lm", "--benchmark", "swuggy", "--output", str(tmp_path / "o")]
    assert main([*args, "--annotations", "g.csv", "--opt", "score=max"]) == 2
    assert "score must be one of sum, mean, got 'max'" in capsys.readouterr().err


def test_default_output_is_one_folder_per_model_or_predictions_file(tmp_path: Path, monkeypatch) -> None:
    """Two evaluations on one benchmark without --output land side by side, neither refused."""
    gold = _write_gold(tmp_path / "gold.csv")
    for name in ("first", "second"):
        (tmp_path / f"{name}.txt").write_text("".join(f"{n} {s}\n" for n, s in SCORES.items()))
    monkeypatch.chdir(tmp_path)
    for name in ("first", "second"):
        args = ["eval", "--domain", "spoken_lm", "--benchmark", "swuggy", "--predictions", f"./{name}.txt",
                "--annotations", str(gold)]  # fmt: skip
        assert main(args) == 0
    root = tmp_path / "runs" / "eval" / "spoken_lm-swuggy"
    assert sorted(p.name for p in root.iterdir()) == ["first.txt", "second.txt"]
    assert all((root / n / "metrics.json").is_file() for n in ("first.txt", "second.txt"))
