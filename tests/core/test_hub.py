"""A hub id that is neither cached nor reachable stops the run when the config loads, naming the field,
the id and what to do; a cached one passes (a real Hugging Face cache layout on disk)."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from tiny_configs import tiny_config

CODE_TINY = tiny_config("code")
LOAD = f"from polyrlaif.core.config import load_config; load_config({CODE_TINY!r}, {{overrides!r}})"


def _python(code, **env):
    full = {**os.environ, "HF_HUB_OFFLINE": "1", **env}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=full, timeout=300)


def test_an_unreachable_hub_model_fails_at_once_with_what_to_do(tmp_path):
    out = tmp_path / "run"
    start = time.perf_counter()
    res = subprocess.run(
        [sys.executable, "-m", "polyrlaif.core.cli", "train", "--config", tiny_config("code"),
         "model.name_or_path=nobody-here/no-such-model", f"run.output_dir={out}"],
        capture_output=True, text=True,
        env={**os.environ, "HF_HUB_OFFLINE": "1", "HF_HUB_CACHE": str(tmp_path)},
    )  # fmt: skip
    assert res.returncode != 0
    assert "'model.name_or_path'" in res.stderr and "'nobody-here/no-such-model'" in res.stderr
    assert "HF_HUB_OFFLINE is set" in res.stderr
    assert "huggingface-cli download nobody-here/no-such-model --local-dir no-such-model" in res.stderr
    assert "Traceback" not in res.stderr and not out.exists()
    assert time.perf_counter() - start < 60  # before any work (the interpreter start and imports only)


def test_a_transformers_judge_model_is_checked_too(tmp_path):
    res = _python(LOAD.format(overrides=["judge.backend=transformers", "judge.model=nobody-here/judge"]),
                  HF_HUB_CACHE=str(tmp_path))  # fmt: skip
    assert res.returncode != 0 and "'judge.model'" in res.stderr and "nobody-here/judge" in res.stderr


def test_a_cached_hub_model_passes(tmp_path):
    repo = tmp_path / "models--some-org--cached-model"
    commit = "0" * 40
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(commit)
    snapshot = repo / "snapshots" / commit
    snapshot.mkdir(parents=True)
    (snapshot / "config.json").write_text("{}")
    res = _python(
        LOAD.format(overrides=["model.name_or_path=some-org/cached-model"]), HF_HUB_CACHE=str(tmp_path)
    )
    assert res.returncode == 0, res.stderr[-2000:]
