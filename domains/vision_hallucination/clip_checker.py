"""An open_clip claim checker: the cheap first stage of the divide-and-conquer judge's cascade.

``p_true(image, claim) = sigmoid(a * cos(image embedding, claim embedding) + b)``. The calibration
``(a, b)`` turns CLIP's cosine into a probability; it is fitted by logistic regression on labelled
(image, claim, true/false) rows (:meth:`OpenClipChecker.calibrate`, or the trainer in
:mod:`polyrlaif.domains.vision_hallucination.clip_train`, which writes it next to the weights).

Two sources of a model:

* a hub model by open_clip name and pretrained tag (``OpenClipChecker("ViT-B-32", "laion2b_s34b_b79k")``),
  downloaded by open_clip on first use. Its default calibration is a rough guess for CLIP-style
  cosines; calibrate it on a few hundred labelled rows before trusting its band.
* a directory written by :func:`~polyrlaif.domains.vision_hallucination.clip_train.train_clip_checker`:
  ``open_clip_config.json`` (open_clip's ``local-dir:`` format), ``open_clip_model.safetensors`` and
  ``calibration.json`` (``a``, ``b``, ``weights_sha256`` and the fit's metrics).

The model loads on the first call, not at construction. An image that cannot be read gives ``None``
(the cascade then escalates the claim to the labeler).
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from polyrlaif.core.clip import CONFIG_FILE, WEIGHTS_FILE

__all__ = ["CALIBRATION_FILE", "CONFIG_FILE", "WEIGHTS_FILE", "OpenClipChecker"]

CALIBRATION_FILE = "calibration.json"  # beside the core's CLIP files (open_clip's local-dir names)

# Uncalibrated hub models: p = 0.5 at cosine 0.25, about 0.92 at 0.30 and 0.08 at 0.20, which is
# where matching and non-matching captions of OpenAI-style CLIP models tend to fall.
DEFAULT_A = 50.0
DEFAULT_B = -12.5


def file_sha256(path: str | Path) -> str:
    """SHA-256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x)) if x >= 0 else math.exp(x) / (1.0 + math.exp(x))


