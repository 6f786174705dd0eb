"""`run.mode=pairs`: preference optimisation on a pairs file the user brings, from one command.

The pairs are written the way the field ships them (UltraFeedback's chat lists, CodeUltraFeedback's
instruction/chosen/rejected, and our own pairs.jsonl); the policy is the tiny random chat model.
"""

from __future__ import annotations

import json
import subprocess
import sys

from tiny_configs import tiny_config


def _write(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def _fields(i):
    q = f"Write a function that returns {i} plus one."
    good = f"def f():\n    return {i} + 1\n"
    bad = f"def f():\n    return {i}\n"
    return q, good, bad


def _pairs(n=4):
    rows = []
    for i in range(n):
        q, good, bad = _fields(i)
        if i % 2:  # UltraFeedback-binarized: chosen and rejected are whole conversations
            rows.append(
                {
                    "prompt": q,
                    "chosen": [{"role": "user", "content": q}, {"role": "assistant", "content": good}],
                    "rejected": [{"role": "user", "content": q}, {"role": "assistant", "content": bad}],
                }
            )
        else:  # CodeUltraFeedback-binarized
            rows.append({"instruction": q, "chosen": good, "rejected": bad, "chosen_model": "x"})
    return rows


def _args(out, model, pairs, *extra):
    return [
        "train",
        "--config",
        tiny_config("code"),
        "run.mode=pairs",
        f"data.pairs={pairs}",
        f"run.output_dir={out}",
        f"model.name_or_path={model}",
        "eval.limit=2",
        *extra,
    ]


def test_trains_on_a_users_pairs_file(tmp_path, tiny_lm_path, cli):
    pairs = _write(tmp_path / "ufb.jsonl", _pairs())
    out = tmp_path / "run"
    res = cli(*_args(out, tiny_lm_path, pairs))
    metrics = json.loads((out / "metrics.json").read_text())
    rounds = metrics["rounds"]
    assert [r["round"] for r in rounds] == [0, 1]
    assert rounds[1]["pairs_kept"] == 4 and "train/loss" in rounds[1]
    assert "heldout/pass@1" in rounds[0] and "heldout/pass@1" in rounds[1]
    assert metrics["final_model"] == str(out / "round_1" / "train" / "model")
    assert metrics["directions"]["heldout/pass@1"] == "higher"
    trained = [json.loads(x) for x in (out / "round_1" / "pairs.jsonl").read_text().splitlines()]
    assert [p["chosen"] for p in trained] == [_fields(i)[1] for i in range(4)]
    assert all(p["prompt"] == _fields(i)[0] for i, p in enumerate(trained))
    assert trained[0]["provenance"] == {"source": str(pairs), "line": 1}
    assert "metrics per round" in res.stdout and "pass@1 (higher is better)" in res.stdout

    # our own artifact goes back in as it is
    again = cli(*_args(tmp_path / "run2", tiny_lm_path, out / "round_1" / "pairs.jsonl"))
    assert "4 pairs from" in again.stderr


def test_a_bad_pairs_file_stops_before_any_work(tmp_path, tiny_lm_path):
    rows = _pairs(3)
    del rows[1]["rejected"]
    pairs = _write(tmp_path / "bad.jsonl", rows)
    out = tmp_path / "run"
    for bad, wanted in (
        (pairs, f"{pairs}:2: missing field 'rejected'"),
        (_write(tmp_path / "same.jsonl", [{"prompt": "q", "chosen": "a", "rejected": "a"}]), "same text"),
        (_write(tmp_path / "empty.jsonl", []), "no pairs (the file is empty)"),
        (tmp_path / "missing.jsonl", "no such pairs file"),
    ):
        res = subprocess.run(
            [sys.executable, "-m", "polyrlaif.core.cli", *_args(out, tiny_lm_path, bad)],
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert res.returncode == 2, res.stderr
        assert wanted in res.stderr
        assert not out.exists()  # nothing was set up, let alone trained


def test_trl_options_pass_through_to_a_real_training_run(tmp_path, tiny_lm_path, cli):
    """`optim.trl` reaches TRL's DPOTrainer: its robust loss (label-smoothed DPO), which our fast backend
    does not implement, trains from one command; the resolved config records what ran."""
    pairs = _write(tmp_path / "ufb.jsonl", _pairs())
    out = tmp_path / "run"
    res = cli(*_args(out, tiny_lm_path, pairs, "optim.backend=trl", "optim.loss_type=robust",
                     "optim.trl.label_smoothing=0.1", "run.report_to=none"))  # fmt: skip
    rounds = json.loads((out / "metrics.json").read_text())["rounds"]
    assert rounds[1]["pairs_kept"] == 4 and rounds[1]["train/train_loss"] > 0
    saved = (out / "config.yaml").read_text()
    assert "label_smoothing: 0.1" in saved and "loss_type: robust" in saved
    assert "metrics per round" in res.stdout
