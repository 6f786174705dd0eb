"""`polyrlaif verify` and `polyrlaif eval` as a user runs them."""

from __future__ import annotations

import json
import subprocess
import sys

from polyrlaif.datasets.code_tasks import load_humaneval


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "polyrlaif.core.cli", *args], capture_output=True, text=True, timeout=600
    )


def test_verify_cli_keeps_every_row_in_order(tmp_path):
    problems = load_humaneval(limit=3)
    rows = []
    for p, completion in zip(problems, [p["canonical_solution"] for p in problems], strict=True):
        rows.append({**p, "completion": completion})
    rows.append({**problems[0], "task_id": "exit0", "completion": "    import sys; sys.exit(0)\n"})
    rows.append({**problems[1], "task_id": "loop", "completion": "    while True: pass\n"})
    rows.append({**problems[2], "task_id": "syntax", "completion": "    return (\n"})
    src = tmp_path / "in.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "out.jsonl"
    res = _run("verify", "--domain", "code", "--input", str(src), "--output", str(out), "--timeout", "2")
    assert res.returncode == 0, res.stderr
    got = [json.loads(x) for x in out.read_text().splitlines()]
    assert [g["task_id"] for g in got] == [r["task_id"] for r in rows]
    assert [g["status"] for g in got] == ["passed"] * 3 + [got[3]["status"], "timeout", "error"]
    assert [g["passed"] for g in got] == [True] * 3 + [False] * 3
    assert all(g["duration_s"] >= 0 for g in got)
    assert json.loads(res.stdout)["passed"] == 3


def test_verify_cli_bad_line_names_file_and_line(tmp_path):
    src = tmp_path / "bad.jsonl"
    src.write_text(
        '{"task_id": "a", "prompt": "", "completion": "", "test": "", "entry_point": "f"}\n{oops\n'
    )
    out = tmp_path / "out.jsonl"
    out.write_text("precious\n")
    res = _run("verify", "--domain", "code", "--input", str(src), "--output", str(out))
    assert res.returncode == 2 and "bad.jsonl:2" in res.stderr
    assert out.read_text() == "precious\n"


def test_verify_cli_non_utf8_and_empty_inputs_are_named(tmp_path):
    src = tmp_path / "latin1.jsonl"
    row = {
        "task_id": "a",
        "prompt": "def f():\n",
        "completion": "    return 1\n",
        "test": "",
        "entry_point": "f",
    }
    src.write_bytes((json.dumps(row) + "\n").encode() + b'{"task_id": "caf\xe9"}\n')
    res = _run("verify", "--domain", "code", "--input", str(src), "--output", str(tmp_path / "o.jsonl"))
    assert res.returncode == 2 and "latin1.jsonl:2: not UTF-8 text" in res.stderr

    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    res = _run("verify", "--domain", "code", "--input", str(empty), "--output", str(tmp_path / "e.jsonl"))
    assert res.returncode == 0 and json.loads(res.stdout)["total"] == 0  # stdout stays pure JSON
    assert "empty.jsonl holds no rows: nothing was verified" in res.stderr


def test_eval_cli_reference_solutions_and_tiny_model(tmp_path, tiny_lm_path):
    # without --model the evaluator scores the reference solutions: a check of data and sandbox
    out = tmp_path / "ref"
    res = _run("eval", "--domain", "code", "--benchmark", "humaneval", "--limit", "4", "--output", str(out))
    assert res.returncode == 0, res.stderr
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["pass@1"] == 1.0 and metrics["n_problems"] == 4
    assert "pass@1" in (out / "metrics.md").read_text()

    out = tmp_path / "tiny"
    res = _run(
        "eval",
        "--domain",
        "code",
        "--benchmark",
        "heldout",
        "--model",
        tiny_lm_path,
        "--limit",
        "2",
        "--samples",
        "2",
        "--max-new-tokens",
        "8",
        "--output",
        str(out),
    )
    assert res.returncode == 0, res.stderr
    metrics = json.loads((out / "metrics.json").read_text())
    assert (
        metrics["pass@1"] == 0.0 and metrics["n_samples"] == 4
    )  # pass@k for k in ks (1, 10, 100) <= samples
