"""The plug-in promise: a domain from another package, found through the entry-point group, runs a round.

The toy package (tests/cli/plugin_domain/toy_domain.py plus a pyproject written here) is built and
installed with pip into a temporary folder, so only its installed metadata can register it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

PYPROJECT = """
[build-system]
requires = ["setuptools>=69"]
build-backend = "setuptools.build_meta"

[project]
name = "toy-domain"
version = "0.1.0"

[project.entry-points."polyrlaif.domains"]
toy = "toy_domain:DOMAIN"

[tool.setuptools]
py-modules = ["toy_domain"]
packages = ["toy_configs"]

[tool.setuptools.package-data]
toy_configs = ["*.yaml"]
"""

CONFIG = """
domain:
  name: toy
  max_words: 3
run:
  rounds: 1
sampling:
  n: 3
  temperature: 1.0
  max_new_tokens: 6
judge:
  backend: none
pairs:
  min_margin: 0.5
optim:
  batch_size: 2
  max_length: 64
  lr: 1.0e-3
"""


def test_a_third_party_domain_installs_and_runs_one_round(tmp_path, tiny_lm_path):
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    shutil.copy(Path(__file__).parent / "plugin_domain" / "toy_domain.py", pkg)
    (pkg / "pyproject.toml").write_text(PYPROJECT)
    (pkg / "toy_configs").mkdir()
    (pkg / "toy_configs" / "__init__.py").write_text("")
    (pkg / "toy_configs" / "short.yaml").write_text(CONFIG)  # the package's own config: --config toy/short
    site = tmp_path / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "-q",
            "--no-deps",
            "--no-build-isolation",
            "--target",
            site,
            pkg,
        ],
        check=True,
        timeout=300,
    )
    config = tmp_path / "toy.yaml"
    config.write_text(CONFIG)
    env = {**os.environ, "PYTHONPATH": str(site)}
    out = tmp_path / "run"

    def cli(*args):
        return subprocess.run(
            [sys.executable, "-m", "polyrlaif.core.cli", *args],
            capture_output=True,
            text=True,
            env=env,
            timeout=600,
        )

    listed = cli("domains")
    assert listed.returncode == 0 and "toy" in listed.stdout and "mean_words" in listed.stdout
    res = cli("train", "--config", "toy/short", f"run.output_dir={out}", f"model.name_or_path={tiny_lm_path}")
    assert res.returncode == 0, res.stderr[-3000:]
    metrics = json.loads((out / "metrics.json").read_text())
    assert [r["round"] for r in metrics["rounds"]] == [0, 1]
    assert "mean_words/mean_words" in metrics["rounds"][1] and "short_rate" in metrics["rounds"][1]
    assert metrics["directions"] == {"mean_words/mean_words": "lower"}
    assert metrics["stages"][0]["name"] == "questions" and metrics["stages"][0]["status"] == "ran"
    assert (out / "round_1" / "candidates.jsonl").is_file()
    assert "preparation stages" in res.stdout and "mean_words/mean_words (lower is better)" in res.stdout

    again = cli(
        "train", "--config", str(config), f"run.output_dir={out}", f"model.name_or_path={tiny_lm_path}"
    )
    assert again.returncode == 0, again.stderr[-3000:]
    assert "questions: finished earlier, skipped" in again.stderr
