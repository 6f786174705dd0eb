"""Models named by hub id, checked before any work: cached, or reachable, or a clear error.

A run that names ``org/name`` for a model it cannot get would otherwise fail with a raw ``OSError``
after its first stages. :func:`check_hub_model` runs when the config loads: a hub id whose files are
in the local Hugging Face cache passes (``huggingface_hub.try_to_load_from_cache``), as does one the hub
answers for; otherwise the run stops at once naming the field, the id and what to do (a local
directory, or the download command to run where there is internet). Aliases and local directories
are not hub ids and pass untouched (a missing local path is reported by the loader's own check).
"""

from __future__ import annotations

import os

from polyrlaif.core.models import MODEL_ALIASES, is_hub_id

__all__ = ["MARKER_FILES", "check_hub_model", "is_cached"]

#: A repository is in the cache when one of these is: a transformers model, or a diffusers pipeline.
MARKER_FILES = ("config.json", "model_index.json")


def is_cached(repo_id: str) -> bool:
    """True when the local Hugging Face cache holds the repository's config (or pipeline index)."""
    from huggingface_hub import try_to_load_from_cache

    return any(isinstance(try_to_load_from_cache(repo_id, name), str) for name in MARKER_FILES)


def _reachable(repo_id: str) -> str | None:
    """``None`` when the hub knows ``repo_id``, else why not (offline, unreachable, not found)."""
    if os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes"):
        return "HF_HUB_OFFLINE is set"
    from huggingface_hub import HfApi

    try:
        HfApi().model_info(repo_id, timeout=10)
    except Exception as exc:  # noqa: BLE001 - any failure to reach it is the answer
        return f"the hub did not answer ({type(exc).__name__}: {str(exc).splitlines()[0][:160]})"
    return None


def check_hub_model(name_or_path: str, field: str, where: str = "config") -> None:
    """Stop now if ``name_or_path`` is a hub id that is neither cached nor reachable.

    Raises:
        ValueError: naming the file, the field, the id, and a local directory or download command.
    """
    if name_or_path in MODEL_ALIASES or os.path.isdir(os.path.expanduser(name_or_path)):
        return
    if not is_hub_id(name_or_path) or is_cached(name_or_path):
        return
    why = _reachable(name_or_path)
    if why is None:
        return
    folder = name_or_path.split("/")[-1]
    raise ValueError(
        f"{where}: invalid config at field {field!r}: {name_or_path!r} is not in the local Hugging Face "
        f"cache and {why}. Give a local directory instead ({field}=/path/to/{folder}), or download it "
        f"where there is internet: huggingface-cli download {name_or_path} --local-dir {folder}"
    )
