"""`run.report_to`: every trainer's steps and every round's metrics in one tracked run (TensorBoard),
read back from the event files; a tracker that cannot run is refused before any work."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys

import pytest
from tiny_configs import tiny_config


def _pairs_file(path, n=4):
    rows = []
    for i in range(n):
        q = f"Write a function that returns {i} plus one."
        rows.append(
            {
                "instruction": q,
                "chosen": f"def f():\n    return {i} + 1\n",
                "rejected": f"def f():\n    return {i}\n",
            }
        )
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def _args(out, model, pairs, *extra):
    return ["train", "--config", tiny_config("code"), "run.mode=pairs", f"data.pairs={pairs}",
            f"run.output_dir={out}", f"model.name_or_path={model}", "eval.limit=2", *extra]  # fmt: skip


def _events(out):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    runs = list((out / "tensorboard").iterdir())
    assert len(runs) == 1, runs  # one tracked run for the whole command
    acc = EventAccumulator(str(runs[0]))
    acc.Reload()
    return {tag: [(e.step, e.value) for e in acc.Scalars(tag)] for tag in acc.Tags()["scalars"]}


@pytest.mark.parametrize("backend", ["fast", "trl"])
def test_tensorboard_gets_every_step_and_every_round(tmp_path, tiny_lm_path, cli, backend):
    out = tmp_path / "run"
    res = cli(
        *_args(
            out, tiny_lm_path, _pairs_file(tmp_path / "p.jsonl"), f"optim.backend={backend}", "optim.epochs=2"
        )
    )
    scalars = _events(out)
    steps = [json.loads(x) for x in (out / "round_1" / "train" / "steps.jsonl").read_text().splitlines()] if (
        backend == "fast") else None  # fmt: skip
    loss = scalars["train/loss"]
    assert [s for s, _ in loss] == list(range(1, len(loss) + 1)) and len(loss) >= 2  # every optimiser step
    if steps is not None:  # the fast loop's own log and the tracker agree step for step
        assert [round(v, 5) for _, v in loss] == [round(r["loss"], 5) for r in steps]
    metrics = json.loads((out / "metrics.json").read_text())["rounds"]
    pass1 = scalars["round/heldout/pass@1"]
    assert [s for s, _ in pass1] == [0, 1]
    assert [v for _, v in pass1] == pytest.approx([r["heldout/pass@1"] for r in metrics])
    assert "round/pairs_kept" in scalars
    # the run's log file has everything; TRL's per-step {'loss': ...} rows stay off the terminal
    logged = (out / "train.log").read_text()
    assert "run: done in" in logged and "{'loss'" not in res.stderr
    if backend == "trl":
        assert logged.count("{'loss'") >= 2


def test_report_to_none_writes_no_events(tmp_path, tiny_lm_path, cli):
    out = tmp_path / "run"
    cli(*_args(out, tiny_lm_path, _pairs_file(tmp_path / "p.jsonl"), "run.report_to=none"))
    assert (out / "metrics.json").is_file() and not (out / "tensorboard").exists()


@pytest.mark.parametrize(
    ("value", "message"),
    [("bogus", "valid values are none, tensorboard, wandb, trackio, mlflow")]
    + [
        (n, f"the {n} package is not installed")
        for n in ("wandb", "mlflow")
        if importlib.util.find_spec(n) is None
    ],
)
def test_a_tracker_that_cannot_run_is_refused_before_any_work(tmp_path, tiny_lm_path, value, message):
    out = tmp_path / "run"
    args = _args(out, tiny_lm_path, _pairs_file(tmp_path / "p.jsonl"), f"run.report_to={value}")
    res = subprocess.run([sys.executable, "-m", "polyrlaif.core.cli", *args], capture_output=True, text=True)
    assert res.returncode != 0 and "run.report_to" in res.stderr and message in res.stderr
    assert not out.exists()
