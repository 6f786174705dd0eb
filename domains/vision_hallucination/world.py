"""The synthetic shape world as preparation stages: a hallucinating policy and an independent labeler.

Real MLLM weights cannot be downloaded here, so the domain proves learning in a world with exact ground
truth (:mod:`polyrlaif.datasets.shapes`). :func:`stages` declares the steps the recipe runs, in view,
before round 0 (each in its own folder under the world directory, hashed by its settings, skipped when
finished; :mod:`polyrlaif.core.stages`):

1. ``world``: the images, annotations, POPE questions and SFT data, generated from a seed;
2. ``policy_vision``, ``policy_sft``: a tiny LLaVA-style VLM (:func:`polyrlaif.core.tiny.build_tiny_vlm`)
   whose vision tower first learns which objects its images show, then SFT on captions of the ``sft``
   split, a share of which name an object that is not there: the policy learns to hallucinate sometimes;
3. ``labeler_vision``, ``labeler`` (``domain.labeler: world``): a second tiny VLM, initialised and trained
   separately on the disjoint ``labeler`` split, learns to answer yes/no questions about objects. It is
   the labeler of the divide-and-conquer judge: feedback comes from this model, never from the oracle;
4. ``clip_checker`` (``domain.cascade`` with ``clip_model: world``): the cascade's cheap open_clip
   checker, trained on the labeler split.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from polyrlaif.core.config import TrainConfig
from polyrlaif.core.io import read_jsonl
from polyrlaif.core.log import get_logger
from polyrlaif.core.protocols import PrepStage
from polyrlaif.core.stages import stage_dir

__all__ = ["N_OBJECT_LABELS", "labeler_report", "object_labels", "stages"]

log = get_logger(__name__)

#: Words the labeler and the claim questions use beyond the world's own texts.
EXTRA_WORDS = ("yes", "no", "is", "are", "there", "in", "the", "image", "?", "it", "true", "that")

StageFn = Callable[[Path, Mapping[str, dict[str, Any]]], dict[str, Any]]

#: Epochs of the cascade checker's contrastive training.
CHECKER_EPOCHS = 30


def _conversation(data_dir: Path, image: str, text: str) -> list[dict]:
    path = str(data_dir / "images" / image)
    return [{"role": "user", "content": [{"type": "image", "path": path}, {"type": "text", "text": text}]}]


def _words(data_dir: Path) -> list[str]:
    """The tiny VLMs' vocabulary: every word of the world's texts, and the claim questions' words."""
    from polyrlaif.core.tiny import corpus_words

    texts = [r["prompt"] + " " + r["caption"] for r in read_jsonl(data_dir / "sft" / "policy_sft.jsonl")]
    for name in ("labeler_sft", "labeler_labeler"):
        texts += [r["question"] + " " + r["answer"] for r in read_jsonl(data_dir / "sft" / f"{name}.jsonl")]
    return corpus_words([*texts, " ".join(EXTRA_WORDS)])


def stages(cfg: TrainConfig) -> list[PrepStage]:
    """The world's preparation stages for this run (none without ``domain.synthetic``)."""
    d = cfg.domain
    if not d.synthetic:
        return []
    w, root = d.world, d.world_dir
    out = [
        PrepStage(
            "world",
            stage_dir(root, "data"),
            {
                k: getattr(w, k)
                for k in ("seed", "image_size", "images", "hallucination_rate", "texture", "object_size")
            },
            _generate(w),
            description="images, annotations, POPE questions and SFT data from a seed",
        )
    ]
    roles = [("policy", "sft", w.seed)] + (
        [("labeler", "labeler", w.seed + 1)] if d.labeler == "world" else []
    )
    for role, split, seed in roles:
        if w.vision_pretrain_steps > 0:
            out.append(
                PrepStage(
                    f"{role}_vision",
                    stage_dir(root, f"{role}_vision"),
                    {
                        "split": split,
                        "seed": seed,
                        "steps": w.vision_pretrain_steps,
                        "batch_size": w.batch_size,
                    },
                    _pretrain_tower(role, split, seed, w),
                    after=("world",),
                    description=f"the {role}'s vision tower learns what the {split} split's images show",
                )
            )
        upstream = ("world", f"{role}_vision") if w.vision_pretrain_steps > 0 else ("world",)
        train = {"lr": w.lr, "batch_size": w.batch_size, "seed": seed, "freeze_vision": w.freeze_vision}
        if role == "policy":
            settings = {**train, "epochs": w.policy_epochs, "policy_qa": w.policy_qa}
            desc = "SFT on captions that hallucinate sometimes"
            policy = stage_dir(root, "policy")
            out.append(PrepStage("policy_sft", policy, settings, _policy_sft(w), upstream, desc))
        else:
            settings = {**train, "epochs": w.labeler_epochs}
            desc = "yes/no training of the labeler on disjoint images"
            labeler = stage_dir(root, "labeler")
            out.append(PrepStage("labeler", labeler, settings, _labeler(w), upstream, desc))
    if d.cascade and d.clip_model in (None, "world"):
        out.append(
            PrepStage(
                "clip_checker",
                stage_dir(root, "clip_checker"),
                {"epochs": CHECKER_EPOCHS, "seed": w.seed},
                _checker(w.seed),
                after=("world",),
                description="the cascade's open_clip claim checker, on the labeler split",
            )
        )
    return out


