"""The synthetic video world's preparation stages (``domain.synthetic: true``), run in view by the recipe.

    world       clips of shapes that appear, move, change colour or disappear, with descriptions and
                QA items (polyrlaif.datasets.video)
    policy_vision, judge_vision (``world.vision_pretrain_steps`` > 0)
                each model's vision tower first learns, on its own split's frames, which shapes, colours
                and shape-colour pairs a frame shows and in which quarter each shape is (the pretrained
                encoder a real video LMM starts from); it then stays frozen (``world.freeze_vision``)
    policy_sft  a tiny VLM (frames read as images) SFT'd on answers that are sometimes wrong about motion
                or order: the starting policy
    judge_reading (``domain.judge_scoring: answer`` and ``world.reading_clips`` > 0)
                the judge first learns to answer questions from descriptions alone, on clips that are never
                rendered (text is cheap: thousands of clips in minutes)
    judge       a separate tiny VLM trained, on a disjoint split, to say whether an answer is right (or,
                with ``judge_scoring: answer``, to answer the question itself) while seeing the frames and
                (most of the time) the clip's description: the context-aware judge

Feedback comes from the judge; the generator's answer key only checks afterwards (the benchmarks).
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from polyrlaif.core.config import TrainConfig
from polyrlaif.core.io import read_jsonl
from polyrlaif.core.log import get_logger
from polyrlaif.core.protocols import PrepStage
from polyrlaif.core.stages import stage_dir

__all__ = ["N_FRAME_LABELS", "frame_labels", "mix_negatives", "n_frame_labels", "stages",
           "video_conversation"]  # fmt: skip

log = get_logger(__name__)


def video_conversation(video: str, text: str) -> list[dict[str, Any]]:
    """One user turn: the video, then the text."""
    return [{"role": "user", "content": [{"type": "video", "path": video}, {"type": "text", "text": text}]}]


def _label_space() -> tuple[list[str], list[str]]:
    from polyrlaif.datasets.draw.spec import COLOURS, SHAPES

    return list(SHAPES), list(COLOURS)


N_FRAME_LABELS = 3 + 4 + 12 + 12
"""Labels of a frame: shape, colour, shape-colour pair, shape in each quarter (3 shapes, 4 colours)."""


def n_frame_labels(grid: int = 2) -> int:
    """How many labels :func:`frame_labels` has with a ``grid`` x ``grid`` position grid."""
    return 3 + 4 + 12 + 3 * grid * grid


def frame_labels(clip: Any, frame: int, grid: int = 2) -> list[int]:
    """The label indices one frame of ``clip`` shows (see :data:`N_FRAME_LABELS`).

    Each visible object adds its shape, its colour there, the pair, and its shape in the cell of a
    ``grid`` x ``grid`` division of the frame its box centre is in (2: the quarters): what counting,
    colour, appear/disappear and direction questions need a frame to tell apart. A move shorter than a
    cell can stay inside one; a finer grid tells more of them apart.
    """
    shapes, colours = _label_space()
    ns, nc = len(shapes), len(colours)
    cell = clip.image_size / grid
    out: set[int] = set()
    for obj in clip.state_at(frame):
        s, c = shapes.index(obj.shape), colours.index(obj.colour)
        row = min(grid - 1, int((obj.y + obj.size / 2) // cell))
        col = min(grid - 1, int((obj.x + obj.size / 2) // cell))
        out |= {s, ns + c, ns + nc + s * nc + c, ns + nc + ns * nc + grid * grid * s + grid * row + col}
    return sorted(out)


def _frames_of_split(data_dir: Path, split: str, out: Path, grid: int) -> tuple[list[str], list[list[int]]]:
    """Every frame of ``split``'s clips as a PNG under ``out/frames``, and its labels."""
    from PIL import Image

    from polyrlaif.datasets.video import load_clips

    images, labels = [], []
    folder = out / "frames"
    folder.mkdir(parents=True, exist_ok=True)
    for clip_id, clip in sorted(load_clips(data_dir, split).items()):
        frames = clip.render()
        for t in range(clip.num_frames):
            path = folder / f"{clip_id}_{t:03d}.png"
            if not path.is_file():
                Image.fromarray(frames[t]).save(path)
            images.append(str(path))
            labels.append(frame_labels(clip, t, grid))
    return images, labels


