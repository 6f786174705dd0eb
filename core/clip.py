"""A domain-free open_clip toolkit: load a CLIP, embed images and texts, train a tiny one from scratch.

Three sources of a model, all through :func:`load_clip`:

* an open_clip architecture and pretrained tag (``load_clip("ViT-B-32", "openai")``), downloaded by
  open_clip on first use, or the same architecture with a local weights file
  (``load_clip("ViT-B-32", "/ckpt/model.pt")``: a state dict saved with ``torch.save`` or safetensors);
* an architecture of one's own as an open_clip config JSON (``embed_dim`` / ``vision_cfg`` /
  ``text_cfg``), registered under its file stem (``load_clip("cfg/tiny.json", "tiny.pt")``), or as a dict
  registered by :func:`register_clip_config`;
* a directory written by :func:`train_clip` (``open_clip_config.json``, ``open_clip_model.safetensors``
  and ``train_clip.json``), which open_clip itself also loads as ``local-dir:<path>``.

:func:`train_clip` trains a small CLIP contrastively on (image, caption) rows for worlds where no
pretrained CLIP can be downloaded (synthetic worlds, tests). Where several rows share a caption ("a red
square"), or an image has several captions, every true pair in a batch is a positive (soft targets)
rather than a false negative, as plain CLIP's diagonal targets would make it.

Nothing here imports torch or open_clip at module level.
"""

from __future__ import annotations

import copy
import hashlib
import json
import random
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from polyrlaif.core.io import atomic_dir
from polyrlaif.core.log import get_logger

__all__ = [
    "CONFIG_FILE",
    "METADATA_FILE",
    "TINY_CLIP_CFG",
    "WEIGHTS_FILE",
    "clip_cosines",
    "clip_embed_images",
    "clip_embed_texts",
    "load_clip",
    "register_clip_config",
    "train_clip",
]

log = get_logger(__name__)

#: open_clip's ``local-dir:`` file names, so a trained directory loads with open_clip alone.
CONFIG_FILE = "open_clip_config.json"
WEIGHTS_FILE = "open_clip_model.safetensors"
#: What :func:`train_clip` trained on and how (settings, rows, final loss, seconds).
METADATA_FILE = "train_clip.json"

#: A CLIP of about 1.7M parameters (most of it the 49408-token embedding of open_clip's BPE tokenizer).
TINY_CLIP_CFG: dict[str, Any] = {
    "embed_dim": 32,
    "vision_cfg": {"image_size": 32, "layers": 2, "width": 64, "head_width": 32, "patch_size": 8},
    "text_cfg": {"context_length": 16, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 2},
}

Image = Any  # a PIL image, or a path to one


def register_clip_config(cfg: dict[str, Any] | str | Path, name: str | None = None) -> str:
    """Make an architecture known to open_clip by name (in this process).

    Args:
        cfg: an open_clip model config dict, or the path of a JSON file holding one.
        name: the name to register a dict under (default: ``polyrlaif-<hash of the config>``); a file
            is registered under its stem.

    Returns:
        The name to pass to :func:`load_clip` or ``open_clip.create_model_and_transforms``.

    Raises:
        ValueError: the config lacks ``embed_dim``, ``vision_cfg`` or ``text_cfg``.
    """
    import open_clip

    if isinstance(cfg, (str, Path)):
        path = Path(cfg)
        data = json.loads(path.read_text(encoding="utf-8"))
    else:
        data = cfg
        text = json.dumps(cfg, sort_keys=True)
        name = name or f"polyrlaif-{hashlib.sha256(text.encode()).hexdigest()[:12]}"
        path = Path(tempfile.mkdtemp(prefix="polyrlaif-clip-")) / f"{name}.json"
        path.write_text(text, encoding="utf-8")
    missing = [k for k in ("embed_dim", "vision_cfg", "text_cfg") if k not in data]
    if missing:
        raise ValueError(f"{cfg if isinstance(cfg, (str, Path)) else 'config'}: not an open_clip config "
                         f"(missing {', '.join(missing)})")  # fmt: skip
    open_clip.add_model_config(path)
    return path.stem


def load_clip(arch: str, pretrained: str | None = None, *, device: str = "cpu") -> tuple[Any, Any, Any]:
    """Load an open_clip model in eval mode with its eval preprocessing and tokenizer.

    Args:
        arch: an open_clip name (``"ViT-B-32"``, ``"hf-hub:org/repo"``, ``"local-dir:<path>"``), a directory
            written by :func:`train_clip`, or an open_clip config JSON file (registered under its stem).
        pretrained: a pretrained tag of ``arch`` or a local weights file; ``None``: random weights (or the
            directory's own).
        device: ``"cpu"``, ``"cuda"``, ``"auto"`` ...

    Returns:
        ``(model, preprocess, tokenizer)``.

    Raises:
        FileNotFoundError: ``pretrained`` names a file path that does not exist.
        ValueError: ``pretrained`` given with a directory (its weights are the directory's own).
    """
    import open_clip

    from polyrlaif.core.models import pick_device

    name = arch
    if Path(arch).is_dir():
        if pretrained:
            raise ValueError(f"{arch} is a CLIP directory with its own weights; pretrained={pretrained!r}")
        name = f"local-dir:{Path(arch).resolve()}"
    elif arch.endswith(".json") and Path(arch).is_file():
        name = register_clip_config(arch)
    if pretrained and Path(pretrained).suffix in (".pt", ".pth", ".bin", ".safetensors", ".ckpt"):
        if not Path(pretrained).is_file():
            raise FileNotFoundError(f"CLIP weights file not found: {pretrained}")
    device = pick_device(device)
    model, _, preprocess = open_clip.create_model_and_transforms(name, pretrained=pretrained, device=device)
    return model.eval(), preprocess, open_clip.get_tokenizer(name)