def _generate(w: Any) -> StageFn:
    def run(out: Path, prepared: Mapping[str, dict[str, Any]]) -> dict[str, Any]:
        from polyrlaif.datasets.shapes import WorldConfig, generate_world

        config = WorldConfig(
            seed=w.seed,
            image_size=w.image_size,
            splits=dict(w.images),
            hallucination_rate=w.hallucination_rate,
            texture=w.texture,
            size_range=(float(w.object_size[0]), float(w.object_size[1])),
        )
        generate_world(out, config)
        return {"data_dir": str(out)}

    return run


def _init(role: str, data_dir: Path, out: Path, seed: int, image_size: int) -> str:
    """A fresh tiny VLM for ``role`` in ``out/init`` (built once; its vocabulary is the world's)."""
    from polyrlaif.core.tiny import TinyVLMConfig, build_tiny_vlm

    base = out / "init"
    if not (base / "config.json").is_file():
        build_tiny_vlm(base, _words(data_dir), TinyVLMConfig(image_size=image_size, seed=seed))
    return str(base)


def _start(role: str, prepared: Mapping[str, dict[str, Any]], out: Path, seed: int, w: Any) -> str:
    """What ``role``'s training starts from: its pretrained tower's model, else a fresh tiny VLM."""
    if f"{role}_vision" in prepared:
        return prepared[f"{role}_vision"]["model"]
    return _init(role, Path(prepared["world"]["data_dir"]), out, seed, w.image_size)


def _pretrain_tower(role: str, split: str, seed: int, w: Any) -> StageFn:
    # like the CLIP tower a real LMM starts from: each model's tower first learns to see on its own
    # split's images (which objects they show), then stays frozen through SFT
    def run(out: Path, prepared: Mapping[str, dict[str, Any]]) -> dict[str, Any]:
        from polyrlaif.core.trainers.vision_pretrain import VisionPretrainSettings, pretrain_vision_tower

        data_dir = Path(prepared["world"]["data_dir"])
        base = _init(role, data_dir, out, seed, w.image_size)
        images, labels = object_labels(data_dir, split)
        log.info(f"pretraining the {role}'s vision tower on {len(images)} images of the {split} split")
        settings = VisionPretrainSettings(steps=w.vision_pretrain_steps, batch_size=w.batch_size, seed=seed)
        result = pretrain_vision_tower(base, images, labels, N_OBJECT_LABELS, out, settings)
        return {"model": result.model_path}

    return run


def _policy_sft(w: Any) -> StageFn:
    def run(out: Path, prepared: Mapping[str, dict[str, Any]]) -> dict[str, Any]:
        from polyrlaif.core.trainers.trl_sft import SFTExample, SFTSettings, sft_train

        data_dir = Path(prepared["world"]["data_dir"])
        rows = read_jsonl(data_dir / "sft" / "policy_sft.jsonl")
        # the policy is a small general MLLM: it captions (hallucinating sometimes) and answers yes/no
        # questions about its own SFT images, so POPE can probe it; the labeler never sees these images
        qa = read_jsonl(data_dir / "sft" / "labeler_sft.jsonl") if w.policy_qa else []
        log.info(f"SFT of the policy: {len(rows)} captions (some hallucinate), {len(qa)} yes/no")
        examples = [SFTExample(_conversation(data_dir, r["image"], r["prompt"]), r["caption"]) for r in rows]
        examples += [SFTExample(_conversation(data_dir, r["image"], r["question"]), r["answer"]) for r in qa]
        freeze = ("model.vision_tower",) if w.freeze_vision else ()
        settings = SFTSettings(
            epochs=w.policy_epochs, lr=w.lr, batch_size=w.batch_size, seed=w.seed, freeze=freeze
        )
        result = sft_train(_start("policy", prepared, out, w.seed, w), examples, out, settings)
        return {"model": result.model_path}

    return run