def _pretrain_tower(role: str, split: str, seed: int, w: Any) -> Any:
    # like the CLIP encoder a real video LMM starts from: each model's tower first learns to see on its
    # own split's frames, then stays frozen through SFT (trained end to end from scratch, the language
    # model learns the question-only prior long before the frames get a useful gradient)
    def run(out: Path, prepared: Mapping[str, dict[str, Any]]) -> dict[str, Any]:
        from polyrlaif.core.trainers.vision_pretrain import VisionPretrainSettings, pretrain_vision_tower

        data_dir = Path(prepared["world"]["data_dir"])
        base = _tiny_vlm(data_dir, out, seed, w, role)
        grid = w.position_grid if role == "policy" else 2
        images, labels = _frames_of_split(data_dir, split, out, grid)
        log.info(f"pretraining the {role}'s vision tower on {len(images)} frames of the {split} split")
        settings = VisionPretrainSettings(steps=w.vision_pretrain_steps, batch_size=32, seed=seed)
        result = pretrain_vision_tower(base, images, labels, n_frame_labels(grid), out, settings)
        log.info(f"{role} tower: loss {result.metrics['loss']:.4f}, "
                 f"train exact match {result.metrics['train_exact_match']:.3f}")  # fmt: skip
        return {"model": result.model_path}

    return run


def _start(role: str, prepared: Mapping[str, dict[str, Any]], data_dir: Path, out: Path, seed: int,
           w: Any) -> str:  # fmt: skip
    """What ``role``'s training starts from: its pretrained tower's model, else a fresh tiny VLM."""
    if f"{role}_vision" in prepared:
        return prepared[f"{role}_vision"]["model"]
    return _tiny_vlm(data_dir, out, seed, w, role)


def _freeze(w: Any) -> tuple[str, ...]:
    return ("model.vision_tower",) if w.vision_pretrain_steps > 0 and w.freeze_vision else ()


def mix_negatives(rows: list[dict[str, Any]], rng: random.Random) -> list[dict[str, Any]]:
    """The judge's rows with every wrong ("no") answer redrawn uniformly from the question type's answer
    vocabulary (never the gold answer; of the gold answer's kind for ``order``: a shape or before/after).

    The world's wrong answers are all near misses that occur in the description (the colour before the
    change, the other end's count); a judge trained only on those never learned to read the description.
    The wrong answers a policy gives are mostly its prior's words, which often do not occur in it.
    """
    from polyrlaif.datasets.video.text import other_answer

    gold = {r["id"].rsplit("_", 1)[0]: r["answer"] for r in rows if r["label"] == "yes"}
    out = []
    for r in rows:
        key = r["id"].rsplit("_", 1)[0]
        if r["label"] == "no" and key in gold:
            r = {**r, "answer": other_answer(gold[key], r["type"], rng)}
        out.append(r)
    return out


def _world(w: Any) -> Any:
    def run(out: Path, prepared: Mapping[str, dict[str, Any]]) -> dict[str, Any]:
        from polyrlaif.datasets.video import VideoWorldConfig, generate_video_world

        sizes = {"sft": w.sft, "judge": w.judge, "rlaif": w.rlaif, "test": w.test}
        if w.wrong_answer_types:
            sizes["wrong_answer_types"] = tuple(w.wrong_answer_types)
        wc = VideoWorldConfig(seed=w.seed, frames_per_clip=w.frames_per_clip,
                              wrong_answer_rate=w.wrong_answer_rate, **sizes)  # fmt: skip
        generate_video_world(out, wc)
        return {"data_dir": str(out)}

    return run


