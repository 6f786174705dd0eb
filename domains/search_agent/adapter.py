"""Policy building for the `search_agent` domain: a chat causal LM (an alias, hub id or local path)."""

from __future__ import annotations

from polyrlaif.core.policy import CAUSAL_LM_ADAPTER, CausalLMAdapter

__all__ = ["ADAPTER"]

#: Loads :class:`~polyrlaif.core.policy.CausalLMPolicy` for training rounds and ``eval --model`` alike.
ADAPTER: CausalLMAdapter = CAUSAL_LM_ADAPTER