class OpenClipChecker:
    """p(claim is true | image) from an open_clip model and a logistic calibration of its cosine.

    Implements :class:`~polyrlaif.domains.vision_hallucination.judge.ClaimChecker`.

    Args:
        name: an open_clip model name (``"ViT-B-32"``, ``"hf-hub:org/repo"``), or ``local-dir:<path>``.
        pretrained: the pretrained tag or weights file for a plain model name.
        a: calibration slope.
        b: calibration intercept.
        device: ``"auto"``, ``"cpu"``, ``"cuda"`` ...
        batch_size: images or texts per forward pass.
        cache_dir: where open_clip keeps downloaded weights.
        fingerprint: what identifies the weights in ``checker_id`` (default: name and tag).
    """

    def __init__(
        self,
        name: str,
        pretrained: str | None = None,
        *,
        a: float = DEFAULT_A,
        b: float = DEFAULT_B,
        device: str = "auto",
        batch_size: int = 64,
        cache_dir: str | None = None,
        fingerprint: str | None = None,
    ) -> None:
        self.name = name
        self.pretrained = pretrained
        self.a, self.b = float(a), float(b)
        self.device = device
        self.batch_size = max(1, batch_size)
        self.cache_dir = cache_dir
        self.fingerprint = fingerprint or f"{name}:{pretrained}"
        self._model: Any = None
        self._preprocess: Any = None
        self._tokenizer: Any = None

    @property
    def checker_id(self) -> str:
        """``open_clip:<weights>:a=<a>:b=<b>``: changes with the weights or the calibration."""
        return f"open_clip:{self.fingerprint}:a={self.a:.6g}:b={self.b:.6g}"

    # ------------------------------------------------------------------ construction

    @classmethod
    def from_dir(cls, path: str | Path, **kwargs: Any) -> OpenClipChecker:
        """A checker from a directory written by ``train_clip_checker``.

        Raises:
            FileNotFoundError: the directory lacks the config, the weights or the calibration.
        """
        path = Path(path)
        for fname in (CONFIG_FILE, WEIGHTS_FILE, CALIBRATION_FILE):
            if not (path / fname).is_file():
                raise FileNotFoundError(f"{path}: not an open_clip checker directory (no {fname})")
        cal = json.loads((path / CALIBRATION_FILE).read_text())
        sha = cal.get("weights_sha256") or file_sha256(path / WEIGHTS_FILE)
        return cls(f"local-dir:{path}", a=cal["a"], b=cal["b"], fingerprint=f"dir:{sha[:16]}", **kwargs)

    @classmethod
    def load(cls, spec: str, **kwargs: Any) -> OpenClipChecker:
        """A checker from one string: a trained directory, ``NAME:TAG`` (``ViT-B-32:laion2b_s34b_b79k``),
        ``hf-hub:org/repo``, or a bare open_clip ``NAME`` (random weights unless it is a hub repo)."""
        if Path(spec).is_dir():
            return cls.from_dir(spec, **kwargs)
        if spec.startswith(("hf-hub:", "local-dir:")) or ":" not in spec:
            return cls(spec, **kwargs)
        name, tag = spec.split(":", 1)
        return cls(name, tag, **kwargs)

    @classmethod
    def from_model(
        cls, model: Any, preprocess: Any, tokenizer: Any, *, fingerprint: str, a: float = 1.0, b: float = 0.0
    ) -> OpenClipChecker:
        """Wrap an open_clip model already in memory (the trainer calibrates through this)."""
        checker = cls("in-memory", a=a, b=b, fingerprint=fingerprint)
        checker._model, checker._preprocess, checker._tokenizer = model.eval(), preprocess, tokenizer
        checker.device = str(next(model.parameters()).device)
        return checker

    def _ensure_loaded(self) -> None:
        if self._model is not None:
            return
        import open_clip

        from polyrlaif.core.models import pick_device

        self.device = pick_device(self.device)
        model, _, preprocess = open_clip.create_model_and_transforms(
            self.name, pretrained=self.pretrained, device=self.device, cache_dir=self.cache_dir
        )
        self._model, self._preprocess = model.eval(), preprocess
        self._tokenizer = open_clip.get_tokenizer(self.name, cache_dir=self.cache_dir)

    # ------------------------------------------------------------------ scoring

    def _image_tensor(self, path: str) -> Any | None:
        from PIL import Image

        if not path:
            return None
        try:
            with Image.open(path) as img:
                return self._preprocess(img.convert("RGB"))
        except Exception:  # missing, truncated or not an image: the cascade escalates it
            return None

    def _embed(self, items: list[Any], encode: Any) -> Any:
        import torch

        out = []
        for start in range(0, len(items), self.batch_size):
            batch = items[start : start + self.batch_size]
            x = torch.stack(batch) if isinstance(batch[0], torch.Tensor) else self._tokenizer(batch)
            out.append(encode(x.to(self.device), normalize=True).float())
        return torch.cat(out)

    def cosines(self, images: Sequence[str], claims: Sequence[str]) -> list[float | None]:
        """Cosine similarity of each (image path, claim text) pair; ``None`` for an unreadable image.

        Raises:
            ValueError: ``images`` and ``claims`` differ in length.
        """
        import torch

        if len(images) != len(claims):
            raise ValueError(f"{len(images)} images for {len(claims)} claims")
        if not claims:
            return []
        self._ensure_loaded()
        pixels = {p: self._image_tensor(p) for p in dict.fromkeys(images)}
        ok_paths = [p for p, t in pixels.items() if t is not None]
        texts = list(dict.fromkeys(claims))
        with torch.no_grad():
            t_emb = self._embed(texts, self._model.encode_text)
            i_emb = self._embed([pixels[p] for p in ok_paths], self._model.encode_image) if ok_paths else None
        t_row = {t: k for k, t in enumerate(texts)}
        i_row = {p: k for k, p in enumerate(ok_paths)}
        out: list[float | None] = []
        for path, claim in zip(images, claims, strict=True):
            if path not in i_row:
                out.append(None)
            else:
                out.append(float(i_emb[i_row[path]] @ t_emb[t_row[claim]]))
        return out

    def p_true(self, images: Sequence[str], claims: Sequence[str]) -> list[float | None]:
        """``sigmoid(a * cos + b)`` per (image path, claim text); ``None`` where the image is unreadable."""
        return [None if c is None else _sigmoid(self.a * c + self.b) for c in self.cosines(images, claims)]

    def calibrate(
        self, images: Sequence[str], claims: Sequence[str], labels: Sequence[bool], *, steps: int = 300
    ) -> dict[str, float]:
        """Refit ``(a, b)`` by logistic regression on labelled rows (unreadable images are skipped).

        Returns:
            The fit's metrics (see :func:`.clip_train.fit_calibration`).
        """
        from polyrlaif.domains.vision_hallucination.clip_train import fit_calibration

        cos = self.cosines(images, claims)
        rows = [(c, bool(y)) for c, y in zip(cos, labels, strict=True) if c is not None]
        self.a, self.b, metrics = fit_calibration([c for c, _ in rows], [y for _, y in rows], steps=steps)
        return metrics