def _tiny_vlm(data_dir: Path, out: Path, seed: int, w: Any, role: str) -> str:
    from polyrlaif.core.tiny import TinyVLMConfig, build_tiny_vlm, corpus_words

    texts = []
    for name in ("sft/policy.jsonl", "sft/judge.jsonl", "qa/rlaif.jsonl", "qa/test.jsonl"):
        for r in read_jsonl(data_dir / name):
            texts += [r["question"], r["answer"], r.get("description", "")]
    texts += [
        "Video description:",
        "Question:",
        "Answer:",
        "Is the answer correct for this video?",
        "yes no (none)",
    ]
    cfg = TinyVLMConfig(
        image_size=32,
        patch_size=8,
        vision_hidden=64,
        max_positions=512,
        seed=seed,
        **({"hidden": w.lm_hidden, "layers": w.lm_layers} if role == "policy" else {"hidden": 64}),
    )
    return str(build_tiny_vlm(out / "init", corpus_words(texts), cfg))


def _policy_sft(cfg: TrainConfig) -> Any:
    w = cfg.domain.world

    def run(out: Path, prepared: Mapping[str, dict[str, Any]]) -> dict[str, Any]:
        from polyrlaif.core.trainers.trl_sft import SFTExample, SFTSettings, sft_train

        data_dir = Path(prepared["world"]["data_dir"])
        rows = read_jsonl(data_dir / "sft" / "policy.jsonl")
        log.info(f"SFT of the policy on {len(rows)} answers ({sum(not r['correct'] for r in rows)} wrong)")
        examples = [
            SFTExample(video_conversation(str(data_dir / r["video"]), r["question"]), r["answer"])
            for r in rows
        ]
        settings = SFTSettings(epochs=w.policy_epochs, lr=w.lr, batch_size=w.batch_size, seed=w.seed,
                               num_frames=cfg.model.num_frames, freeze=_freeze(w))  # fmt: skip
        result = sft_train(_start("policy", prepared, data_dir, out, w.seed, w), examples, out, settings)
        return {"model": result.model_path}

    return run


def _judge(cfg: TrainConfig) -> Any:
    w = cfg.domain.world

    def run(out: Path, prepared: Mapping[str, dict[str, Any]]) -> dict[str, Any]:
        from polyrlaif.core.trainers.yes_no import YesNoExample, YesNoSettings, yes_no_train
        from polyrlaif.domains.video_lmm.prompts import JUDGE_TEMPLATE, JUDGE_TEMPLATE_NO_CONTEXT

        data_dir = Path(prepared["world"]["data_dir"])
        rows = read_jsonl(data_dir / "sft" / "judge.jsonl")
        if cfg.domain.judge_scoring == "answer":
            return _answer_judge(cfg, prepared, data_dir, rows, out)
        if w.judge_negatives == "uniform":
            rows = mix_negatives(rows, random.Random(w.seed + 2))
        rng = random.Random(w.seed + 1)  # which examples go without the description
        examples = []
        for r in rows:
            if rng.random() < w.description_dropout:
                text = JUDGE_TEMPLATE_NO_CONTEXT.format(question=r["question"], answer=r["answer"])
            else:
                text = JUDGE_TEMPLATE.format(
                    description=r["description"], question=r["question"], answer=r["answer"]
                )
            examples.append(
                YesNoExample(video_conversation(str(data_dir / r["video"]), text), r["label"] == "yes")
            )
        log.info(f"training the judge on {len(examples)} answers of its own clips (yes/no)")
        # the judge learns to read a video as the run's judge will (model.num_frames, as the policy)
        settings = YesNoSettings(epochs=w.judge_epochs, lr=w.judge_lr or w.lr, batch_size=w.batch_size,
                                 seed=w.seed + 1, num_frames=cfg.model.num_frames,
                                 freeze=_freeze(w))  # fmt: skip
        start = (
            prepared["policy_sft"]["model"]
            if w.judge_init == "policy"
            else _start("judge", prepared, data_dir, out, w.seed + 1, w)
        )
        result = yes_no_train(start, examples, out, settings)
        return {"model": result.model_path}

    return run


