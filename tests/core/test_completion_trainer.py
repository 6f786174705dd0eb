"""The completion trainer: a tiny VLM learns to answer from the text in front of it (text-only examples,
loaded as the vision-language model it is), and then from its image; a rerun finds the checkpoint."""

from __future__ import annotations

import random

import pytest

from polyrlaif.core.trainers.completion import CompletionExample, CompletionSettings, completion_train

COLOURS = {"red": (220, 40, 40), "blue": (50, 100, 235)}


def _text(text: str) -> list[dict]:
    return [{"role": "user", "content": [{"type": "text", "text": text}]}]


@pytest.fixture(scope="module")
def vlm(tmp_path_factory):
    from polyrlaif.core.tiny import TinyVLMConfig, build_tiny_vlm, corpus_words

    cfg = TinyVLMConfig(image_size=16, patch_size=8, vision_hidden=32, hidden=32, layers=2, heads=2)
    words = corpus_words(["the square is red blue . what colour ? answer ( , ) :"])
    return build_tiny_vlm(tmp_path_factory.mktemp("vlm") / "init", words, cfg)


def _next_word(model_dir, prompts: list[list[dict]], words: list[str]) -> list[str]:
    import torch
    from transformers import AutoModelForImageTextToText, AutoProcessor

    from polyrlaif.core.vlm import encode_multimodal

    proc = AutoProcessor.from_pretrained(model_dir)
    model = AutoModelForImageTextToText.from_pretrained(model_dir).eval()
    ids = [proc.tokenizer.convert_tokens_to_ids(w) for w in words]
    enc = encode_multimodal(proc, prompts, "cpu", num_frames=None)
    pos = (enc["attention_mask"].long().cumsum(-1) - 1).clamp(min=0)
    with torch.no_grad():
        last = model(**enc, position_ids=pos).logits[:, -1, ids]
    return [words[i] for i in last.argmax(-1).tolist()]


def test_a_vlm_learns_to_read_its_answer_from_text_alone(vlm, tmp_path) -> None:
    rng = random.Random(0)
    colours = [rng.choice(["red", "blue"]) for _ in range(64)]
    examples = [
        CompletionExample(_text(f"the square is {c} . what colour ? answer ( red , blue ) :"), c)
        for c in colours
    ]
    out = tmp_path / "read"
    settings = CompletionSettings(steps=120, lr=3e-3, batch_size=16, warmup_steps=5, multimodal=True)
    result = completion_train(str(vlm), examples, out, settings)
    assert result.metrics["loss"] < 0.3 < result.metrics["loss_first"], result.metrics
    # the answer is read from the prompt, not a prior: both colours come out right
    asked = [_text(f"the square is {c} . what colour ? answer ( red , blue ) :") for c in ("red", "blue")]
    assert _next_word(result.model_path, asked, ["red", "blue"]) == ["red", "blue"]
    again = completion_train(str(vlm), examples, out, settings)  # finished: returned, not retrained
    assert again.model_path == result.model_path and again.metrics == result.metrics


def test_then_from_the_image(vlm, tmp_path) -> None:
    from PIL import Image

    def example(i: int, tag: str) -> CompletionExample:
        shown = "red" if i % 2 == 0 else "blue"
        path = tmp_path / f"{tag}{i}.png"
        Image.new("RGB", (16, 16), COLOURS[shown]).save(path)
        conv = [
            {
                "role": "user",
                "content": [
                    {"type": "image", "path": str(path)},
                    {"type": "text", "text": "what colour ? answer ( red , blue ) :"},
                ],
            }
        ]
        return CompletionExample(conv, shown)

    result = completion_train(
        str(vlm),
        [example(i, "tr") for i in range(16)],
        tmp_path / "img",
        CompletionSettings(steps=80, lr=3e-3, batch_size=8, warmup_steps=5),
    )
    held_out = [example(i, "te") for i in range(4)]
    got = _next_word(result.model_path, [e.prompt for e in held_out], ["red", "blue"])
    assert got == [e.completion for e in held_out]


def test_bad_input(vlm, tmp_path) -> None:
    with pytest.raises(ValueError, match="no completion examples"):
        completion_train(str(vlm), [], tmp_path / "a")
    with pytest.raises(ValueError, match="example 1: the completion is empty"):
        completion_train(
            str(vlm),
            [CompletionExample(_text("x"), "red"), CompletionExample(_text("y"), " ")],
            tmp_path / "b",
        )