def _device(model: Any) -> Any:
    return next(model.parameters()).device


def _pixels(preprocess: Callable[[Any], Any], image: Image) -> Any:
    from polyrlaif.core.media import load_image

    if isinstance(image, (str, Path)):
        image = load_image(image)
    return preprocess(image.convert("RGB") if image.mode != "RGB" else image)


def clip_embed_images(
    model: Any, preprocess: Callable[[Any], Any], images: Sequence[Image], *, batch_size: int = 64,
    normalize: bool = True,
) -> Any:  # fmt: skip
    """Embed images in batches, without gradients.

    Args:
        model: an open_clip model.
        preprocess: its eval transform.
        images: PIL images or image paths.
        batch_size: images per forward pass.
        normalize: unit-length embeddings (cosine geometry).

    Returns:
        A float32 CPU tensor ``[len(images), embed_dim]``.

    Raises:
        InputError: an image path is missing or not a readable image (naming it).
    """
    import torch

    out = [torch.zeros(0, model.visual.output_dim)]
    with torch.no_grad():
        for start in range(0, len(images), batch_size):
            batch = torch.stack([_pixels(preprocess, im) for im in images[start : start + batch_size]])
            out.append(model.encode_image(batch.to(_device(model)), normalize=normalize).float().cpu())
    return torch.cat(out)


def clip_embed_texts(
    model: Any, tokenizer: Callable[[list[str]], Any], texts: Sequence[str], *, batch_size: int = 64,
    normalize: bool = True,
) -> Any:  # fmt: skip
    """Embed texts in batches, without gradients (texts past the context length are truncated).

    Returns:
        A float32 CPU tensor ``[len(texts), embed_dim]``.
    """
    import torch

    out = []
    with torch.no_grad():
        for start in range(0, len(texts), batch_size):
            tokens = tokenizer(list(texts[start : start + batch_size])).to(_device(model))
            out.append(model.encode_text(tokens, normalize=normalize).float().cpu())
    return torch.cat(out) if out else torch.zeros(0, model.visual.output_dim)


def clip_cosines(
    model: Any, preprocess: Callable[[Any], Any], tokenizer: Callable[[list[str]], Any],
    image_paths: Sequence[Image], texts: Sequence[str], *, batch_size: int = 64,
) -> list[float]:  # fmt: skip
    """Cosine similarity of each (image, text) pair; a repeated image or text is embedded once.

    Raises:
        ValueError: ``image_paths`` and ``texts`` differ in length.
        InputError: an image is missing or unreadable.
    """
    if len(image_paths) != len(texts):
        raise ValueError(f"{len(image_paths)} images for {len(texts)} texts")
    keys = [im if isinstance(im, (str, Path)) else id(im) for im in image_paths]
    first = dict(zip(keys, image_paths, strict=True))  # key -> image, first occurrence order
    img_row = {k: i for i, k in enumerate(first)}
    txt_row = {t: i for i, t in enumerate(dict.fromkeys(texts))}
    img = clip_embed_images(model, preprocess, list(first.values()), batch_size=batch_size)
    txt = clip_embed_texts(model, tokenizer, list(txt_row), batch_size=batch_size)
    return [float(img[img_row[k]] @ txt[txt_row[t]]) for k, t in zip(keys, texts, strict=True)]


def _contrastive_loss(model: Any, pixels: Any, tokens: Any, positive: Any) -> Any:
    """Symmetric CLIP loss over a batch's distinct images and texts with soft multi-positive targets."""
    import torch.nn.functional as F

    img = model.encode_image(pixels, normalize=True)
    txt = model.encode_text(tokens, normalize=True)
    logits = model.logit_scale.exp() * img @ txt.T  # [images, texts]
    to_text = positive / positive.sum(1, keepdim=True)
    to_image = (positive / positive.sum(0, keepdim=True)).T
    return (F.cross_entropy(logits, to_text) + F.cross_entropy(logits.T, to_image)) / 2


