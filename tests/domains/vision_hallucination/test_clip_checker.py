"""The open_clip claim checker: a tiny CLIP trained here on red and blue squares, calibrated, saved, loaded.

The set is drawn with PIL: squares of random size and place on noisy backgrounds, red or blue, with the
claims "There is a red square." / "There is a blue square.". After training, on held-out images the
true claim must get the higher p_true, and the loaded directory must behave as the trained model.
"""

from __future__ import annotations

import json
import random

import pytest

from polyrlaif.domains.vision_hallucination.clip_checker import OpenClipChecker
from polyrlaif.domains.vision_hallucination.clip_train import fit_calibration, train_clip_checker

CLAIMS = {"red": "There is a red square.", "blue": "There is a blue square."}
RGB = {"red": (220, 30, 30), "blue": (30, 30, 220)}


def _draw_set(folder, n: int, seed: int) -> list[tuple[str, str]]:
    from PIL import Image, ImageDraw

    rng = random.Random(seed)
    out = []
    for k in range(n):
        colour = "red" if k % 2 == 0 else "blue"
        grey = rng.randint(150, 255)
        img = Image.new("RGB", (32, 32), (grey, grey, grey))
        draw = ImageDraw.Draw(img)
        for _ in range(20):  # speckle noise, so no two images are alike
            x, y = rng.randrange(32), rng.randrange(32)
            draw.point((x, y), fill=(rng.randrange(256),) * 3)
        side = rng.randint(10, 18)
        x0, y0 = rng.randint(0, 32 - side), rng.randint(0, 32 - side)
        draw.rectangle([x0, y0, x0 + side, y0 + side], fill=RGB[colour])
        path = folder / f"{seed}_{k:03d}_{colour}.png"
        img.save(path)
        out.append((str(path), colour))
    return out


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    import torch

    torch.set_num_threads(1)
    folder = tmp_path_factory.mktemp("squares")
    train_set = _draw_set(folder, 40, seed=1)
    out = train_clip_checker(
        folder / "checker",
        [p for p, _ in train_set],
        [CLAIMS[c] for _, c in train_set],
        epochs=25,
        batch_size=16,
        seed=0,
    )
    return out, _draw_set(folder, 20, seed=2)


def test_trained_checker_prefers_true_claims(trained):
    path, test_set = trained
    cal = json.loads((path / "calibration.json").read_text())
    assert {"a", "b", "weights_sha256", "calibration_accuracy"} <= set(cal)
    assert cal["heldout_images"] == 10 and cal["train_rows"] == 30
    assert cal["calibration_rows"] == 20 and cal["calibration_positives"] == 10  # one false row per image
    assert cal["a"] > 0  # a higher cosine means more likely true

    checker = OpenClipChecker.from_dir(path, device="cpu")
    images = [p for p, _ in test_set for _ in CLAIMS]
    claims = [CLAIMS[c] for _ in test_set for c in CLAIMS]
    p = checker.p_true(images, claims)
    assert all(v is not None and 0.0 <= v <= 1.0 for v in p)
    wins = 0
    for k, (_, colour) in enumerate(test_set):
        p_red, p_blue = p[2 * k], p[2 * k + 1]
        wins += (p_red > p_blue) == (colour == "red")
    assert wins / len(test_set) >= 0.8
    # calibrated: the true claim is believed (p > 0.5) and the false one not, on most images
    correct = sum(
        (v > 0.5) == (CLAIMS[c] == claim)
        for v, claim, (_, c) in zip(p, claims, [t for t in test_set for _ in CLAIMS], strict=True)
    )
    assert correct / len(p) >= 0.8


def test_checker_id_unreadable_images_and_reload(trained, tmp_path):
    path, test_set = trained
    checker = OpenClipChecker.load(str(path), device="cpu")
    assert checker.checker_id.startswith("open_clip:dir:")
    cal = json.loads((path / "calibration.json").read_text())
    assert cal["weights_sha256"][:16] in checker.checker_id

    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not an image")
    good = test_set[0][0]
    p = checker.p_true([good, str(tmp_path / "gone.png"), str(broken), "", good], [CLAIMS["red"]] * 5)
    assert p[0] is not None and p[1:4] == [None, None, None] and p[4] == p[0]
    assert checker.p_true([], []) == []
    with pytest.raises(ValueError, match="2 images for 1 claims"):
        checker.p_true([good, good], [CLAIMS["red"]])

    # a new calibration changes the probabilities and the id, not the cosines
    cos = checker.cosines([good], [CLAIMS["red"]])[0]
    before = checker.checker_id
    checker.a, checker.b = 2 * checker.a, checker.b - 1
    assert checker.checker_id != before
    import math

    assert checker.p_true([good], [CLAIMS["red"]])[0] == pytest.approx(
        1 / (1 + math.exp(-(checker.a * cos + checker.b)))
    )


