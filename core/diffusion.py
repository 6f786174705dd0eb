"""Text-to-image diffusion policies: a pixel-space pipeline for synthetic worlds, loading, and sampling.

:class:`PixelDiffusionPipeline` is a ``diffusers.DiffusionPipeline`` with a text-conditioned
``UNet2DConditionModel`` that denoises RGB pixels directly (no VAE), a CLIP text encoder, a tokenizer
and a scheduler. :func:`build_tiny_t2i` writes a randomly initialised one, small enough to pretrain
(:func:`polyrlaif.core.diffusion_train.denoise_train`) and preference-tune on a CPU. It saves and loads
with ``save_pretrained`` / ``from_pretrained`` like any diffusers pipeline; :func:`load_t2i_pipeline`
loads it or any hub or local diffusers pipeline (SD 1.5, SDXL) behind one call.

:class:`~polyrlaif.core.diffusion_policy.DiffusionPolicy` is the policy over such a pipeline.

``diffusers`` is imported only when a pipeline is built or loaded: importing this module is free.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from polyrlaif.core.io import InputError, atomic_dir

if TYPE_CHECKING:
    import torch

__all__ = [
    "SCHEDULERS",
    "PixelDiffusionPipeline",  # noqa: F822 - made on first access (module __getattr__)
    "build_tiny_t2i",
    "encode_text",
    "load_reference_unet",
    "load_t2i_pipeline",
]

log = logging.getLogger(__name__)

PIXEL_PIPELINE = "PixelDiffusionPipeline"

#: Inference schedulers a ``DiffusionPolicy`` (:mod:`polyrlaif.core.diffusion_policy`) can sample with
#: (diffusers class names); ``"saved"`` keeps the pipeline's own.
SCHEDULERS = {
    "ddim": "DDIMScheduler",
    "ddpm": "DDPMScheduler",
    "euler": "EulerDiscreteScheduler",
    "dpm": "DPMSolverMultistepScheduler",
}

TINY_SPECIAL_TOKENS = ("<pad>", "<unk>", "<s>", "</s>")


def __getattr__(name: str) -> Any:
    # PixelDiffusionPipeline subclasses diffusers' DiffusionPipeline; the class is made on first use so
    # that importing this module does not import diffusers and torch
    if name == PIXEL_PIPELINE:
        return _pipeline_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def encode_text(pipe: Any, texts: Sequence[str], device: Any = None) -> torch.Tensor:
    """The text encoder's last hidden states, ``(len(texts), max_length, hidden)``, for the prompts padded
    to the tokenizer's fixed length as Stable Diffusion does (so a prompt's conditioning does not depend on
    the other prompts in its batch); ``device`` defaults to the encoder's."""
    tok = pipe.tokenizer(
        list(texts),
        padding="max_length",
        max_length=pipe.tokenizer.model_max_length,
        truncation=True,
        return_tensors="pt",
    )
    encoder = pipe.text_encoder
    device = device if device is not None else encoder.device
    mask = None
    if getattr(encoder.config, "use_attention_mask", False):
        mask = tok.attention_mask.to(device)
    return encoder(tok.input_ids.to(device), attention_mask=mask)[0]


