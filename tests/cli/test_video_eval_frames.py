"""``polyrlaif eval --domain video_lmm --model M --num-frames N``: the model reads its videos as the N frames
it was trained with; answers written with another frame count are refused, not reused; a domain whose
models read no video refuses the flag. Without the flag, a model inside a run folder reads the run's own
``model.num_frames``."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from polyrlaif.core.cli import main


def test_the_frame_count_reaches_the_model_and_a_changed_one_is_refused(tmp_path: Path, capsys) -> None:
    from polyrlaif.core.tiny import TinyVLMConfig, build_tiny_vlm, corpus_words
    from polyrlaif.datasets.video.mp4 import write_mp4

    frames = np.zeros((12, 32, 32, 3), dtype=np.uint8)
    frames[:, 10:16, 10:16] = (230, 40, 40)
    write_mp4(tmp_path / "clip.mp4", frames, fps=8)
    qa = tmp_path / "qa.jsonl"
    row = {"id": "q0", "video": "clip.mp4", "question": "what colour ?", "answer": "red"}
    qa.write_text(json.dumps(row) + "\n")
    model = build_tiny_vlm(tmp_path / "vlm", corpus_words(["what colour ? red blue"]),
                           TinyVLMConfig(image_size=32, hidden=32, vision_hidden=32))  # fmt: skip
    out = tmp_path / "O.json"
    args = ["eval", "--domain", "video_lmm", "--benchmark", "videoqa", "--model", str(model),
            "--videos", str(tmp_path), "--annotations", str(qa), "--max-new-tokens", "2",
            "--output", str(out)]  # fmt: skip
    assert main([*args, "--num-frames", "4"]) == 0
    (row,) = [json.loads(x) for x in (tmp_path / "O" / "generations.jsonl").read_text().splitlines()]
    assert row["settings"]["num_frames"] == 4
    assert main([*args, "--num-frames", "4"]) == 0  # the same settings: resumed
    assert main([*args, "--num-frames", "2"]) != 0
    err = capsys.readouterr().err
    assert "generations.jsonl" in err and "'num_frames': 4" in err and "Traceback" not in err

    code = ["eval", "--domain", "code", "--benchmark", "humaneval", "--model", str(model)]
    code += ["--num-frames", "4"]
    assert main([*code, "--output", str(tmp_path / "c.json")]) != 0
    assert "the code domain's models read no video" in capsys.readouterr().err


def test_a_model_in_a_run_folder_reads_the_runs_frame_count(tmp_path: Path) -> None:
    from polyrlaif.core.config import load_config, save_config
    from polyrlaif.core.tiny import TinyVLMConfig, build_tiny_vlm, corpus_words
    from polyrlaif.datasets.video.mp4 import write_mp4

    frames = np.zeros((12, 32, 32, 3), dtype=np.uint8)
    write_mp4(tmp_path / "clip.mp4", frames, fps=8)
    qa = tmp_path / "qa.jsonl"
    qa.write_text(json.dumps({"id": "q0", "video": "clip.mp4", "question": "what ?", "answer": "red"}) + "\n")
    run = tmp_path / "run"
    (run / "round_0").mkdir(parents=True)
    save_config(load_config("video_lmm/synthetic", ["model.num_frames=3"]), run / "config.yaml")
    model = build_tiny_vlm(run / "round_1" / "train" / "model", corpus_words(["what ? red"]),
                           TinyVLMConfig(image_size=32, hidden=32, vision_hidden=32))  # fmt: skip
    for where, expected in ((model, 3), (tmp_path / "loose", 8)):
        if where != model:  # the same weights outside a run folder: the adapter's default
            import shutil

            shutil.copytree(model, where)
        out = tmp_path / f"O-{expected}.json"
        args = ["eval", "--domain", "video_lmm", "--benchmark", "videoqa", "--model", str(where),
                "--videos", str(tmp_path), "--annotations", str(qa), "--max-new-tokens", "2",
                "--output", str(out)]  # fmt: skip
        assert main(args) == 0
        (row,) = [json.loads(x) for x in (out.with_suffix("") / "generations.jsonl").read_text().splitlines()]
        assert row["settings"]["num_frames"] == expected
