"""``bench/sampling.py`` end to end on the tiny model: both sides run and the last line is ``ratio=...``."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench"


def _load_script(monkeypatch):
    # the scripts run as ``python bench/x.py``: bench/ is on sys.path for their ``_common`` import
    monkeypatch.syspath_prepend(str(BENCH))
    spec = importlib.util.spec_from_file_location("bench_sampling", BENCH / "sampling.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_sampling_bench_reports_ratio_and_tokens(tiny_lm_path, monkeypatch, capsys):
    script = _load_script(monkeypatch)
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
