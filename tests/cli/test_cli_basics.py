"""The console script: listing, help, and errors that list the valid names."""

import subprocess
import sys

import pytest


def polyrlaif(*args, check=False):
    return subprocess.run(
        [sys.executable, "-m", "polyrlaif.core.cli", *args],
        capture_output=True,
        text=True,
        check=check,
        timeout=300,
    )


def test_domains_lists_code_with_benchmarks():
    out = polyrlaif("domains", check=True).stdout
    assert out.startswith("code")
    assert "humaneval" in out and "heldout" in out


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["eval", "--domain", "nope", "--benchmark", "x"], "unknown domain 'nope'; valid: code"),
        (
            ["eval", "--domain", "code", "--benchmark", "mbpp"],
            "unknown benchmark 'mbpp' for domain 'code'; valid: heldout, humaneval",
        ),
        (["verify", "--domain", "nope", "--input", "a", "--output", "b"], "valid: code"),
        (["train", "--config", "does/not/exist.yaml"], "no such config file"),
    ],
)
def test_errors_name_the_valid_choices(args, expected):
    res = polyrlaif(*args)
    assert res.returncode == 2
    assert expected in res.stderr


def test_bad_override_names_field(tmp_path):
    res = polyrlaif("feedback", "--config", "code/demo", "optim.lr=fast", f"run.output_dir={tmp_path}")
    assert res.returncode == 2 and "optim.lr" in res.stderr