def _labeler(w: Any) -> StageFn:
    def run(out: Path, prepared: Mapping[str, dict[str, Any]]) -> dict[str, Any]:
        from polyrlaif.core.trainers.yes_no import YesNoExample, YesNoSettings, yes_no_train

        data_dir = Path(prepared["world"]["data_dir"])
        rows = read_jsonl(data_dir / "sft" / "labeler_labeler.jsonl")
        log.info(f"training the labeler on {len(rows)} yes/no questions (disjoint images)")
        examples = [
            YesNoExample(_conversation(data_dir, r["image"], r["question"]), r["answer"] == "yes")
            for r in rows
        ]
        freeze = ("model.vision_tower",) if w.freeze_vision else ()
        settings = YesNoSettings(
            epochs=w.labeler_epochs, lr=w.lr, batch_size=w.batch_size, seed=w.seed + 1, freeze=freeze
        )
        # fitted on exactly what the judge reads, p(yes) against p(no) (core.trainers.yes_no explains why)
        result = yes_no_train(_start("labeler", prepared, out, w.seed + 1, w), examples, out, settings)
        report = labeler_report(data_dir, Path(result.model_path), out / "eval.json", split="test")
        log.info(
            f"labeler on the test split's {report['n']} held-out questions: "
            f"accuracy {report['accuracy']:.3f} "
            f"(yes {report['accuracy_yes']:.3f}, no {report['accuracy_no']:.3f})"
        )
        return {"model": result.model_path, "test_accuracy": report["accuracy"]}

    return run


def _checker(seed: int) -> StageFn:
    def run(out: Path, prepared: Mapping[str, dict[str, Any]]) -> dict[str, Any]:
        from polyrlaif.datasets.shapes import load_split
        from polyrlaif.datasets.shapes.text import claim
        from polyrlaif.domains.vision_hallucination.clip_train import train_clip_checker

        # like the labeler, it learns from images the policy never saw, so its verdicts come from a model
        data_dir = Path(prepared["world"]["data_dir"])
        images, texts = [], []
        for im in load_split(data_dir, "labeler"):
            for obj in im.objects:
                images.append(str(data_dir / "images" / im.image))
                texts.append(claim(obj.color, obj.category))
        log.info(f"training the open_clip claim checker on {len(texts)} (image, claim) pairs")
        return {"dir": str(train_clip_checker(out, images, texts, epochs=CHECKER_EPOCHS, seed=seed))}

    return run


N_OBJECT_LABELS = 8 + 7 + 8 * 7
"""Vision pretraining labels: each shape, each colour, and each (shape, colour) pair."""


def object_labels(data_dir: Path, split: str) -> tuple[list[str], list[list[int]]]:
    """The image paths of a world split and, for each, the indices of what it shows (shapes, colours,
    and shape-colour pairs, so the tower learns which colour belongs to which shape)."""
    from polyrlaif.datasets.shapes import load_split
    from polyrlaif.datasets.shapes.draw import CATEGORIES, COLORS

    images, labels = [], []
    for im in load_split(data_dir, split):
        ls: set[int] = set()
        for obj in im.objects:
            shape, colour = CATEGORIES.index(obj.category), COLORS.index(obj.color)
            ls.update(
                (
                    shape,
                    len(CATEGORIES) + colour,
                    len(CATEGORIES) + len(COLORS) + shape * len(COLORS) + colour,
                )
            )
        images.append(str(data_dir / "images" / im.image))
        labels.append(sorted(ls))
    return images, labels


def labeler_report(
    data_dir: Path, labeler: Path, out: Path, *, split: str = "test", threshold: float = 0.5
) -> dict:
    """How good the feedback can be: the labeler's accuracy on a held-out split's yes/no questions.

    Written to ``out`` once (a rerun reads it back); the run never uses these answers as feedback.
    """
    import json

    from polyrlaif.core.io import atomic_write_json
    from polyrlaif.core.judges.vlm_backend import VisionTransformersBackend

    if out.is_file():
        return json.loads(out.read_text())
    rows = read_jsonl(data_dir / "sft" / f"labeler_{split}.jsonl")
    backend = VisionTransformersBackend(str(labeler), batch_size=32)
    got = backend.yes_no([_conversation(data_dir, r["image"], r["question"]) for r in rows])
    right = {"yes": [0, 0], "no": [0, 0]}
    for r, g in zip(rows, got, strict=True):
        said = "yes" if g.p_yes is not None and g.p_yes >= threshold else "no"
        right[r["answer"]][0] += said == r["answer"]
        right[r["answer"]][1] += 1
    report = {
        "split": split,
        "n": len(rows),
        "accuracy": (right["yes"][0] + right["no"][0]) / max(1, len(rows)),
        "accuracy_yes": right["yes"][0] / max(1, right["yes"][1]),
        "accuracy_no": right["no"][0] / max(1, right["no"][1]),
        "failures": sum(g.p_yes is None for g in got),
    }
    atomic_write_json(out, report)
    return report
