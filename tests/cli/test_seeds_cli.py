"""`polyrlaif seeds`: each run's change from its round 0 over several seeds, with the spread and a plot."""

from __future__ import annotations

import json
import subprocess
import sys

from polyrlaif.core.seeds import seed_spread


def _run(*args):
    return subprocess.run(
        [sys.executable, "-m", "polyrlaif.core.cli", *args], capture_output=True, text=True, timeout=300
    )


def _eval(out, n_right, n=60):
    preds = out.with_suffix(".jsonl")
    rows = [
        {"id": f"q{i}", "question": f"What is item {i}?", "answers": [f"answer {i}"],
         "prediction": f"answer {i}" if i < n_right else "no idea"}
        for i in range(n)
    ]  # fmt: skip
    preds.parent.mkdir(parents=True, exist_ok=True)
    preds.write_text("".join(json.dumps(r) + "\n" for r in rows))
    res = _run("eval", "--domain", "search_agent", "--benchmark", "qa", "--predictions", str(preds),
               "--output", str(out))  # fmt: skip
    assert res.returncode == 0, res.stderr


def _run_dir(tmp_path, name, rights):
    run = tmp_path / name
    for k, n_right in enumerate(rights):
        _eval(run / f"round_{k}" / "eval_qa", n_right)
    return run


def test_seeds_gives_each_runs_change_from_round_0_and_the_spread(tmp_path):
    runs = [
        _run_dir(tmp_path, "s0", [20, 25, 40]),  # +20 of 60 by the last round: significant
        _run_dir(tmp_path, "s1", [20, 30, 30]),  # +10: significant (only gains, every other item the same)
        _run_dir(tmp_path, "s2", [20, 20, 20]),  # no change at all
    ]
    (em,) = [s for s in seed_spread(runs) if s.metric == "exact_match"]
    assert [round(d.value, 4) for d in em.differences] == [round(20 / 60, 4), round(10 / 60, 4), 0.0]
    assert em.significant == 2
    assert abs(em.mean - (30 / 60) / 3) < 1e-9
    (first,) = [s for s in seed_spread(runs, round_idx=1) if s.metric == "exact_match"]
    assert [round(d.value, 4) for d in first.differences] == [round(5 / 60, 4), round(10 / 60, 4), 0.0]

    png = tmp_path / "spread.png"
    res = _run("seeds", *map(str, runs), "--plot", str(png))
    assert res.returncode == 0, res.stderr
    line = next(x for x in res.stdout.splitlines() if "qa/exact_match" in x)
    assert "+0.333" in line and "+0.167" in line
    assert "2 of 3" in res.stdout
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_seeds_refuses_a_run_without_a_later_round(tmp_path):
    only = _run_dir(tmp_path, "only", [20])
    res = _run("seeds", str(only))
    assert res.returncode == 2 and "round_0 and a later evaluated round" in res.stderr
