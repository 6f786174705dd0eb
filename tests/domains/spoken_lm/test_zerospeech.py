"""sWUGGY and sBLIMP in ZeroSpeech 2021's format: hand-computed scores (ties 0.5, voices averaged per id
and then over ids, frequency bands as ``pandas.cut``), named errors for a file in one input but not the
other and for a missing gold column (before any model loads), sum against mean, skipped audio, and the
model path end to end: wav files -> a UnitTokenizer fitted here -> a tiny unit LM, against
log-likelihoods computed by hand from the model's logits."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np
import pytest
from scipy.io import wavfile

from polyrlaif.core.io import InputError
from polyrlaif.core.protocols import BenchmarkEvaluator, EvalRequest
from polyrlaif.domains.spoken_lm import zerospeech as zs
from polyrlaif.domains.spoken_lm.zerospeech import (
    FREQUENCY_BANDS,
    GOLD_COLUMNS,
    SblimpEvaluator,
    SwuggyEvaluator,
    ZeroSpeechOptions,
    frequency_band,
    pair_outcome,
    read_gold,
    read_submission,
)

# id 1: two voices, a win and a tie (0.75); id 2: two losses (0); id 3: one voice, a win (1).
SWUGGY_ROWS = [
    # id, filename, voice, frequency, word, phones, correct
    ("1", "w1a", "A", "0", "foo", "f u", "True"),
    ("1", "n1a", "A", "", "", "f uu", "False"),
    ("1", "w1b", "B", "0", "foo", "f u", "True"),
    ("1", "n1b", "B", "", "", "f uu", "False"),
    ("2", "w2a", "A", "3", "bar", "b a", "True"),
    ("2", "n2a", "A", "", "", "b aa", "False"),
    ("2", "w2b", "B", "3", "bar", "b a", "True"),
    ("2", "n2b", "B", "", "", "b aa", "False"),
    ("3", "n3a", "A", "", "", "k ii", "False"),  # the incorrect row first: pairs match on (id, voice)
    ("3", "w3a", "A", "150", "cat", "k i", "True"),
]
SWUGGY_SCORES = {
    "w1a": -1.0, "n1a": -2.0, "w1b": -3.0, "n1b": -3.0,
    "w2a": -5.0, "n2a": -4.0, "w2b": -2.0, "n2b": -1.0,
    "w3a": 0.0, "n3a": -1.0,
}  # fmt: skip
SWUGGY = (0.75 + 0.0 + 1.0) / 3  # per id, then over ids (over pairs it would be 2.5 / 5 = 0.5)

SBLIMP_ROWS = [
    # id, voice, type, subtype, transcription, filename, correct
    ("10", "A", "anaphor", "gender", "he saw himself", "s10a", "1"),
    ("10", "A", "anaphor", "gender", "he saw herself", "x10a", "0"),
    ("10", "B", "anaphor", "gender", "he saw himself", "s10b", "1"),
    ("10", "B", "anaphor", "gender", "he saw herself", "x10b", "0"),
    ("11", "A", "anaphor", "number", "they saw themselves", "s11a", "1"),
    ("11", "A", "anaphor", "number", "they saw itself", "x11a", "0"),
    ("12", "A", "island", "adjunct", "who left", "s12a", "1"),
    ("12", "A", "island", "adjunct", "who whether left", "x12a", "0"),
]
SBLIMP_SCORES = {
    "s10a": -1,
    "x10a": -2,
    "s10b": -2,
    "x10b": -1,
    "s11a": -3,
    "x11a": -3,
    "s12a": -1,
    "x12a": -9,
}
# id 10: (1 + 0) / 2, id 11: a tie, id 12: 1; anaphor = (0.5 + 0.5) / 2, island = 1


def _write_gold(
    path: Path, kind: str, rows: list[tuple[str, ...]], columns: tuple[str, ...] | None = None
) -> Path:
    columns = columns or GOLD_COLUMNS[kind]
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(columns)
        writer.writerows(rows)
    return path


def _write_submission(path: Path, scores: dict[str, float]) -> Path:
    path.write_text("".join(f"{name} {score}\n" for name, score in scores.items()))
    return path


def _read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as fh:
        return list(csv.DictReader(fh))


def _run(evaluator, tmp_path: Path, policy=None, limit=None, **options) -> tuple[dict, Path]:
    out = tmp_path / "out"
    request = EvalRequest(output_dir=out, limit=limit, options=ZeroSpeechOptions(**options))
    return evaluator.evaluate(policy, request), out


def test_evaluators_follow_the_protocol() -> None:
    for cls, metric in ((SwuggyEvaluator, "swuggy"), (SblimpEvaluator, "sblimp")):
        assert isinstance(cls(), BenchmarkEvaluator)
        assert cls.name == metric and dict(cls.metrics) == {metric: "higher"} and cls.max_new_tokens == 0
        assert cls.Options is ZeroSpeechOptions
    assert {"predictions", "annotations", "audio", "units", "score", "batch_size"} <= set(
        ZeroSpeechOptions.__dataclass_fields__
    )
    with pytest.raises(ValueError, match="score must be one of sum, mean"):
        ZeroSpeechOptions(score="max")


def test_pair_outcome_counts_a_tie_half() -> None:
    assert [pair_outcome(*p) for p in ((-1, -2), (-2, -2), (-3, -2))] == [1.0, 0.5, 0.0]
    assert pair_outcome(-math.inf, -math.inf) == 0.5 and pair_outcome(-1.0, -math.inf) == 1.0


def test_frequency_bands_are_zerospeechs_pandas_cut() -> None:
    import pandas as pd

    counts = [0, 1, 4, 5, 6, 19, 20, 21, 99, 100, 101, 5000]
    want = pd.cut(
        pd.Series(counts),
        [0, 1, 5, 20, 100, float("inf")],
        labels=[b[0] for b in FREQUENCY_BANDS],
        right=False,
    )
    assert [frequency_band(c) for c in counts] == [str(w) for w in want]
    assert frequency_band(5) == "6-20" and frequency_band(100) == ">100"  # the intervals are [low, high)
    assert frequency_band(None) is None


@pytest.mark.parametrize("encoding", [("True", "False"), ("1", "0"), ("true", "FALSE")])
def test_swuggy_averages_voices_per_id_then_ids(tmp_path: Path, encoding: tuple[str, str]) -> None:
    rows = [(*r[:-1], encoding[0] if r[-1] == "True" else encoding[1]) for r in SWUGGY_ROWS]
    gold = _write_gold(tmp_path / "gold.csv", "swuggy", rows)
    sub = _write_submission(tmp_path / "dev.txt", SWUGGY_SCORES)
    metrics, out = _run(SwuggyEvaluator(), tmp_path, predictions=str(sub), annotations=str(gold))

    assert metrics["swuggy"] == pytest.approx(SWUGGY)
    assert metrics["n_pairs"] == 5 and metrics["n_ids"] == 3 and metrics["skipped"] == 0
    assert metrics["swuggy_invocab"] == pytest.approx(0.5)  # ids 2 (band 1-5) and 3 (>100); id 1 is oov
    assert "swuggy_sum" not in metrics  # a submission has one score per file

    items = _read_jsonl(out / "items.jsonl")
    assert [(r["id"], r["n_voices"], r["score"], r["band"]) for r in items] == [
        ("1", 2, 0.75, "oov"), ("2", 2, 0.0, "1-5"), ("3", 1, 1.0, ">100"),
    ]  # fmt: skip
    assert items[0]["word"] == "f u" and items[0]["non_word"] == "f uu"  # no non-word spelt: phones
    assert SwuggyEvaluator.aggregate(items) == {k: metrics[k] for k in SwuggyEvaluator.aggregate(items)}

    pairs = _read_csv(out / "pairs.csv")
    assert [(p["id"], p["voice"], float(p["score"])) for p in pairs] == [
        ("1", "A", 1.0), ("1", "B", 0.5), ("2", "A", 0.0), ("2", "B", 0.0), ("3", "A", 1.0),
    ]  # fmt: skip
    bands = {r["frequency"]: r for r in _read_csv(out / "by_frequency.csv")}
    assert list(bands) == ["oov", "1-5", "6-20", "21-100", ">100"]
    assert (bands["oov"]["n"], float(bands["oov"]["score"])) == ("1", 0.75)
    assert bands["6-20"]["n"] == "0" and bands["6-20"]["score"] == "nan"
    assert json.loads((out / "metrics.json").read_text())["swuggy"] == pytest.approx(SWUGGY)
    assert _read_jsonl(out / "skipped.jsonl") == []


def test_sblimp_pairs_voices_and_tables_types(tmp_path: Path) -> None:
    gold = _write_gold(tmp_path / "gold.csv", "sblimp", SBLIMP_ROWS)
    sub = _write_submission(tmp_path / "dev.txt", SBLIMP_SCORES)
    metrics, out = _run(SblimpEvaluator(), tmp_path, predictions=str(sub), annotations=str(gold))
    assert metrics["sblimp"] == pytest.approx((0.5 + 0.5 + 1.0) / 3)
    assert metrics["n_pairs"] == 4 and metrics["n_ids"] == 3
    items = _read_jsonl(out / "items.jsonl")
    assert [(r["id"], r["type"], r["subtype"], r["score"]) for r in items] == [
        ("10", "anaphor", "gender", 0.5), ("11", "anaphor", "number", 0.5), ("12", "island", "adjunct", 1.0),
    ]  # fmt: skip
    assert items[0]["sentence"] == "he saw himself" and items[0]["non_sentence"] == "he saw herself"
    by_type = {r["type"]: r for r in _read_csv(out / "by_type.csv")}
    assert float(by_type["anaphor"]["score"]) == 0.5 and by_type["anaphor"]["n"] == "2"
    assert float(by_type["anaphor"]["std"]) == 0.0 and by_type["island"]["std"] == "nan"
    assert SblimpEvaluator.aggregate(items)["sblimp"] == metrics["sblimp"]


def test_limit_takes_the_first_ids_with_all_their_voices(tmp_path: Path) -> None:
    gold = _write_gold(tmp_path / "gold.csv", "swuggy", SWUGGY_ROWS)
    sub = _write_submission(tmp_path / "dev.txt", SWUGGY_SCORES)
    metrics, _ = _run(SwuggyEvaluator(), tmp_path, limit=2, predictions=str(sub), annotations=str(gold))
    assert metrics["swuggy"] == pytest.approx(0.375) and metrics["n_pairs"] == 4


@pytest.mark.parametrize("where", ["submission", "gold"])
def test_a_file_in_one_input_but_not_the_other_is_named(tmp_path: Path, where: str) -> None:
    rows, scores = list(SWUGGY_ROWS), dict(SWUGGY_SCORES)
    if where == "submission":
        scores["stray42"] = -1.0
    else:
        del scores["n2b"]
    gold = _write_gold(tmp_path / "gold.csv", "swuggy", rows)
    sub = _write_submission(tmp_path / "dev.txt", scores)
    with pytest.raises(InputError) as err:
        _run(SwuggyEvaluator(), tmp_path, predictions=str(sub), annotations=str(gold))
    if where == "submission":
        assert "'stray42'" in str(err.value) and f"not in {gold}" in str(err.value)
    else:
        assert "'n2b'" in str(err.value) and "no score for 1 file(s)" in str(err.value)
    assert not (tmp_path / "out" / "items.jsonl").exists()


@pytest.mark.parametrize(("kind", "column"), [(k, c) for k, cols in GOLD_COLUMNS.items() for c in cols])
def test_a_missing_gold_column_is_named_before_any_model_loads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kind: str, column: str
) -> None:
    from polyrlaif.domains.spoken_lm import units

    def no_model(*args, **kwargs):
        raise AssertionError("the unit tokenizer loaded before the gold file was checked")

    monkeypatch.setattr(units.UnitTokenizer, "load", no_model)
    columns = tuple(c for c in GOLD_COLUMNS[kind] if c != column)
    rows = SWUGGY_ROWS if kind == "swuggy" else SBLIMP_ROWS
    index = GOLD_COLUMNS[kind].index(column)
    gold = _write_gold(tmp_path / "gold.csv", kind, [r[:index] + r[index + 1 :] for r in rows], columns)
    (tmp_path / "wav").mkdir()
    evaluator = SwuggyEvaluator() if kind == "swuggy" else SblimpEvaluator()
    with pytest.raises(InputError, match=rf"{gold}: column '{column}' missing"):
        _run(
            evaluator,
            tmp_path,
            policy=object(),
            annotations=str(gold),
            audio=str(tmp_path / "wav"),
            units="u",
        )


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        (SWUGGY_ROWS[:-1], r"id '3', voice 'A' has no correct row"),
        (
            [*SWUGGY_ROWS, ("3", "w3x", "A", "1", "cat", "k i", "True")],
            r":12: id '3', voice 'A' has a second correct",
        ),
        ([*SWUGGY_ROWS, ("4", "w1a", "A", "1", "x", "x", "True")], r":12: filename 'w1a' repeats line 2"),
        (
            [("1", "w", "A", "0", "w", "w", "yes")],
            r":2: column 'correct' must be 1/0 or True/False, got 'yes'",
        ),
        (
            [("1", "w", "A", "often", "w", "w", "1"), ("1", "n", "A", "", "", "n", "0")],
            r":2: column 'frequency' must be a count",
        ),
        ([], r"header only, no rows"),
    ],
)
def test_bad_gold_rows_are_named(tmp_path: Path, rows: list, message: str) -> None:
    gold = _write_gold(tmp_path / "gold.csv", "swuggy", rows)
    with pytest.raises(InputError, match=message):
        read_gold(gold, "swuggy")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a 1.0\nb\n", r":2: expected '<filename> <score>'"),
        ("a 1.0 2.0\n", r":1: expected"),
        ("a high\n", r":1: score 'high' is not a number"),
        ("a nan\n", r":1: score of 'a' is NaN"),
        ("a 1\n\na 2\n", r":3: filename 'a' repeats line 1"),
        ("\n", r"no '<filename> <score>' lines"),
    ],
)
def test_bad_submission_lines_are_named(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "dev.txt"
    path.write_text(text)
    with pytest.raises(InputError, match=message):
        read_submission(path)
    assert read_submission(_write_submission(tmp_path / "ok.txt", {"a": -math.inf, "b": 2.5})) == {
        "a": -math.inf,
        "b": 2.5,
    }


def test_inputs_the_benchmark_cannot_use_are_refused(tmp_path: Path) -> None:
    gold = _write_gold(tmp_path / "gold.csv", "swuggy", SWUGGY_ROWS)
    sub = _write_submission(tmp_path / "dev.txt", SWUGGY_SCORES)
    with pytest.raises(ValueError, match="needs the ZeroSpeech gold file"):
        _run(SwuggyEvaluator(), tmp_path, predictions=str(sub))
    with pytest.raises(ValueError, match="not both"):
        _run(SwuggyEvaluator(), tmp_path, policy=object(), predictions=str(sub), annotations=str(gold))
    with pytest.raises(ValueError, match="--audio is read with --model"):
        _run(SwuggyEvaluator(), tmp_path, predictions=str(sub), annotations=str(gold), audio=str(tmp_path))
    with pytest.raises(ValueError, match="needs --predictions"):
        _run(SwuggyEvaluator(), tmp_path, annotations=str(gold))
    with pytest.raises(InputError, match=r"no audio file for 10 name\(s\): 'w1a'"):
        _run(
            SwuggyEvaluator(),
            tmp_path,
            policy=object(),
            annotations=str(gold),
            audio=str(tmp_path),
            units="u",
        )


# ---- the model path ------------------------------------------------------------------------------


def _tone(path: Path, freq: float, seconds: float = 0.4, rate: int = 16000, stereo: bool = False) -> Path:
    t = np.arange(int(seconds * rate)) / rate
    wave = 0.3 * np.sin(2 * np.pi * freq * t) + 0.2 * np.sin(2 * np.pi * (freq * 2.7) * t * (1 + t))
    data = np.round(wave * 32767).astype(np.int16)
    wavfile.write(path, rate, np.stack([data, data[::-1]], 1) if stereo else data)
    return path


class _FakeUnits:
    """A unit tokenizer whose units are fixed per file name (the real one is exercised below)."""

    units = {"w1a": [1] * 10, "n1a": [2] * 2, "w1b": [1] * 10, "n1b": [2] * 2}

    @classmethod
    def load(cls, path, **kwargs):
        return cls()

    def encode(self, path):
        return self.units[Path(path).stem]

    def to_text(self, units):
        return " ".join(f"<u{u}>" for u in units)


def _fake_scores(model, tokenizer, texts, *, batch_size=16):
    # a word of 10 units at -1 each (sum -10, mean -1) against a non-word of 2 at -2 (sum -4, mean -2):
    # the sum prefers the non-word, the mean the word
    return [(-1.0 * len(t.split()) if "<u1>" in t else -2.0 * len(t.split()), -1.0 if "<u1>" in t else -2.0)
            for t in texts]  # fmt: skip


class _Policy:
    model, tokenizer = "model", "tokenizer"


@pytest.mark.parametrize(("score", "want"), [("sum", 0.0), ("mean", 1.0)])
def test_sum_and_mean_are_both_reported_and_one_is_the_headline(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, score: str, want: float
) -> None:
    from polyrlaif.domains.spoken_lm import adapter, units

    monkeypatch.setattr(units, "UnitTokenizer", _FakeUnits)
    monkeypatch.setattr(adapter, "score_utterances", _fake_scores)
    gold = _write_gold(tmp_path / "gold.csv", "swuggy", SWUGGY_ROWS[:4])
    audio = tmp_path / "wav"
    audio.mkdir()
    for i, name in enumerate(_FakeUnits.units):
        _tone(audio / f"{name}.wav", 200 + 50 * i)
    metrics, out = _run(
        SwuggyEvaluator(),
        tmp_path,
        policy=_Policy(),
        annotations=str(gold),
        audio=str(audio),
        units="u",
        score=score,
    )
    assert (metrics["swuggy"], metrics["swuggy_sum"], metrics["swuggy_mean"]) == (want, 0.0, 1.0)
    (item,) = _read_jsonl(out / "items.jsonl")
    assert (item["score"], item["score_sum"], item["score_mean"]) == (want, 0.0, 1.0)
    assert SwuggyEvaluator.aggregate([item]) == {k: metrics[k] for k in SwuggyEvaluator.aggregate([item])}
    utterances = {u["filename"]: u for u in _read_jsonl(out / "utterances.jsonl")}
    assert utterances["w1a"] == {"filename": "w1a", "n_units": 10, "sum_logprob": -10.0, "mean_logprob": -1.0}
    # the scores as ZeroSpeech submissions: rescoring the summed one gives the sum's result
    assert read_submission(out / "submission_sum.txt")["n1a"] == -4.0
    rescored, _ = _run(SwuggyEvaluator(), tmp_path / "re", predictions=str(out / "submission_mean.txt"),
                       annotations=str(gold))  # fmt: skip
    assert rescored["swuggy"] == 1.0


def test_unreadable_and_empty_audio_is_skipped_and_counted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from polyrlaif.domains.spoken_lm import adapter, units

    monkeypatch.setattr(units, "UnitTokenizer", _FakeUnits)
    monkeypatch.setattr(adapter, "score_utterances", _fake_scores)
    gold = _write_gold(tmp_path / "gold.csv", "swuggy", SWUGGY_ROWS[:4])
    audio = tmp_path / "wav"
    audio.mkdir()
    _tone(audio / "w1a.wav", 220)
    _tone(audio / "n1a.wav", 330, rate=44100, stereo=True)  # resampled and downmixed, then scored
    (audio / "w1b.wav").write_bytes(b"RIFF not really a wav")
    wavfile.write(audio / "n1b.wav", 16000, np.zeros(0, dtype=np.int16))
    metrics, out = _run(
        SwuggyEvaluator(), tmp_path, policy=_Policy(), annotations=str(gold), audio=str(audio), units="u"
    )
    assert metrics["skipped"] == 2 and metrics["skipped_pairs"] == 1 and metrics["n_pairs"] == 1
    skipped = {r["filename"]: r for r in _read_jsonl(out / "skipped.jsonl")}
    assert skipped["w1b"]["reason"].startswith("unreadable") and skipped["n1b"]["reason"].startswith("empty")
    assert skipped["w1b"]["id"] == "1" and skipped["w1b"]["voice"] == "B"
    (item,) = _read_jsonl(out / "items.jsonl")
    assert item["n_voices"] == 1


def test_model_path_scores_wavs_with_a_fitted_unit_tokenizer_and_a_tiny_unit_lm(tmp_path: Path) -> None:
    import torch

    from polyrlaif.domains.spoken_lm.adapter import ADAPTER, build_tiny_unit_lm
    from polyrlaif.domains.spoken_lm.units import UnitTokenizer

    audio = tmp_path / "wav"
    audio.mkdir()
    rows = SBLIMP_ROWS
    for i, row in enumerate(rows):
        _tone(audio / f"{row[5]}.wav", 150 + 40 * i, seconds=0.2 + 0.05 * i, stereo=i == 3)
    tok = UnitTokenizer.fit(sorted(audio.glob("*.wav")), n_units=12, features="logmel", seed=0)
    tok.save(tmp_path / "units")
    lm_dir = build_tiny_unit_lm(tmp_path / "lm", tok.tokens(), seed=1)
    gold = _write_gold(tmp_path / "gold.csv", "sblimp", rows)
    policy = ADAPTER.load(str(lm_dir), device="cpu", dtype="float32")
    metrics, out = _run(
        SblimpEvaluator(), tmp_path, policy=policy, annotations=str(gold), audio=str(audio),
        units=str(tmp_path / "units"), score="mean", batch_size=3,
    )  # fmt: skip

    # by hand: each file's units, through the model one at a time, log-softmax of the next unit
    ref_tok = UnitTokenizer.load(tmp_path / "units")
    model = policy.model
    by_hand = {}
    for row in rows:
        units = ref_tok.encode(audio / f"{row[5]}.wav")
        ids = [policy.tokenizer.bos_token_id, *policy.tokenizer.convert_tokens_to_ids(ref_tok.tokens())]
        seq = torch.tensor([[ids[0]] + [ids[1 + u] for u in units]])
        with torch.no_grad():
            logp = torch.log_softmax(model(seq).logits[0, :-1].float(), -1)
        total = float(logp.gather(1, seq[0, 1:, None]).sum())
        by_hand[row[5]] = (total, total / len(units), len(units))
    utterances = {u["filename"]: u for u in _read_jsonl(out / "utterances.jsonl")}
    for name, (total, mean, n) in by_hand.items():
        assert utterances[name]["n_units"] == n
        assert utterances[name]["sum_logprob"] == pytest.approx(total, abs=1e-3)
        assert utterances[name]["mean_logprob"] == pytest.approx(mean, abs=1e-4)

    def accuracy(k: int) -> float:
        per_id: dict[str, list[float]] = {}
        for c, i in zip(rows[::2], rows[1::2], strict=True):
            per_id.setdefault(c[0], []).append(pair_outcome(by_hand[c[5]][k], by_hand[i[5]][k]))
        return sum(sum(v) / len(v) for v in per_id.values()) / len(per_id)

    assert metrics["sblimp_sum"] == pytest.approx(accuracy(0))
    assert metrics["sblimp_mean"] == pytest.approx(accuracy(1)) == pytest.approx(metrics["sblimp"])
    assert metrics["n_pairs"] == 4 and metrics["skipped"] == 0
    assert zs.read_submission(out / "submission_mean.txt").keys() == by_hand.keys()
