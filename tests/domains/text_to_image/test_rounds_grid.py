"""The compositional benchmark's run-level grid: the same held-out prompts (rows) after every round
(columns), built from each round's items.jsonl."""

from __future__ import annotations

import json
from pathlib import Path

from PIL import Image

from polyrlaif.domains.text_to_image.benchmarks import CompositionalEvaluator


def test_the_grid_has_a_row_per_prompt_and_a_column_per_round(tmp_path: Path) -> None:
    dirs = []
    for r, colour in enumerate([(255, 0, 0), (0, 255, 0), (0, 0, 255)]):
        d = tmp_path / f"round_{r}" / "eval_compositional"
        d.mkdir(parents=True)
        rows = []
        for p in ("a", "b"):
            Image.new("RGB", (8, 8), colour).save(d / f"{p}.png")
            rows.append({"id": f"{p}/0", "image": str(d / f"{p}.png")})
        (d / "items.jsonl").write_text("".join(json.dumps(x) + "\n" for x in rows))
        dirs.append(d)
    (made,) = CompositionalEvaluator.summarize(dirs, tmp_path)
    grid = Image.open(made)
    assert made.name == "compositional_rounds.png" and grid.size == (3 * (8 * 3 + 2), 2 * (8 * 3 + 2))
    assert grid.getpixel((2, 2)) == (255, 0, 0) and grid.getpixel((2 * 26 + 2, 2)) == (0, 0, 255)
    assert CompositionalEvaluator.summarize(dirs[:1], tmp_path) == []  # one round: nothing to compare
