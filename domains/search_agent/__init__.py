"""The `search_agent` domain: a tool-using research agent (PokeeResearch / ReSeek style).

So far: the corpus reader (``corpus``), the sentence encoder (``encoder``), BM25, dense and hybrid
retrievers with persisted indexes (``retrieval``), the ``search``/``read`` tools an agent calls
(``tools``) and the QA benchmark over a predictions file (``benchmarks``; metrics in
:mod:`polyrlaif.evaluation.qa`). The agent loop, rewards and the domain's registration come next.
"""