@functools.cache
def _pipeline_class() -> type:
    import torch
    from diffusers import DiffusionPipeline
    from diffusers.pipelines.pipeline_utils import ImagePipelineOutput
    from diffusers.utils.torch_utils import randn_tensor

    class PixelDiffusionPipeline(DiffusionPipeline):
        """Text-to-image diffusion in pixel space: a text-conditioned UNet over RGB images in [-1, 1].

        Args:
            unet: a ``UNet2DConditionModel`` with 3 input and output channels.
            scheduler: a diffusers scheduler (DDPM for training; any for sampling).
            text_encoder: a transformers ``CLIPTextModel``.
            tokenizer: its tokenizer; ``model_max_length`` is the padded prompt length.
        """

        model_cpu_offload_seq = "text_encoder->unet"

        def __init__(self, unet: Any, scheduler: Any, text_encoder: Any, tokenizer: Any) -> None:
            super().__init__()
            self.register_modules(
                unet=unet, scheduler=scheduler, text_encoder=text_encoder, tokenizer=tokenizer
            )

        @torch.no_grad()
        def __call__(
            self,
            prompt: str | list[str],
            num_inference_steps: int = 20,
            guidance_scale: float = 3.0,
            generator: torch.Generator | list[torch.Generator] | None = None,
            height: int | None = None,
            width: int | None = None,
            output_type: str = "pil",
        ) -> Any:
            """One image per prompt, with classifier-free guidance against the empty prompt (off when
            ``guidance_scale <= 1``); ``generator``: one per prompt (or one for the batch); ``height`` and
            ``width`` default to the UNet's ``sample_size``.

            Returns:
                An ``ImagePipelineOutput``: PIL images, or with ``output_type="pt"`` a ``(n, 3, H, W)``
                tensor in [0, 1].
            """
            prompts = [prompt] if isinstance(prompt, str) else list(prompt)
            if isinstance(generator, list) and len(generator) != len(prompts):
                raise ValueError(f"{len(generator)} generators for {len(prompts)} prompts")
            device = self._execution_device
            size = self.unet.config.sample_size
            height, width = height or size, width or size
            cfg = guidance_scale > 1.0
            emb = encode_text(self, prompts, device)
            if cfg:
                uncond = encode_text(self, [""], device).expand(len(prompts), -1, -1)
                emb = torch.cat([uncond, emb])
            shape = (len(prompts), self.unet.config.in_channels, height, width)
            x = randn_tensor(shape, generator=generator, device=device, dtype=self.unet.dtype)
            self.scheduler.set_timesteps(num_inference_steps, device=device)
            x = x * self.scheduler.init_noise_sigma
            for t in self.progress_bar(self.scheduler.timesteps):
                inp = self.scheduler.scale_model_input(torch.cat([x, x]) if cfg else x, t)
                eps = self.unet(inp, t, encoder_hidden_states=emb.to(self.unet.dtype)).sample
                if cfg:
                    eps_uncond, eps_cond = eps.chunk(2)
                    eps = eps_uncond + guidance_scale * (eps_cond - eps_uncond)
                x = self.scheduler.step(eps, t, x, generator=generator).prev_sample
            images = (x.float() / 2 + 0.5).clamp(0, 1)
            if output_type == "pt":
                return ImagePipelineOutput(images=images)
            return ImagePipelineOutput(images=self.numpy_to_pil(images.permute(0, 2, 3, 1).cpu().numpy()))

    PixelDiffusionPipeline.__module__ = __name__
    return PixelDiffusionPipeline


def load_reference_unet(model_path: str, device: str) -> Any:
    """The UNet of the pipeline at ``model_path`` (a directory or hub id), float32, frozen, in eval mode:
    a Diffusion-DPO reference other than the policy being trained."""
    import torch
    from diffusers import UNet2DConditionModel

    unet = UNet2DConditionModel.from_pretrained(model_path, subfolder="unet", torch_dtype=torch.float32)
    log.info(f"reference: {model_path} (optim.reference), not the round's starting policy")
    return unet.requires_grad_(False).to(device).eval()


def load_t2i_pipeline(name_or_path: str | Path, *, dtype: str = "auto", device: str = "auto") -> Any:
    """Load a text-to-image pipeline: ours (:class:`PixelDiffusionPipeline`) or any diffusers one.

    Only ``model_index.json`` is read first (for a hub id, only that file is fetched); a pipeline whose
    ``_class_name`` is ours loads with our class, anything else with ``DiffusionPipeline.from_pretrained``
    (e.g. ``stable-diffusion-v1-5/stable-diffusion-v1-5`` or an SDXL repository).

    Args:
        name_or_path: a local pipeline directory or a hub id.
        dtype: ``auto`` (float32 on CPU, bfloat16 on CUDA) or a dtype name (see
            :func:`polyrlaif.core.models.pick_dtype`).
        device: ``auto``, ``cpu`` or ``cuda[:i]``.

    Returns:
        The pipeline on ``device``.

    Raises:
        InputError: a local directory without ``model_index.json``.
    """
    from diffusers import DiffusionPipeline

    from polyrlaif.core.models import pick_device, pick_dtype

    path = Path(name_or_path)
    if path.is_dir() and not (path / "model_index.json").is_file():
        raise InputError(f"{path}: not a diffusers pipeline directory (no model_index.json)")
    dev = pick_device(device)
    config = DiffusionPipeline.load_config(str(name_or_path))
    cls = _pipeline_class() if config.get("_class_name") == PIXEL_PIPELINE else DiffusionPipeline
    pipe = cls.from_pretrained(str(name_or_path), dtype=pick_dtype(dtype, dev))
    return pipe.to(dev)


