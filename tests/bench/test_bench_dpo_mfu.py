"""``bench/dpo_mfu.py`` on the tiny preset: the step runs, the loss is the DPO loss, the last line parses."""

from __future__ import annotations

import re


def test_dpo_mfu_runs_on_the_tiny_preset(bench_script, capsys):
    script = bench_script("dpo_mfu")
    argv = ["--preset", "tiny", "--pairs", "2", "--prompt-tokens", "16", "--completion-tokens", "4"]
    assert script.main([*argv, "--steps", "2", "--warmup", "1", "--device", "cpu", "--peak-tflops", "1"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert sum(line.strip().startswith("step ") for line in lines) == 2
    m = re.fullmatch(r"mfu=(\S+) tflops=(\S+) step_s=(\S+) peak_mb=(\d+)", lines[-1])
    assert m and float(m.group(1)) > 0 and float(m.group(3)) > 0


def test_step_flops_counts_each_prompt_once(bench_script):
    script = bench_script("dpo_mfu")
    cfg = {
        "hidden_size": 4,
        "intermediate_size": 8,
        "num_hidden_layers": 1,
        "num_attention_heads": 2,
        "num_key_value_heads": 1,
        "vocab_size": 10,
    }
    # body: 2*16 + 2*4*2 + 3*4*8 = 144 parameters; 1 pair of 2 + 2 x 1 tokens = 4 distinct tokens;
    # head: 6 * 4 * 10 per completion token (2); attended pairs: 3 in the prompt + 2 * (2 + 1)
    assert script.step_flops(cfg, 1, 2, 1) == 6 * 144 * 4 + 6 * 4 * 10 * 2 + 12 * 1 * 4 * 9
