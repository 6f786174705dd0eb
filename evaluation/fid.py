"""Fréchet distance between two folders of images, with Inception features or features of one's own.

The statistics (mean and covariance of the features) and the Fréchet distance between the two Gaussians
are torch-fidelity's (``fid_features_to_statistics``, ``fid_statistics_to_metric``); only the features
can come from elsewhere:

* ``extractor="inception"``: torch-fidelity's own FID end to end (its Inception-v3 port, the standard
  numbers). It downloads the Inception weights on first use, so it needs internet once.
* ``extractor=<callable>``: a function from a list of PIL images to a ``[n, d]`` tensor or array, e.g. a
  CLIP image encoder trained in a synthetic world (``lambda ims: clip_embed_images(model, pre, ims)``),
  for worlds with no download. Such a distance is comparable only with others under the same extractor.

A folder's images are its ``.png``, ``.jpg`` and ``.jpeg`` files (not its subfolders), as torch-fidelity
finds them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from polyrlaif.core.io import InputError

__all__ = ["IMAGE_SUFFIXES", "FeatureExtractor", "fid", "folder_features", "image_files"]

#: The image files a folder contributes (torch-fidelity's default ``samples_find_ext``).
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")

#: ``(PIL RGB images) -> [n, d]`` features (a torch tensor or anything ``numpy.asarray`` takes).
FeatureExtractor = Callable[[Sequence[Any]], Any]


def image_files(folder: str | Path) -> list[Path]:
    """The folder's image files, sorted.

    Raises:
        InputError: not a folder.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"{folder}: not a folder of images")
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def folder_features(folder: str | Path, extractor: FeatureExtractor, *, batch_size: int = 64) -> Any:
    """Features of a folder's images, extracted batch by batch.

    Returns:
        A float64 CPU tensor ``[n images, d]``.

    Raises:
        InputError: an unreadable image (naming it), or features that are not ``[batch, d]``.
    """
    import numpy as np
    import torch

    from polyrlaif.core.media import load_image

    files = image_files(folder)
    out = []
    for start in range(0, len(files), batch_size):
        batch = files[start : start + batch_size]
        feats = extractor([load_image(p) for p in batch])
        if not isinstance(feats, torch.Tensor):
            feats = torch.from_numpy(np.asarray(feats))
        feats = feats.detach().cpu()
        if feats.ndim != 2 or feats.shape[0] != len(batch):
            raise InputError(f"feature extractor gave shape {tuple(feats.shape)} for {len(batch)} images")
        out.append(feats.to(torch.float64))
    return torch.cat(out) if out else torch.zeros(0, 0, dtype=torch.float64)


def fid(
    folder_a: str | Path,
    folder_b: str | Path,
    *,
    extractor: str | FeatureExtractor = "inception",
    batch_size: int = 64,
    device: str = "auto",
) -> float:
    """Fréchet distance between the feature distributions of two folders of images (lower: closer).

    Args:
        folder_a: one folder of images.
        folder_b: the other.
        extractor: ``"inception"`` for torch-fidelity's standard FID (downloads its weights on first use),
            or a callable from a list of PIL images to ``[n, d]`` features.
        batch_size: images per extractor call.
        device: for ``"inception"``: ``"auto"`` (CUDA when available), ``"cpu"`` or ``"cuda"``.

    Returns:
        The distance; near 0 for two folders of the same images.

    Raises:
        InputError: a missing folder, an unreadable image, or fewer than two images in a folder (a
            covariance needs two).
        ValueError: an unknown extractor name.
    """
    from torch_fidelity.metric_fid import KEY_METRIC_FID, fid_features_to_statistics, fid_statistics_to_metric

    for folder in (folder_a, folder_b):
        if len(image_files(folder)) < 2:
            raise InputError(f"{folder}: FID needs at least two images ({', '.join(IMAGE_SUFFIXES)} files)")
    if isinstance(extractor, str):
        if extractor != "inception":
            raise ValueError(f"extractor must be 'inception' or a callable, got {extractor!r}")
        import torch_fidelity

        from polyrlaif.core.models import pick_device

        metrics = torch_fidelity.calculate_metrics(
            input1=str(folder_a), input2=str(folder_b), fid=True, batch_size=batch_size,
            cuda=pick_device(device).startswith("cuda"), cache=False, verbose=False,
        )  # fmt: skip
        return float(metrics[KEY_METRIC_FID])
    stats = []
    for folder in (folder_a, folder_b):
        feats = folder_features(folder, extractor, batch_size=batch_size)
        if feats.shape[1] < 2:
            raise InputError(f"FID needs features of at least two dimensions, got {feats.shape[1]}")
        stats.append(fid_features_to_statistics(feats))
    return float(fid_statistics_to_metric(stats[0], stats[1], verbose=False)[KEY_METRIC_FID])