def train_clip(
    rows: Sequence[tuple[str | Path, str]],
    out_dir: str | Path,
    *,
    cfg: dict[str, Any] | None = None,
    epochs: int = 30,
    lr: float = 1e-3,
    batch_size: int = 32,
    seed: int = 0,
    device: str = "cpu",
) -> Path:
    """Train an open_clip model from scratch on (image path, caption) rows and save it atomically.

    Resumable: a finished ``out_dir`` trained with the same settings and rows is returned as it is.

    Args:
        rows: ``(image path, caption)`` pairs; an image or a caption may appear in several rows, and
            every pair among a batch's rows is then a positive.
        out_dir: the directory to write (replaced only when training succeeded).
        cfg: open_clip model config; :data:`TINY_CLIP_CFG` when ``None``.
        epochs: passes over the rows.
        lr: AdamW learning rate.
        batch_size: rows per step.
        seed: seeds the initialisation and the batch order.
        device: where to train.

    Returns:
        ``out_dir``, loadable by :func:`load_clip` (and by open_clip as ``local-dir:<out_dir>``).

    Raises:
        ValueError: no rows, or ``out_dir`` holds a model trained with other settings or rows.
        InputError: an image is missing or unreadable (naming the row).
    """
    cfg = copy.deepcopy(cfg or TINY_CLIP_CFG)
    pairs = [(str(img), str(text)) for img, text in rows]
    if not pairs:
        raise ValueError("train_clip needs at least one (image, caption) row")
    settings = {
        "cfg": cfg, "epochs": epochs, "lr": lr, "batch_size": batch_size, "seed": seed,
        "rows_sha256": hashlib.sha256(json.dumps(pairs).encode()).hexdigest(),
    }  # fmt: skip
    out_dir = Path(out_dir)
    if (out_dir / METADATA_FILE).is_file():
        done = json.loads((out_dir / METADATA_FILE).read_text(encoding="utf-8"))["settings"]
        if done == json.loads(json.dumps(settings)):
            log.info(f"{out_dir}: trained earlier with the same settings, skipped")
            return out_dir
        changed = sorted(k for k in settings if done.get(k) != settings[k])
        raise ValueError(f"{out_dir} holds a CLIP trained with other {changed}; remove it or pick another")

    import open_clip
    import torch
    from safetensors.torch import save_file
    from tqdm.auto import tqdm

    from polyrlaif.core.media import load_image

    started = time.perf_counter()
    torch.manual_seed(seed)
    model = open_clip.CLIP(**cfg).to(device)
    size = cfg["vision_cfg"]["image_size"]
    preprocess = open_clip.image_transform(size, is_train=False)
    tokenizer = open_clip.get_tokenizer("", context_length=cfg["text_cfg"]["context_length"])
    first_row = {img: i for i, (img, _) in reversed(list(enumerate(pairs)))}  # image -> first row naming it
    pixels = {img: preprocess(load_image(img, where=f"train_clip row {i}")) for img, i in first_row.items()}
    true_pairs = set(pairs)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    rng = random.Random(seed)
    losses: list[float] = []
    model.train()
    steps = epochs * -(-len(pairs) // batch_size)
    with tqdm(total=steps, desc="train clip", unit="step") as bar:
        for _ in range(epochs):
            order = list(pairs)
            rng.shuffle(order)
            for start in range(0, len(order), batch_size):
                batch = order[start : start + batch_size]
                imgs = list(dict.fromkeys(i for i, _ in batch))
                txts = list(dict.fromkeys(t for _, t in batch))
                # every true pair among the batch's images and texts is a positive, not only the row's own
                positive = torch.tensor([[float((i, t) in true_pairs) for t in txts] for i in imgs])
                batch_pixels = torch.stack([pixels[i] for i in imgs]).to(device)
                loss = _contrastive_loss(model, batch_pixels, tokenizer(txts).to(device), positive.to(device))
                opt.zero_grad()
                loss.backward()
                opt.step()
                with torch.no_grad():
                    model.logit_scale.clamp_(0, 4.6052)  # CLIP's cap: a logit scale of at most 100
                losses.append(float(loss.detach()))
                bar.update(1)
                bar.set_postfix(loss=f"{losses[-1]:.3f}")

    with atomic_dir(out_dir) as staging:
        preprocess_cfg = {
            "size": size,
            "mean": list(open_clip.OPENAI_DATASET_MEAN),
            "std": list(open_clip.OPENAI_DATASET_STD),
        }
        config = {"model_cfg": cfg, "preprocess_cfg": preprocess_cfg}
        (staging / CONFIG_FILE).write_text(json.dumps(config, indent=2), encoding="utf-8")
        state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
        save_file(state, str(staging / WEIGHTS_FILE))
        metadata = {
            "settings": settings,
            "rows": len(pairs),
            "images": len(pixels),
            "captions": len({t for _, t in pairs}),
            "steps": len(losses),
            "final_loss": sum(losses[-5:]) / len(losses[-5:]),  # smoothed over the last steps
            "seconds": round(time.perf_counter() - started, 3),
        }
        (staging / METADATA_FILE).write_text(json.dumps(metadata, indent=2), encoding="utf-8")
    log.info(f"{out_dir}: {len(pairs)} rows, {len(losses)} steps, final loss {metadata['final_loss']:.4f}")
    return out_dir
