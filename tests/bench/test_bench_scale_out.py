"""``bench/scale_out.py`` end to end on the tiny Llama model with two processes (data parallel and fully
sharded), and its verification and judging on the local executor and 1 and 2 Ray workers: it runs every
side, the last line parses, the three training runs made the same update and the executors gave the same
verdicts (the script exits otherwise).
No timing is asserted."""

from __future__ import annotations

import re


def test_scale_out_bench_runs_and_both_sides_train_alike(bench_script, tiny_lm_path, capsys):
    bench = bench_script("scale_out")
    code = bench.main(["--model", tiny_lm_path, "--pairs", "8", "--batch", "4", "--steps", "3",
                       "--programs", "12", "--judgments", "8", "--sandbox-workers", "1"])  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0, out
    stages = " ".join(rf"{s}_ray{w}=(\S+)" for s in ("verify", "judge") for w in (1, 2))
    fsdp = r"fsdp_ratio=(\S+) fsdp_weight_diff=(\S+) fsdp_memory=(\S+)"
    m = re.fullmatch(rf"ratio=(\S+) max_weight_diff=(\S+) {fsdp} {stages}", out.strip().splitlines()[-1])
    assert m, out
    assert float(m.group(1)) > 0 and float(m.group(2)) <= 1e-5
    assert float(m.group(3)) > 0 and float(m.group(4)) <= 1e-5 and float(m.group(5)) > 0
    assert all(float(x) > 0 for x in m.groups()[5:])
    assert "2 processes (DDP), " in out and "2 processes (FSDP), " in out and "judge, ray2: " in out
