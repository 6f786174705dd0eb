"""``polyrlaif eval --domain text_to_image --benchmark clipscore --predictions P --images DIR --clip-model
ARCH --clip-pretrained CKPT --output O.json``: the metrics in O.json, per-image scores under O/, equal to
CLIPScore computed by hand with open_clip on a randomly initialised tiny CLIP saved to disk.

Until the `text_to_image` domain registers itself, a stand-in package registers the name through the
``polyrlaif.domains`` entry-point group (installed metadata written into a temporary folder, as pip would),
pointing at the real evaluator; once the project's own entry point exists it takes precedence (it comes
later on ``sys.path``), and this test then runs against it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from polyrlaif.core.cli import main

ARCH = "polyrlaif-test-cli-clip"
CFG = {
    "embed_dim": 32,
    "vision_cfg": {"image_size": 32, "layers": 2, "width": 64, "head_width": 32, "patch_size": 8},
    "text_cfg": {"context_length": 16, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 2},
}
PROMPTS = ["a red square", "a dog on a beach", "two blue circles", "a cat", "a tree at night"]

STAND_IN = """
from polyrlaif.core.protocols import Domain

DOMAIN = Domain(
    name="text_to_image",
    description="stand-in registering the text_to_image benchmarks for a CLI test",
    config="t2i_stand_in:DOMAIN",
    adapter="t2i_stand_in:DOMAIN",
    build="t2i_stand_in:DOMAIN",
    benchmarks={
        "clipscore": "polyrlaif.domains.text_to_image.clipscore:ClipScoreEvaluator",
        "winrate": "polyrlaif.domains.text_to_image.drawbench:WinRateEvaluator",
    },
)
"""


def _install_stand_in(site: Path) -> None:
    site.mkdir()
    (site / "t2i_stand_in.py").write_text(STAND_IN)
    info = site / "t2i_stand_in-0.0.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: t2i-stand-in\nVersion: 0.0.0\n")
    (info / "entry_points.txt").write_text("[polyrlaif.domains]\ntext_to_image = t2i_stand_in:DOMAIN\n")


def test_eval_clipscore_from_the_command_line(tmp_path: Path) -> None:
    import open_clip

    cfg = tmp_path / f"{ARCH}.json"
    cfg.write_text(json.dumps(CFG))
    open_clip.add_model_config(cfg)
    torch.manual_seed(0)
    ckpt = tmp_path / "tiny.pt"
    torch.save(open_clip.create_model(ARCH).state_dict(), ckpt)
    images = tmp_path / "images"
    images.mkdir()
    rng = np.random.default_rng(0)
    for i in range(len(PROMPTS)):
        Image.fromarray(rng.integers(0, 256, (40, 48, 3), dtype=np.uint8)).save(images / f"{i}.png")
    pred = tmp_path / "pred.jsonl"
    pred.write_text(
        "".join(json.dumps({"image": f"{i}.png", "prompt": p}) + "\n" for i, p in enumerate(PROMPTS))
    )

    site = tmp_path / "site"
    _install_stand_in(site)
    out = tmp_path / "O.json"
    res = subprocess.run(
        [sys.executable, "-m", "polyrlaif.core.cli", "eval", "--domain", "text_to_image",
         "--benchmark", "clipscore", "--predictions", str(pred), "--images", str(images),
         "--clip-model", str(cfg), "--clip-pretrained", str(ckpt), "--output", str(out),
         "--opt", "device=cpu"],
        capture_output=True, text=True, timeout=300, env={**os.environ, "PYTHONPATH": str(site)},
    )  # fmt: skip
    assert res.returncode == 0, res.stderr[-3000:]

    model, _, preprocess = open_clip.create_model_and_transforms(ARCH, pretrained=str(ckpt))
    model.eval()
    with torch.no_grad():
        img = model.encode_image(torch.stack([preprocess(Image.open(images / f"{i}.png")) for i in range(5)]))
        txt = model.encode_text(open_clip.get_tokenizer(ARCH)(PROMPTS))
    cos = (img / img.norm(dim=-1, keepdim=True) * (txt / txt.norm(dim=-1, keepdim=True))).sum(-1)
    want = [100 * max(float(c), 0.0) for c in cos]
    assert any(w > 0 for w in want)

    metrics = json.loads(out.read_text())
    assert metrics["clipscore"] == pytest.approx(sum(want) / len(want), abs=1e-4) and metrics["n"] == 5
    items = [json.loads(line) for line in (tmp_path / "O" / "items.jsonl").read_text().splitlines()]
    assert [r["clipscore"] for r in items] == pytest.approx(want, abs=1e-4)
    assert json.loads((tmp_path / "O" / "benchmark.json").read_text())["benchmark"] == "clipscore"
    assert "clipscore" in res.stdout and "95% interval" in res.stdout


def test_clip_flags_on_a_benchmark_without_them_are_named(tmp_path: Path, capsys) -> None:
    args = ["eval", "--domain", "code", "--benchmark", "humaneval", "--output", str(tmp_path / "o")]
    assert main([*args, "--clip-model", "ViT-B-32", "--clip-pretrained", "openai"]) == 2
    err = capsys.readouterr().err
    assert "benchmark 'humaneval' of domain 'code' does not take --clip-model, --clip-pretrained" in err
    assert "Traceback" not in err and not (tmp_path / "o").exists()
