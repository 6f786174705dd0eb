"""The yes/no trainer: a tiny VLM learns to answer from its image, as the core's yes/no judge reads it."""

from __future__ import annotations

import pytest

from polyrlaif.core.trainers.yes_no import YesNoExample, YesNoSettings, yes_no_train

COLOURS = {"red": (220, 40, 40), "blue": (50, 100, 235)}


def _question(path, colour: str) -> list[dict]:
    text = f"is there a {colour} square ?"
    return [
        {"role": "user", "content": [{"type": "image", "path": str(path)}, {"type": "text", "text": text}]}
    ]


def _examples(tmp_path, n: int, tag: str) -> list[YesNoExample]:
    from PIL import Image

    out = []
    for i in range(n):
        shown = "red" if i % 2 == 0 else "blue"
        path = tmp_path / f"{tag}{i}.png"
        Image.new("RGB", (16, 16), COLOURS[shown]).save(path)
        asked = "red" if (i // 2) % 2 == 0 else "blue"
        out.append(YesNoExample(_question(path, asked), asked == shown))
    return out


@pytest.fixture(scope="module")
def vlm(tmp_path_factory):
    from polyrlaif.core.tiny import TinyVLMConfig, build_tiny_vlm, corpus_words

    cfg = TinyVLMConfig(image_size=16, patch_size=8, vision_hidden=32, hidden=32, layers=1, heads=2)
    words = corpus_words(["is there a red square ? blue yes no"])
    return build_tiny_vlm(tmp_path_factory.mktemp("vlm") / "init", words, cfg)


def test_learns_to_answer_from_the_image_as_the_judge_reads_it(vlm, tmp_path):
    from polyrlaif.core.judges.vlm_backend import VisionTransformersBackend

    train = _examples(tmp_path, 16, "train")
    out = tmp_path / "yn"
    result = yes_no_train(
        str(vlm), train, out, YesNoSettings(epochs=40, lr=3e-3, batch_size=8, warmup_steps=5)
    )
    assert result.metrics["train_accuracy"] >= 0.9, result.metrics
    held_out = _examples(tmp_path, 8, "test")
    got = VisionTransformersBackend(result.model_path, batch_size=8).yes_no([e.prompt for e in held_out])
    # every answer right: the question alone cannot tell (each is asked about both colours)
    assert [g.p_yes > 0.5 for g in got] == [e.answer for e in held_out], [g.p_yes for g in got]
    again = yes_no_train(str(vlm), train, out)
    assert again.resumed


def test_bad_input(vlm, tmp_path):
    ex = _examples(tmp_path, 4, "bad")
    with pytest.raises(ValueError, match="both answers"):
        yes_no_train(str(vlm), [e for e in ex if e.answer], tmp_path / "a")
    with pytest.raises(ValueError, match="no yes/no examples"):
        yes_no_train(str(vlm), [], tmp_path / "b")
    with pytest.raises(ValueError, match="match no parameter"):
        yes_no_train(str(vlm), ex, tmp_path / "c", YesNoSettings(freeze=("nonexistent.",)))
    with pytest.raises(ValueError, match="no distinct token ids"):
        yes_no_train(str(vlm), ex, tmp_path / "d", YesNoSettings(yes=("maybe",), no=("maybe",)))
