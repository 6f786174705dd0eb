"""``polyrlaif train`` with ``run.executor=ray`` (a local Ray cluster, 2 workers) and two policy replicas
sampling (``run.sample_replicas=2``) against the same command in one process: the same candidates,
judgments and pairs, the judge asked as often, the same counters; and the workers read and add to the
run's one judge cache."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from tiny_configs import tiny_config

pytest.importorskip("ray")


def _train(out, model: str, url: str, *extra: str) -> subprocess.CompletedProcess:
    args = [sys.executable, "-m", "polyrlaif.core.cli", "train", "--config", tiny_config("code"),
            f"run.output_dir={out}", f"model.name_or_path={model}", f"judge.base_url={url}", "run.rounds=1",
            *extra]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    res = subprocess.run(args, capture_output=True, text=True, timeout=900, env=env)
    assert res.returncode == 0, res.stderr[-3000:]
    return res


#: wall times (and whether an answer came from the cache) differ between any two runs
TIMES = ("seconds", "cached", "latency_s", "duration_s")


def _strip(value):
    if isinstance(value, dict):
        return {k: _strip(v) for k, v in value.items() if k not in TIMES}
    return [_strip(v) for v in value] if isinstance(value, list) else value


def _rows(path):
    return [_strip(json.loads(x)) for x in path.read_text().splitlines()]


def test_ray_workers_judge_what_the_local_executor_judges(tmp_path, tiny_lm_path, rule_judge):
    url, judge = rule_judge
    local, remote = tmp_path / "local", tmp_path / "ray"
    _train(local, tiny_lm_path, url)
    asked = judge.requests
    res = _train(remote, tiny_lm_path, url, "run.executor=ray", "run.workers=2", "run.sample_replicas=2")
    assert "unit_tests (ray, 2 workers)" in res.stderr and "sampling (ray, 2 workers)" in res.stderr
    assert judge.requests == 2 * asked  # nothing judged twice, nothing left out

    for name in ("candidates.jsonl", "judgments.jsonl", "pairs.jsonl"):
        a = sorted(json.dumps(r, sort_keys=True) for r in _rows(local / "round_1" / name))
        b = sorted(json.dumps(r, sort_keys=True) for r in _rows(remote / "round_1" / name))
        a, b = ([x.replace(str(d), "OUT") for x in rows] for d, rows in ((local, a), (remote, b)))
        assert a == b and a, name
    m_local = json.loads((local / "metrics.json").read_text())["rounds"][1]
    m_ray = json.loads((remote / "metrics.json").read_text())["rounds"][1]
    counters = [k for k in m_local if k.startswith(("judge/", "pairs_", "tests_"))]
    assert counters and {k: m_ray.get(k) for k in counters} == {k: m_local[k] for k in counters}


def test_ray_workers_share_the_judge_cache(tmp_path, tiny_lm_path, rule_judge):
    url, judge = rule_judge
    cache = tmp_path / "cache.sqlite"
    _train(tmp_path / "a", tiny_lm_path, url, f"judge.cache_path={cache}")
    asked = judge.requests
    _train(tmp_path / "b", tiny_lm_path, url, f"judge.cache_path={cache}", "run.executor=ray")
    assert judge.requests == asked  # the workers replayed every answer from the run's cache file
    rounds = json.loads((tmp_path / "b" / "metrics.json").read_text())["rounds"]
    hits = [v for k, v in rounds[1].items() if k.endswith("/cache_hits")]
    assert hits and sum(hits) > 0


def test_an_unknown_executor_is_refused_before_any_work(tmp_path, tiny_lm_path):
    args = [sys.executable, "-m", "polyrlaif.core.cli", "train", "--config", tiny_config("code"),
            f"run.output_dir={tmp_path / 'x'}", f"model.name_or_path={tiny_lm_path}",
            "run.executor=slurm"]  # fmt: skip
    res = subprocess.run(args, capture_output=True, text=True, timeout=300)
    assert res.returncode != 0 and "run.executor" in res.stderr
    assert not (tmp_path / "x" / "round_0").exists()


def test_rounds_sample_through_a_server_started_for_each_checkpoint(tmp_path, tiny_lm_path, rule_judge):
    """``model.serve``: round 1 samples from a server of the starting model, round 2 from one of round 1's
    trained checkpoint; both are stopped; the run finishes like a local one."""
    url, _ = rule_judge
    serve = f"{sys.executable} -m polyrlaif.core.cli serve --model {{model}} --port {{port}} --dtype float32"
    out = tmp_path / "served"
    res = _train(out, tiny_lm_path, url, f"model.serve={serve}", "run.rounds=2")
    started = [line for line in res.stderr.splitlines() if "starting the policy server" in line]
    assert any(str(out / "round_1" / "train" / "model") in line for line in started)  # round 1's weights
    assert len(_rows(out / "round_2" / "candidates.jsonl")) > 0
    assert json.loads((out / "metrics.json").read_text())["rounds"][2]["round"] == 2
    leftover = subprocess.run(["pgrep", "-f", f"serve --model {out}"], capture_output=True, text=True)
    assert leftover.stdout.strip() == ""  # every server it started is stopped


def test_a_domain_whose_policy_does_not_chat_refuses_model_serve(tmp_path):
    args = [sys.executable, "-m", "polyrlaif.core.cli", "train", "--config", tiny_config("text_to_image"),
            f"run.output_dir={tmp_path / 'x'}", "model.serve=vllm serve {model} --port {port}"]  # fmt: skip
    res = subprocess.run(args, capture_output=True, text=True, timeout=300)
    assert res.returncode != 0 and "model.serve" in res.stderr and "not servable" in res.stderr
    assert not (tmp_path / "x").exists()
