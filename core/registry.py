"""Lazy registries: names map to ``"module:attr"`` strings imported on first use.

Domains come from the entry-point group ``polyrlaif.domains``, so a third-party package registers a
domain with one line in its own ``pyproject.toml``. Trainers and judge backends live in small
registries here that domains may extend with :meth:`Registry.register`.
"""

from __future__ import annotations

import importlib
from importlib.metadata import entry_points
from typing import Any

from polyrlaif.core.protocols import Domain

__all__ = [
    "JUDGE_BACKENDS",
    "RECIPES",
    "Registry",
    "TRAINERS",
    "get_benchmark",
    "get_domain",
    "list_domains",
    "load_object",
]

ENTRY_POINT_GROUP = "polyrlaif.domains"


def load_object(target: str) -> Any:
    """Import ``"package.module:attr"`` and return the attribute."""
    module_name, _, attr = target.partition(":")
    if not attr:
        raise ValueError(f"expected 'module:attr', got {target!r}")
    obj: Any = importlib.import_module(module_name)
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj


class Registry:
    """A name -> ``"module:attr"`` mapping with a helpful error for unknown names."""

    def __init__(self, kind: str, entries: dict[str, str] | None = None) -> None:
        self.kind = kind
        self._entries: dict[str, str] = dict(entries or {})

    def register(self, name: str, target: str) -> None:
        """Add or replace an entry."""
        self._entries[name] = target

    def names(self) -> list[str]:
        """Registered names, sorted."""
        return sorted(self._entries)

    def get(self, name: str) -> Any:
        """Import and return the object registered as ``name``."""
        if name not in self._entries:
            raise KeyError(f"unknown {self.kind} {name!r}; valid: {', '.join(self.names()) or '(none)'}")
        return load_object(self._entries[name])


#: Every trainer, built as ``Cls(cfg)`` (:mod:`polyrlaif.core.trainers.base`). Preference backends are
#: chosen by ``optim.backend``, online RL by ``rl.algorithm``, the reward model by name
#: (``build_trainer(cfg, "reward_model")``, which trains a vision reward model when the pairs' prompts
#: carry images or video; ``vision_reward_model`` names that one directly).
TRAINERS = Registry(
    "trainer",
    {
        "trl": "polyrlaif.core.trainers.trl_dpo:TRLDPOTrainer",
        "fast": "polyrlaif.core.trainers.fast_dpo:FastDPOTrainer",
        "diffusion_dpo": "polyrlaif.core.trainers.diffusion_dpo:DiffusionDPOTrainer",
        "grpo": "polyrlaif.core.trainers.trl_grpo:OnlineRLTrainer",
        "rloo": "polyrlaif.core.trainers.trl_grpo:OnlineRLTrainer",
        "reward_model": "polyrlaif.core.trainers.reward_model:RewardModelTrainer",
        "vision_reward_model": "polyrlaif.core.trainers.vision_reward:VisionRewardModelTrainer",
    },
)

#: Training recipes by ``run.mode`` (:mod:`polyrlaif.core.recipes`): ``run(cfg) -> history``.
RECIPES = Registry(
    "recipe",
    {
        "preference": "polyrlaif.core.recipes.preference:run",
        "online": "polyrlaif.core.recipes.online:run",
        "pairs": "polyrlaif.core.recipes.pairs:run",
    },
)

#: Judge model backends.
JUDGE_BACKENDS = Registry(
    "judge backend",
    {
        "transformers": "polyrlaif.core.judges.backends:TransformersBackend",
        "openai": "polyrlaif.core.judges.openai_backend:OpenAIBackend",
        "transformers_vlm": "polyrlaif.core.judges.vlm_backend:VisionTransformersBackend",
        # a sentence encoder, for the similarity judge mode only (core/judges/similarity.py)
        "sentence_transformers": "polyrlaif.core.text_encoder:TextEncoder",
    },
)


def _domain_entry_points() -> dict[str, Any]:
    return {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}


def list_domains() -> list[str]:
    """Names of all installed domains (reads metadata only; imports nothing)."""
    return sorted(_domain_entry_points())


def get_domain(name: str) -> Domain:
    """Load the :class:`Domain` registered under ``name``.

    Raises:
        KeyError: listing the valid names when ``name`` is unknown.
    """
    eps = _domain_entry_points()
    if name not in eps:
        raise KeyError(f"unknown domain {name!r}; valid: {', '.join(sorted(eps)) or '(none installed)'}")
    domain = eps[name].load()
    if callable(domain) and not isinstance(domain, Domain):
        domain = domain()
    if not isinstance(domain, Domain):
        raise TypeError(f"entry point {name!r} gave {type(domain).__name__}, expected polyrlaif.core.Domain")
    return domain


def get_benchmark(domain: Domain, name: str) -> Any:
    """Load the evaluator class ``name`` of ``domain``, listing valid names when unknown."""
    if name not in domain.benchmarks:
        valid = ", ".join(sorted(domain.benchmarks)) or "(none)"
        raise KeyError(f"unknown benchmark {name!r} for domain {domain.name!r}; valid: {valid}")
    return load_object(domain.benchmarks[name])
