"""``bench/grpo_vs_trl.py`` end to end on the tiny chat model: both sides run both kinds of rollout, the
last line parses and the two sides' losses agree. No timing is asserted."""

from __future__ import annotations

import re


def test_grpo_bench_runs_both_sides_and_their_losses_agree(bench_script, tiny_lm_path, capsys):
    bench = bench_script("grpo_vs_trl")
    code = bench.main(["--model", tiny_lm_path, "--quick", "--prompts", "6", "--completion-tokens", "16"])
    out = capsys.readouterr().out
    assert code == 0, out
    m = re.fullmatch(r"ratio_single=(\S+) ratio_multi=(\S+) loss_maxdiff=(\S+)", out.strip().splitlines()[-1])
    assert m, out
    assert float(m.group(1)) > 0 and float(m.group(2)) > 0 and float(m.group(3)) <= 1e-6
    assert "multi repeat 1 ours" in out and "single repeat 1 trl" in out
