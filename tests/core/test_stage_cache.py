"""``polyrlaif stages``: the shared stage cache listed, and pruned of stages no run used lately and of
folders that never finished, never of one a run is building; a run that skips a stage as built marks it
used."""

from __future__ import annotations

import fcntl
import os
import time

from polyrlaif.core.cli import main
from polyrlaif.core.protocols import PrepStage
from polyrlaif.core.stage_cache import prune_stages, scan_stages
from polyrlaif.core.stages import STAGE_FILE, place_stages, run_stages


def _stages(words):
    def world(out, prepared):
        (out / "words.txt").write_text(" ".join(words))
        return {"path": str(out / "words.txt")}

    return [PrepStage("world", None, {"words": list(words)}, world)]


def _build(root, words):
    stages = _stages(words)
    place_stages(stages, root / "demo")
    run_stages(stages)
    return stages[0].output_dir


def _age(path, days):
    then = time.time() - days * 86400
    for f in (path / STAGE_FILE, path.parent / f".{path.name}.lock"):
        if f.exists():
            os.utime(f, (then, then))


def test_list_prune_and_a_skip_marks_a_stage_used(tmp_path, capsys):
    old, fresh = _build(tmp_path, ["a"]), _build(tmp_path, ["b"])
    broken = tmp_path / "demo" / "world-0123456789abcdef"  # a build that crashed: no stage.json
    broken.mkdir()
    (broken / "partial.bin").write_bytes(b"x" * 2048)
    busy = tmp_path / "demo" / "world-fedcba9876543210"  # a build in progress: its lock is held
    busy.mkdir()
    _age(old, 40)

    found = {s.path: s for s in scan_stages(tmp_path)}
    assert set(found) == {old, fresh, broken, busy}
    assert found[old].finished and not found[broken].finished and found[broken].size_bytes == 2048
    assert found[old].domain == "demo" and found[old].name == "world"

    assert main(["stages", "--root", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "4 stage(s)" in out and "40.0 days ago" in out

    with open(tmp_path / "demo" / f".{busy.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        assert main(["stages", "--root", str(tmp_path), "--prune", "--older-than", "30", "--dry-run"]) == 0
        assert "would remove 2 stage(s)" in capsys.readouterr().out and old.exists() and broken.exists()
        removed, kept = prune_stages(tmp_path, older_than_days=30)
        assert {s.path for s in removed} == {old, broken} and [s.path for s in kept] == [busy]
    assert not old.exists() and not broken.exists() and fresh.exists() and busy.exists()

    _age(fresh, 40)
    record = (fresh / STAGE_FILE).stat().st_mtime_ns
    _build(tmp_path, ["b"])  # a run skips it as built: used now, and its record is not rewritten
    assert (fresh / STAGE_FILE).stat().st_mtime_ns == record
    assert prune_stages(tmp_path, older_than_days=30, unfinished=False) == ([], [])
    assert fresh.exists()
    # the removed stage comes back from the same settings, in the same folder
    assert _build(tmp_path, ["a"]) == old and (old / "words.txt").read_text() == "a"