def _answer_prompt(row: dict[str, Any], with_description: bool = True) -> str:
    from polyrlaif.datasets.video.text import ANSWER_VOCAB
    from polyrlaif.domains.video_lmm.prompts import ANSWER_TEMPLATE, ANSWER_TEMPLATE_NO_CONTEXT

    options = ", ".join(ANSWER_VOCAB[row["type"]])  # the words build.world_prompts puts in meta["answers"]
    if with_description:
        description, question = row["description"], row["question"]
        return ANSWER_TEMPLATE.format(description=description, question=question, options=options)
    return ANSWER_TEMPLATE_NO_CONTEXT.format(question=row["question"], options=options)


def _answer_judge(cfg: TrainConfig, prepared: Mapping[str, dict[str, Any]], data_dir: Path,
                  rows: list[dict[str, Any]], out: Path) -> dict[str, Any]:  # fmt: skip
    """``judge_scoring: answer``: the judge learns to answer its split's questions (gold answers only),
    seeing the frames and, but for ``description_dropout`` of them, the description."""
    from polyrlaif.core.trainers.completion import CompletionExample, CompletionSettings, completion_train

    w = cfg.domain.world
    rng = random.Random(w.seed + 1)  # which examples go without the description
    examples = []
    for r in rows:
        if r["label"] == "yes":
            text = _answer_prompt(r, with_description=rng.random() >= w.description_dropout)
            conv = video_conversation(str(data_dir / r["video"]), text)
            examples.append(CompletionExample(conv, r["answer"]))
    steps = max(1, round(w.judge_epochs * len(examples) / w.batch_size))
    log.info(f"training the judge to answer {len(examples)} questions of its own clips ({steps} steps)")
    settings = CompletionSettings(
        steps=steps,
        lr=w.judge_lr or w.lr,
        batch_size=w.batch_size,
        seed=w.seed + 1,
        num_frames=cfg.model.num_frames,
        freeze=_freeze(w),
    )
    start = (
        prepared["judge_reading"]["model"]
        if "judge_reading" in prepared
        else _start("judge", prepared, data_dir, out, w.seed + 1, w)
    )
    result = completion_train(start, examples, out, settings)
    return {"model": result.model_path}


def _judge_reading(cfg: TrainConfig) -> Any:
    w = cfg.domain.world

    def run(out: Path, prepared: Mapping[str, dict[str, Any]]) -> dict[str, Any]:
        from polyrlaif.core.trainers.completion import CompletionExample, CompletionSettings, completion_train
        from polyrlaif.datasets.video import VideoWorldConfig
        from polyrlaif.datasets.video.files import reading_rows

        data_dir = Path(prepared["world"]["data_dir"])
        held_out = {r["description"] for r in read_jsonl(data_dir / "clips" / "test.jsonl")}
        wc = VideoWorldConfig(seed=w.seed, frames_per_clip=w.frames_per_clip)
        rows = [r for r in reading_rows(wc, w.reading_clips, held_out) if r["label"] == "yes"]
        log.info(f"the judge learns to read: {len(rows)} questions of {w.reading_clips} clips' descriptions")
        text_only = [[{"role": "user", "content": [{"type": "text", "text": _answer_prompt(r)}]}]
                     for r in rows]  # fmt: skip
        examples = [CompletionExample(conv, r["answer"]) for conv, r in zip(text_only, rows, strict=True)]
        settings = CompletionSettings(steps=w.reading_steps, lr=w.judge_lr or w.lr, batch_size=32,
                                      seed=w.seed + 3, multimodal=True, freeze=_freeze(w))  # fmt: skip
        start = _start("judge", prepared, data_dir, out, w.seed + 1, w)
        result = completion_train(start, examples, out, settings)
        log.info(f"judge reading: loss {result.metrics['loss_first']:.3f} -> {result.metrics['loss']:.3f}")
        return {"model": result.model_path}

    return run


