"""The `search_agent` domain: a tool-using research agent (PokeeResearch / ReSeek style).

So far: the corpus reader (``corpus``), the sentence encoder (``encoder``), BM25, dense and hybrid
retrievers with persisted indexes (``retrieval``), the ``search``/``read`` tools an agent calls
(``tools``), the QA benchmark over a predictions file (``benchmarks``; metrics in
:mod:`polyrlaif.evaluation.qa`), and the agent loop (``agent``, ``actions``): batched multi-turn
rollouts with PokeeResearch's verification mode and ReSeek's JUDGE action, recorded in full; and the
rewards (``rewards``): EM, F1, format, an LLM answer judge, citation faithfulness, ReSeek's JUDGE
reward and their weighted combination. GRPO training and the domain's registration come next.
"""
