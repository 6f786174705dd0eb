"""``polyrlaif curves``: arms of runs side by side per round, from the runs' own metrics.json: the table
holds each arm's mean over its runs per round, the PNG is written, and a missing run or metric stops with
an error naming the file."""

from __future__ import annotations

import json
import subprocess
import sys


def _run(folder, values, low=0.05):
    folder.mkdir(parents=True)
    rounds = [
        {"round": r, "m/acc": v, "m/acc/low": v - low, "m/acc/high": v + low} for r, v in enumerate(values)
    ]
    (folder / "metrics.json").write_text(json.dumps({"rounds": rounds}))
    return str(folder)


def test_curves_average_each_arm_per_round_and_draw(tmp_path, cli):
    a = [_run(tmp_path / "a1", [0.5, 0.6, 0.7]), _run(tmp_path / "a2", [0.5, 0.8, 0.9])]
    b = [_run(tmp_path / "b1", [0.5, 0.4, 0.3])]
    png = tmp_path / "curves.png"
    res = cli("curves", "--arm", f"judged={','.join(a)}", "--arm", f"control={b[0]}", "--metric", "m/acc",
              "--plot", str(png))  # fmt: skip
    rows = [line for line in res.stdout.splitlines() if "m/acc" in line]
    assert "0.5" in rows[0] and "0.7" in rows[0] and "0.8" in rows[0]  # judged: 0.5, (0.6+0.8)/2, (0.7+0.9)/2
    assert "judged (2 runs)" in rows[0] and "control (1 runs)" in rows[1] and "0.3" in rows[1]
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_curves_bad_input_names_the_file(tmp_path):
    ok = _run(tmp_path / "ok", [0.5, 0.6])
    for args, needle in (
        (["--arm", f"x={tmp_path / 'missing'}", "--metric", "m/acc"], "missing/metrics.json"),
        (["--arm", f"x={ok}", "--metric", "m/nope"], "ok/metrics.json: no round has 'm/nope'"),
        (["--arm", ok, "--metric", "m/acc"], "expected NAME=RUN"),
    ):
        res = subprocess.run([sys.executable, "-m", "polyrlaif.core.cli", "curves", *args],
                             capture_output=True, text=True, timeout=120)  # fmt: skip
        assert res.returncode == 2 and needle in res.stderr, res.stderr