def test_open_clip_reads_the_directory_itself(trained):
    """The saved directory is open_clip's own ``local-dir:`` format: open_clip loads it strictly."""
    import open_clip

    path, _ = trained
    model, _, preprocess = open_clip.create_model_and_transforms(f"local-dir:{path}")
    assert sum(p.numel() for p in model.parameters()) < 3_000_000
    assert open_clip.get_tokenizer(f"local-dir:{path}").context_length == 16


def test_fit_calibration_recovers_a_known_logistic():
    import torch

    gen = torch.Generator().manual_seed(0)
    x = torch.rand(4000, generator=gen) * 0.6 - 0.1
    y = torch.rand(4000, generator=gen) < torch.sigmoid(20 * x - 4)
    a, b, metrics = fit_calibration(x.tolist(), y.tolist(), steps=600, l2=0.0)
    assert a == pytest.approx(20, rel=0.15) and b == pytest.approx(-4, rel=0.15)
    assert 0.0 < metrics["calibration_loss"] < 0.7
    with pytest.raises(ValueError, match="both classes"):
        fit_calibration([0.1, 0.2], [True, True])


def test_load_parses_hub_specs_without_loading():
    c = OpenClipChecker.load("ViT-B-32:laion2b_s34b_b79k")
    assert (c.name, c.pretrained, c._model) == ("ViT-B-32", "laion2b_s34b_b79k", None)
    assert c.checker_id.startswith("open_clip:ViT-B-32:laion2b_s34b_b79k:a=")
    hub = OpenClipChecker.load("hf-hub:org/some-clip")
    assert (hub.name, hub.pretrained) == ("hf-hub:org/some-clip", None)


class _NeutralLabeler:
    """A labeler stand-in that answers 0.5 for everything and counts what it is asked."""

    name = "neutral"

    def __init__(self) -> None:
        self.asked = 0

    def complete(self, conversations, **kw):
        raise AssertionError("not used")

    def yes_no(self, conversations, **kw):
        from polyrlaif.core.judges.backends import YesNo

        self.asked += len(conversations)
        return [YesNo(0.5, mass=1.0) for _ in conversations]


def test_trained_checker_in_the_cascade(trained):
    from polyrlaif.core.records import Candidate, MediaRef, PromptRecord
    from polyrlaif.domains.vision_hallucination.claims import RuleClaimExtractor
    from polyrlaif.domains.vision_hallucination.judge import DivideConquerJudge

    path, test_set = trained
    prompts = {
        f"p{k}": PromptRecord(f"p{k}", "Describe.", media=[MediaRef("image", img)])
        for k, (img, _) in enumerate(test_set)
    }
    cands = [Candidate(f"p{k}/0", f"p{k}", CLAIMS[c]) for k, (_, c) in enumerate(test_set)]
    cands += [
        Candidate(f"p{k}/1", f"p{k}", CLAIMS["blue" if c == "red" else "red"])
        for k, (_, c) in enumerate(test_set)
    ]
    labeler = _NeutralLabeler()
    judge = DivideConquerJudge(
        labeler, RuleClaimExtractor(), checker=OpenClipChecker.from_dir(path, device="cpu"), progress=False
    )
    out = judge.judge(prompts, cands)
    stats = judge.stats.as_dict()
    assert stats["settled_by_checker"] + stats["escalated"] == stats["claims"] == 40
    assert stats["labeler_calls_saved_rate"] >= 0.8 and labeler.asked == stats["escalated"]
    true_scores, false_scores = [j.score for j in out[:20]], [j.score for j in out[20:]]
    assert sum(true_scores) >= -4 and sum(false_scores) <= -16  # true captions kept, false ones rejected