def _word_tokenizer(words: Iterable[str], max_length: int) -> Any:
    """The tiny pipeline's tokenizer: word-level, ``<s> ... </s>`` around each prompt."""
    from polyrlaif.core.tiny import word_tokenizer

    return word_tokenizer(
        words, specials=TINY_SPECIAL_TOKENS, wrap="<s> $A </s>", model_max_length=max_length
    )


def build_tiny_t2i(
    out_dir: str | Path,
    words: Iterable[str],
    *,
    image_size: int = 32,
    seed: int = 0,
    max_length: int = 16,
    channels: Sequence[int] = (32, 64),
    pooled_text: bool = False,
) -> Path:
    """Write a randomly initialised tiny :class:`PixelDiffusionPipeline` to ``out_dir``.

    A UNet with one level per entry of ``channels`` (by default two: 32 and 64 channels), cross-attention
    at every level but the full-resolution one, a 2-layer CLIP text encoder of width 32, a word-level
    tokenizer over ``words`` and a DDPM scheduler (epsilon prediction, cosine schedule). It pretrains in
    minutes on two CPU cores.

    Args:
        out_dir: target directory, written atomically.
        words: the prompt vocabulary (lower-cased; special tokens are added in front).
        image_size: image height and width in pixels (divisible by ``2 ** (len(channels) - 1)``).
        seed: initialisation seed.
        max_length: the padded prompt length in tokens, ``<s>`` and ``</s>`` included.
        channels: the UNet's channels per level, full resolution first.
        pooled_text: also add an attention-pooled text embedding to the timestep embedding (diffusers'
            ``addition_embed_type="text"``, as Imagen conditions every residual block on the prompt), so
            the prompt reaches the full-resolution level too; a from-scratch UNet learns to follow
            colours and counts sooner with it.

    Returns:
        ``out_dir``.
    """
    import torch
    from diffusers import DDPMScheduler, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel

    tok = _word_tokenizer(words, max_length)
    hidden = 32
    torch.manual_seed(seed)
    text_encoder = CLIPTextModel(
        CLIPTextConfig(
            vocab_size=len(tok),
            hidden_size=hidden,
            intermediate_size=hidden * 2,
            num_hidden_layers=2,
            num_attention_heads=4,
            max_position_embeddings=max_length,
            pad_token_id=tok.pad_token_id,
            bos_token_id=tok.bos_token_id,
            eos_token_id=tok.eos_token_id,
        )
    )
    levels = len(channels)
    unet = UNet2DConditionModel(
        sample_size=image_size,
        in_channels=3,
        out_channels=3,
        layers_per_block=1,
        block_out_channels=tuple(channels),
        down_block_types=("DownBlock2D", *["CrossAttnDownBlock2D"] * (levels - 1)),
        up_block_types=(*["CrossAttnUpBlock2D"] * (levels - 1), "UpBlock2D"),
        cross_attention_dim=hidden,
        attention_head_dim=8,
        norm_num_groups=8,
        addition_embed_type="text" if pooled_text else None,
        addition_embed_type_num_heads=4,
    )
    scheduler = DDPMScheduler(
        num_train_timesteps=1000,
        beta_schedule="squaredcos_cap_v2",
        prediction_type="epsilon",
        clip_sample=True,
    )
    pipe = _pipeline_class()(unet=unet, scheduler=scheduler, text_encoder=text_encoder, tokenizer=tok)
    with atomic_dir(out_dir) as staging:
        pipe.save_pretrained(staging)
    return Path(out_dir)
