"""`polyrlaif compare`: two runs evaluated on the same items, compared item by item."""

from __future__ import annotations

import json
import subprocess
import sys


def _run(*args):
    return subprocess.run(
        [sys.executable, "-m", "polyrlaif.core.cli", *args], capture_output=True, text=True, timeout=300
    )


def _predictions(path, n_right, n=60):
    rows = [
        {"id": f"q{i}", "question": f"What is item {i}?", "answers": [f"answer {i}"],
         "prediction": f"answer {i}" if i < n_right else "no idea"}
        for i in range(n)
    ]  # fmt: skip
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def _evaluate(tmp_path, name, n_right):
    run = tmp_path / name
    preds = _predictions(tmp_path / f"{name}.jsonl", n_right)
    res = _run("eval", "--domain", "search_agent", "--benchmark", "qa", "--predictions", str(preds),
               "--output", str(run / "round_1" / "eval_qa"))  # fmt: skip
    assert res.returncode == 0, res.stderr
    assert "95% interval" in res.stdout
    return run


def test_compare_two_runs(tmp_path):
    before, after = _evaluate(tmp_path, "before", 20), _evaluate(tmp_path, "after", 40)
    res = _run("compare", str(before), str(after))
    assert res.returncode == 0, res.stderr
    line = next(x for x in res.stdout.splitlines() if "exact_match" in x)
    assert "+0.3333" in line and "yes" in line  # 20 more right out of 60, every other item the same

    same = _run("compare", str(before), str(before / "round_1" / "eval_qa"))
    line = next(x for x in same.stdout.splitlines() if "exact_match" in x)
    assert "+0 [+0, +0]" in line and "no" in line


def test_compare_refuses_folders_without_evaluations(tmp_path):
    (tmp_path / "empty").mkdir()
    res = _run("compare", str(tmp_path / "empty"), str(tmp_path / "empty"))
    assert res.returncode == 2 and "no evaluation folder" in res.stderr
