"""Policy building for the `code` domain: a chat causal LM from the core."""

from __future__ import annotations

from typing import Any

from polyrlaif.core.protocols import Policy

__all__ = ["CodePolicyAdapter", "ADAPTER"]


class CodePolicyAdapter:
    """Loads any causal LM that transformers can load (alias, hub id or local path) as the policy."""

    def load(self, model: str, **kwargs: Any) -> Policy:
        """Build a :class:`~polyrlaif.core.policy.CausalLMPolicy` for sampling and evaluation."""
        from polyrlaif.core.policy import CausalLMPolicy

        return CausalLMPolicy(model, **kwargs)


ADAPTER = CodePolicyAdapter()
