"""A resumed run never mixes settings (the reliability issue, section 4): rerunning `train` in a folder
made with other settings stops before any work, naming the keys and what they invalidate;
`run.recompute=true` recomputes from the first invalidated artifact and keeps what comes before."""

from __future__ import annotations

import json
import subprocess
import sys

from tiny_configs import tiny_config


def _args(out, model, url, *extra):
    return [
        "train",
        "--config",
        tiny_config("code"),
        f"run.output_dir={out}",
        f"model.name_or_path={model}",
        f"judge.base_url={url}",
        "run.rounds=1",
        *extra,
    ]


def _mtimes(out):
    return {str(p.relative_to(out)): p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()}


def test_changed_settings_are_refused_then_recomputed_from_the_first_invalidated_stage(
    tmp_path, tiny_lm_path, rule_judge, cli
):
    url, judge = rule_judge
    out = tmp_path / "run"
    cli(*_args(out, tiny_lm_path, url))
    saved, before = (out / "config.yaml").read_text(), _mtimes(out)

    res = subprocess.run(
        [
            sys.executable,
            "-m",
            "polyrlaif.core.cli",
            *_args(out, tiny_lm_path, url, "sampling.n=4", "optim.lr=1e-3"),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert res.returncode == 2
    assert "sampling.n: 3 -> 4" in res.stderr and "optim.lr: 5e-05 -> 0.001" in res.stderr
    assert "invalidate its samples, judgments, pairs, updates, evaluations" in res.stderr
    assert "run.recompute=true" in res.stderr
    assert (out / "config.yaml").read_text() == saved and _mtimes(out) == before  # nothing touched

    # more rounds, a longer timeout, another judge address: nothing depends on them
    cli(*_args(out, tiny_lm_path, url, "judge.timeout_s=120"))

    # only the update changed: the samples and judgments are kept, the update and evaluations redone
    requests = judge.requests
    cli(*_args(out, tiny_lm_path, url, "optim.lr=1e-3", "run.recompute=true"))
    after = _mtimes(out)
    for name in ("round_1/candidates.jsonl", "round_1/judgments.jsonl"):
        assert after[name] == before[name], name
    assert after["round_1/train/model/DONE"] != before["round_1/train/model/DONE"]
    assert judge.requests == requests  # no judge call repeated
    assert "lr: 0.001" in (out / "config.yaml").read_text()

    # the sampling changed: everything from the samples on is redone
    cli(*_args(out, tiny_lm_path, url, "optim.lr=1e-3", "sampling.n=4", "run.recompute=true"))
    cands = [json.loads(x) for x in (out / "round_1" / "candidates.jsonl").read_text().splitlines()]
    assert len(cands) == 6 * 4
    assert "'n': 4" in (out / "config.yaml").read_text()
