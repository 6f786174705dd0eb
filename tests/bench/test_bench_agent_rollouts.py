"""``bench/agent_rollouts.py`` end to end on the tiny chat model: both sides roll out, the cached side
reports what it reused, and the last line parses. No timing is asserted."""

from __future__ import annotations

import re


def test_agent_rollout_bench_runs_both_sides(bench_script, tiny_lm_path, capsys):
    bench = bench_script("agent_rollouts")
    code = bench.main(["--model", tiny_lm_path, "--quick", "--max-new-tokens", "8"])
    out = capsys.readouterr().out
    assert code == 0, out
    m = re.fullmatch(r"ratio=(\S+) tokens_ratio=(\S+) reused_share=(\S+)", out.strip().splitlines()[-1])
    assert m, out
    assert float(m.group(1)) > 0 and 0.0 < float(m.group(3)) < 1.0  # later turns came from the cache
    assert "reuse=True" in out and "reuse=False" in out
