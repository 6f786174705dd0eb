"""The synthetic draw world's preparation stages (``domain.synthetic: true``), run in view by the recipe.

    world            prompts, rendered images and captions from a seed (polyrlaif.datasets.draw)
    policy_pretrain  a tiny text-conditioned UNet, pretrained on images whose captions are sometimes
                     wrong about colour, count or position: the imperfect starting policy
    clip_judge       a tiny open_clip model, trained contrastively on a separate split with true
                     captions: the multimodal judge (and the CLIPScore / FID feature model)

The policy and the judge never see each other's images. The rounds' feedback comes from the judge and
the rules' colour-blob detector; the prompts' ground truth is never read by the run (the world's
held-out references serve FID only).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from polyrlaif.core.config import TrainConfig
from polyrlaif.core.io import read_jsonl
from polyrlaif.core.protocols import PrepStage
from polyrlaif.core.stages import stage_dir
from polyrlaif.core.tiny import corpus_words

__all__ = ["PROMPT_FILES", "stages"]

#: The world's prompt files: the rounds sample on the first, the benchmarks evaluate on the second.
PROMPT_FILES = ("rlaif_prompts.jsonl", "heldout_prompts.jsonl")


def _world_config(w: Any) -> Any:
    from polyrlaif.datasets.draw import DrawWorldConfig

    return DrawWorldConfig(
        seed=w.seed,
        image_size=w.image_size,
        pretrain=w.pretrain_images,
        clip=w.clip_images,
        rlaif_groups=w.rlaif_groups,
        heldout_prompts=w.heldout_prompts,
        caption_error_rate=w.caption_error_rate,
        max_objects=w.max_objects,
    )


def _generate(w: Any) -> Any:
    def run(out: Path, prepared: Mapping[str, dict[str, Any]]) -> dict[str, Any]:
        from polyrlaif.datasets.draw import generate_world

        manifest = generate_world(out, _world_config(w))
        return {"data_dir": str(out), "counts": manifest.counts}

    return run


def _rows(data_dir: str, name: str) -> list[tuple[str, str]]:
    return [(str(Path(data_dir) / r["image"]), r["caption"]) for r in read_jsonl(Path(data_dir) / name)]


def _pretrain(cfg: TrainConfig) -> Any:
    w = cfg.domain.world

    def run(out: Path, prepared: Mapping[str, dict[str, Any]]) -> dict[str, Any]:
        from polyrlaif.core.diffusion import build_tiny_t2i
        from polyrlaif.core.diffusion_train import denoise_train

        data_dir = prepared["world"]["data_dir"]
        rows = _rows(data_dir, "pretrain.jsonl")
        texts = [c for _, c in rows] + [
            r["text"] for name in PROMPT_FILES for r in read_jsonl(Path(data_dir) / name)
        ]  # every word a prompt of the world can use, held-out prompts' included (none is unseen)
        words = corpus_words(texts)
        init = build_tiny_t2i(
            out / "init", words, image_size=w.image_size, seed=w.seed, channels=w.unet_channels,
            pooled_text=w.pooled_text,
        )  # fmt: skip
        result = denoise_train(
            str(init), rows, out, epochs=w.pretrain_epochs, lr=w.pretrain_lr,
            batch_size=w.batch_size, seed=w.seed, train_text_encoder=w.pretrain_text_encoder,
            snr_gamma=w.pretrain_snr_gamma, dtype=cfg.model.dtype, device=cfg.model.device,
        )  # fmt: skip
        return {"model": result.model_path, **{k: v for k, v in result.metrics.items() if k != "images"}}

    return run


def _clip(cfg: TrainConfig) -> Any:
    w = cfg.domain.world

    def run(out: Path, prepared: Mapping[str, dict[str, Any]]) -> dict[str, Any]:
        from polyrlaif.core.clip import train_clip

        rows = _rows(prepared["world"]["data_dir"], "clip.jsonl")
        epochs = w.clip_epochs
        path = train_clip(
            rows, out / "model", epochs=epochs, lr=w.clip_lr, batch_size=w.batch_size, seed=w.seed + 1
        )
        return {"model": str(path)}

    return run


def stages(cfg: TrainConfig) -> list[PrepStage]:
    """The world's stages for this run (none without ``domain.synthetic``)."""
    d = cfg.domain
    if not d.synthetic:
        return []
    w, root = d.world, d.world_dir
    keys = ("seed", "image_size", "pretrain_images", "clip_images", "rlaif_groups", "heldout_prompts")
    world = {k: getattr(w, k) for k in (*keys, "caption_error_rate")}
    if w.max_objects != 4:  # in the key only when changed, so earlier worlds keep theirs
        world["max_objects"] = w.max_objects
    policy = {"epochs": w.pretrain_epochs, "lr": w.pretrain_lr, "batch_size": w.batch_size, "seed": w.seed,
              "unet_channels": list(w.unet_channels), "pooled_text": w.pooled_text,
              "text_encoder": w.pretrain_text_encoder, "snr_gamma": w.pretrain_snr_gamma}  # fmt: skip
    judge = {"epochs": w.clip_epochs, "lr": w.clip_lr, "batch_size": w.batch_size, "seed": w.seed + 1}
    out = [
        PrepStage("world", stage_dir(root, "data"), world, _generate(w),
                  description="prompts, images and captions"),
        PrepStage("policy_pretrain", stage_dir(root, "policy"), policy, _pretrain(cfg), after=("world",),
                  description="denoising pretraining on captions that are sometimes wrong"),
    ]  # fmt: skip
    if d.clip_model == "world":  # the judge, and the feature model of CLIPScore and FID
        out.append(PrepStage("clip_judge", stage_dir(root, "clip"), judge, _clip(cfg), after=("world",),
                             description="contrastive training of the judge on its own split"))  # fmt: skip
    return out
