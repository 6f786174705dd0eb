"""``bench/sampling.py`` end to end on the tiny model: both sides run and the last line is ``ratio=...``."""

from __future__ import annotations

import re


def test_sampling_bench_reports_ratio_and_tokens(bench_script, tiny_lm_path, capsys):
    script = bench_script("sampling")
    argv = ["--model", tiny_lm_path, "--prompts", "2", "--n", "2", "--max-new-tokens", "4", "--repeats", "1"]
    assert script.main([*argv, "--device", "cpu"]) == 0

    lines = capsys.readouterr().out.strip().splitlines()
    runs = [line for line in lines if line.strip().startswith("repeat 1 ")]
    assert sorted(line.split()[2] for line in runs) == ["batched", "one_at_a_time"]
    m = re.fullmatch(r"ratio=(\S+) tokens_batched=(\d+) tokens_single=(\d+)", lines[-1])
    assert m, lines[-1]
    assert float(m.group(1)) > 0
    # 2 prompts x 2 completions, between 1 and 4 new tokens each
    for tokens in (int(m.group(2)), int(m.group(3))):
        assert 4 <= tokens <= 16
