"""The `search_agent` domain: a tool-using research agent (PokeeResearch / ReSeek style).

So far: the corpus reader (``corpus``), the sentence encoder (``encoder``), BM25, dense and hybrid
retrievers with persisted indexes (``retrieval``), the ``search``/``read`` tools an agent calls
(``tools``), the QA benchmark over a predictions file (``benchmarks``; metrics in
:mod:`polyrlaif.evaluation.qa`), and the agent loop (``agent``, ``actions``): batched multi-turn
rollouts with PokeeResearch's verification mode and ReSeek's JUDGE action, recorded in full; and the
rewards (``rewards``): EM, F1, format, an LLM answer judge, citation faithfulness, ReSeek's JUDGE
reward and their weighted combination; and the bridge to online RL (``rollout``): TRL's GRPO
``rollout_func`` running the agent loop, with the observation tokens masked out of the loss
(:func:`polyrlaif.core.trainers.trl_grpo.grpo_train`). The domain's registration, its training
command and the SmolLM2 demo come next.
"""
