"""Bad rows and bad settings of ``polyrlaif verify --domain code`` (reliability issue, section 1).

Whether a program ran is observed for real: without isolation a program can write to the host, so
each row leaves a marker file when it runs. A setting that must be refused before any program runs
is refused with that marker still absent.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from polyrlaif.core.io import InputError
from polyrlaif.domains.code.sandbox import IsolationUnavailable, Sandbox
from polyrlaif.domains.code.verifier import verify_file

PROMPT = 'def add(a, b):\n    """Return a + b."""\n'
TEST = "def check(candidate):\n    assert candidate(1, 2) == 3\n"
WHOLE = "def add(a, b):\n    return a + b\n"


def marking_row(marker: Path) -> dict:
    """A passing row whose program, when it runs, creates ``marker`` on the host (no isolation)."""
    completion = f"    return a + b\nopen({str(marker)!r}, 'w').write('ran')\n"
    return {"task_id": "m", "prompt": PROMPT, "completion": completion, "test": TEST, "entry_point": "add"}


def write_rows(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_whole_function_with_an_empty_prompt_runs(tmp_path):
    rows = [
        {"task_id": "empty", "prompt": "", "completion": WHOLE, "test": TEST, "entry_point": "add"},
        {
            "task_id": "imports",
            "prompt": "import math\n",
            "completion": WHOLE,
            "test": TEST,
            "entry_point": "add",
        },
        {"task_id": "stub", "prompt": PROMPT, "completion": WHOLE, "test": TEST, "entry_point": "add"},
        {
            "task_id": "wrong",
            "prompt": "",
            "completion": WHOLE.replace("+", "-"),
            "test": TEST,
            "entry_point": "add",
        },
    ]
    out = tmp_path / "out.jsonl"
    try:
        verify_file(write_rows(tmp_path / "in.jsonl", rows), out, timeout=5.0, workers=1)
    except IsolationUnavailable as exc:
        pytest.skip(f"namespaces unavailable here: {exc}")
    got = {r["task_id"]: r["status"] for r in map(json.loads, out.read_text().splitlines())}
    assert got == {"empty": "passed", "imports": "passed", "stub": "passed", "wrong": "failed"}


@pytest.mark.parametrize("timeout", [math.nan, math.inf, -math.inf, 0.0, -1.0])
def test_unusable_timeout_is_refused_before_any_program_runs(tmp_path, timeout):
    marker = tmp_path / "ran"
    src = write_rows(tmp_path / "in.jsonl", [marking_row(marker)])
    with pytest.raises(ValueError, match="timeout"):
        verify_file(src, tmp_path / "out.jsonl", timeout=timeout, workers=1, unsafe_no_isolation=True)
    assert not marker.exists()
    with pytest.raises(ValueError, match="timeout_s"):
        Sandbox(timeout_s=timeout)
    # Control: with a usable timeout the same row runs and leaves its marker.
    verify_file(src, tmp_path / "out.jsonl", timeout=5.0, workers=1, unsafe_no_isolation=True)
    assert marker.read_text() == "ran"


def test_sandbox_run_refuses_an_unusable_timeout():
    with Sandbox(workers=1, timeout_s=5.0, unsafe_no_isolation=True) as sb:
        for bad in (math.nan, math.inf, 0.0):
            with pytest.raises(ValueError, match="timeout_s"):
                sb.run(["pass"], timeout_s=bad)
        assert sb.run(["pass"], timeout_s=1.0)[0].passed


def test_output_that_is_a_directory_is_refused_before_any_program_runs(tmp_path):
    marker = tmp_path / "ran"
    src = write_rows(tmp_path / "in.jsonl", [marking_row(marker)])
    with pytest.raises(InputError, match=rf"output {tmp_path}: is a directory"):
        verify_file(src, tmp_path, timeout=5.0, workers=1, unsafe_no_isolation=True)
    (tmp_path / "file").write_text("")
    with pytest.raises(InputError, match=r"output .*/file/out.jsonl: .*/file is not a directory"):
        verify_file(src, tmp_path / "file" / "out.jsonl", timeout=5.0, workers=1, unsafe_no_isolation=True)
    assert not marker.exists()
    # Control: a directory that does not exist yet is created when the results are written.
    verify_file(src, tmp_path / "new" / "out.jsonl", timeout=5.0, workers=1, unsafe_no_isolation=True)
    assert marker.exists() and (tmp_path / "new" / "out.jsonl").is_file()


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "polyrlaif.core.cli", "verify", "--domain", "code", *args],
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_cli_refuses_nan_timeout_and_directory_output_before_running(tmp_path):
    marker = tmp_path / "ran"
    src = str(write_rows(tmp_path / "in.jsonl", [marking_row(marker)]))
    base = ["--input", src, "--unsafe-no-isolation"]
    for extra in (
        ["--timeout", "nan", "--output", str(tmp_path / "o.jsonl")],
        ["--timeout", "inf", "--output", str(tmp_path / "o.jsonl")],
        ["--timeout", "2", "--output", str(tmp_path)],
    ):
        res = _cli(*base, *extra)
        assert res.returncode == 2, res.stderr
        assert ("timeout" if "--timeout" in extra and extra[1] != "2" else "is a directory") in res.stderr
        assert not marker.exists(), f"a program ran before {extra} was refused"
    res = _cli(*base, "--timeout", "5", "--output", str(tmp_path / "o.jsonl"))
    assert res.returncode == 0, res.stderr
    assert marker.exists()
