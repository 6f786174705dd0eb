"""``bench/judging.py`` end to end on the tiny Llama model: it runs, its checks pass, the last line parses.

No timing is asserted: only that every run judged, and that the cached replay made no model call.
"""

from __future__ import annotations

import re


def test_judging_bench_runs_and_replays_without_model_calls(bench_script, tiny_lm_path, capsys):
    bench = bench_script("judging")
    code = bench.main(["--model", tiny_lm_path, "--items", "4", "--repeats", "1", "--batch-size", "4"])
    out = capsys.readouterr().out
    assert code == 0, out

    lines = out.strip().splitlines()
    m = re.fullmatch(r"ratio=(\S+) replay_model_calls=(\d+) replay_ratio=(\S+)", lines[-1])
    assert m, lines[-1]
    assert float(m.group(1)) > 0 and float(m.group(3)) > 0
    assert int(m.group(2)) == 0
    # forward hook: 4 judgments are 1 pass batched and 4 passes one at a time
    assert re.search(r"repeat 1 batched .* model_calls=1 ", out), out
    assert re.search(r"repeat 1 one_at_a_time .* model_calls=4 ", out), out
    assert re.search(r"repeat 1 cached_replay .* model_calls=0 judge_calls=0 cache_hits=4 ", out), out
