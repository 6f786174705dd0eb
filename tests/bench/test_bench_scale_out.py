"""``bench/scale_out.py`` end to end on the tiny Llama model with two processes: it runs both sides, the
last line parses, and the two runs made the same update. No timing is asserted."""

from __future__ import annotations

import re


def test_scale_out_bench_runs_and_both_sides_train_alike(bench_script, tiny_lm_path, capsys):
    bench = bench_script("scale_out")
    code = bench.main(["--model", tiny_lm_path, "--pairs", "8", "--batch", "4", "--steps", "3"])
    out = capsys.readouterr().out
    assert code == 0, out
    m = re.fullmatch(r"ratio=(\S+) max_weight_diff=(\S+)", out.strip().splitlines()[-1])
    assert m, out
    assert float(m.group(1)) > 0 and float(m.group(2)) <= 1e-5
    assert "2 processes, " in out
