"""The synthetic video world's preparation stages (``domain.synthetic: true``), run in view by the recipe.

    world       clips of shapes that appear, move, change colour or disappear, with descriptions and
                QA items (polyrlaif.datasets.video)
    policy_sft  a tiny VLM (frames read as images) SFT'd on answers that are sometimes wrong about motion
                or order: the starting policy
    judge       a separate tiny VLM trained, on a disjoint split, to say whether an answer is right while
                seeing the frames and (most of the time) the clip's description: the context-aware judge

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

__all__ = ["stages", "video_conversation", "world_dir"]

log = get_logger(__name__)


def world_dir(cfg: TrainConfig) -> Path:
    """Where the world and its models live (``domain.world_dir``, default ``<output_dir>/world``)."""
    return Path(cfg.domain.world_dir or Path(cfg.run.output_dir) / "world")


def video_conversation(video: str, text: str) -> list[dict[str, Any]]:
    """One user turn: the video, then the text."""
    return [{"role": "user", "content": [{"type": "video", "path": video}, {"type": "text", "text": text}]}]


def _world(w: Any) -> Any:
    def run(out: Path, prepared: Mapping[str, dict[str, Any]]) -> dict[str, Any]:
        from polyrlaif.datasets.video import VideoWorldConfig, generate_video_world

        sizes = {"sft": w.sft, "judge": w.judge, "rlaif": w.rlaif, "test": w.test}
        wc = VideoWorldConfig(seed=w.seed, frames_per_clip=w.frames_per_clip,
                              wrong_answer_rate=w.wrong_answer_rate, **sizes)  # fmt: skip
        generate_video_world(out, wc)
        return {"data_dir": str(out)}

    return run


def _tiny_vlm(data_dir: Path, out: Path, seed: int) -> str:
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
        image_size=32, patch_size=8, hidden=64, vision_hidden=64, max_positions=512, seed=seed
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
                               num_frames=cfg.model.num_frames)  # fmt: skip
        result = sft_train(_tiny_vlm(data_dir, out, w.seed), examples, out, settings)
        return {"model": result.model_path}

    return run


def _judge(cfg: TrainConfig) -> Any:
    w = cfg.domain.world

    def run(out: Path, prepared: Mapping[str, dict[str, Any]]) -> dict[str, Any]:
        from polyrlaif.core.trainers.yes_no import YesNoExample, YesNoSettings, yes_no_train
        from polyrlaif.domains.video_lmm.prompts import JUDGE_TEMPLATE, JUDGE_TEMPLATE_NO_CONTEXT

        data_dir = Path(prepared["world"]["data_dir"])
        rows = read_jsonl(data_dir / "sft" / "judge.jsonl")
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
        settings = YesNoSettings(epochs=w.judge_epochs, lr=w.lr, batch_size=w.batch_size, seed=w.seed + 1,
                                 num_frames=cfg.model.num_frames)  # fmt: skip
        result = yes_no_train(_tiny_vlm(data_dir, out, w.seed + 1), examples, out, settings)
        return {"model": result.model_path}

    return run


def stages(cfg: TrainConfig) -> list[PrepStage]:
    """The world's stages for this run (none without ``domain.synthetic``)."""
    d = cfg.domain
    if not d.synthetic:
        return []
    w, root = d.world, world_dir(cfg)
    sizes = ("seed", "sft", "judge", "rlaif", "test", "frames_per_clip", "wrong_answer_rate")
    train = {"lr": w.lr, "batch_size": w.batch_size, "num_frames": cfg.model.num_frames}
    return [
        PrepStage("world", root / "data", {k: getattr(w, k) for k in sizes}, _world(w),
                  description="clips, descriptions and QA from a seed"),
        PrepStage("policy_sft", root / "policy", {**train, "epochs": w.policy_epochs, "seed": w.seed},
                  _policy_sft(cfg), after=("world",), description="SFT on answers sometimes wrong"),
        PrepStage("judge", root / "judge",
                  {**train, "epochs": w.judge_epochs, "seed": w.seed + 1, "dropout": w.description_dropout},
                  _judge(cfg), after=("world",), description="yes/no training of the judge on its own clips"),
    ]  # fmt: skip