def stages(cfg: TrainConfig) -> list[PrepStage]:
    """The world's stages for this run (none without ``domain.synthetic``)."""
    d = cfg.domain
    if not d.synthetic:
        return []
    w, root = d.world, d.world_dir
    sizes = ("seed", "sft", "judge", "rlaif", "test", "frames_per_clip", "wrong_answer_rate")
    # the policy's language-model size is in its stages' keys, but for the size every earlier world had
    lm = {"lm": [w.lm_hidden, w.lm_layers]} if (w.lm_hidden, w.lm_layers) != (64, 2) else {}
    train = {"lr": w.lr, "batch_size": w.batch_size, "num_frames": cfg.model.num_frames}
    world = {k: getattr(w, k) for k in sizes}
    if w.wrong_answer_types:  # in the key only when set, so earlier worlds keep theirs
        world["wrong_answer_types"] = list(w.wrong_answer_types)
    out = [
        PrepStage("world", stage_dir(root, "data"), world, _world(w),
                  description="clips, descriptions and QA from a seed"),
    ]  # fmt: skip
    for role, split, seed in (("policy", "sft", w.seed), ("judge", "judge", w.seed + 1)):
        upstream: tuple[str, ...] = ("world",)
        if role == "judge" and w.judge_init == "policy":
            # the judge starts from the SFT'd policy, tower and all (VLM-RLAIF's reward model init)
            upstream = ("world", "policy_sft")
        elif w.vision_pretrain_steps > 0:
            grid = w.position_grid if role == "policy" else 2
            settings = {"split": split, "seed": seed, "steps": w.vision_pretrain_steps,
                        "labels": n_frame_labels(grid), **(lm if role == "policy" else {})}  # fmt: skip
            out.append(PrepStage(f"{role}_vision", stage_dir(root, f"{role}_vision"), settings,
                                 _pretrain_tower(role, split, seed, w), after=("world",),
                                 description=f"{role} tower: what {split} frames show"))  # fmt: skip
            upstream = ("world", f"{role}_vision")
        tower = {"vision_steps": w.vision_pretrain_steps, "freeze_vision": w.freeze_vision}
        tower = tower if upstream[1:] else {}
        if role == "policy":
            out.append(PrepStage("policy_sft", stage_dir(root, "policy"),
                                 {**train, **lm, **tower, "epochs": w.policy_epochs, "seed": seed},
                                 _policy_sft(cfg), after=upstream,
                                 description="SFT on answers sometimes wrong"))  # fmt: skip
        else:
            if d.judge_scoring == "answer" and w.reading_clips > 0:
                reading = {"clips": w.reading_clips, "steps": w.reading_steps, "seed": seed,
                           "lr": w.judge_lr or w.lr, **tower}  # fmt: skip
                out.append(PrepStage("judge_reading", stage_dir(root, "judge_reading"), reading,
                                     _judge_reading(cfg), after=upstream,
                                     description="the judge answers from descriptions alone"))  # fmt: skip
                upstream = ("world", "judge_reading")
            settings = {**train, **tower, "epochs": w.judge_epochs, "seed": seed,
                        "dropout": w.description_dropout}  # fmt: skip
            if d.judge_scoring != "yes_no":
                settings["scoring"] = d.judge_scoring
            if w.judge_lr is not None:
                settings["judge_lr"] = w.judge_lr
            if w.judge_init != "fresh":
                settings["init"] = w.judge_init
            if w.judge_negatives != "near":
                settings["negatives"] = w.judge_negatives
            what = "answers" if d.judge_scoring == "answer" else "yes/no verdicts"
            out.append(PrepStage("judge", stage_dir(root, "judge"), settings, _judge(cfg), after=upstream,
                                 description=f"the judge trained on {what} of its own clips"))  # fmt: skip
    return out
