"""The `search_agent` domain: a tool-using research agent trained by online RL from AI feedback
(PokeeResearch / ReSeek).

The parts: the corpus (``corpus``), the sentence encoder (``encoder``), BM25, dense and hybrid
retrievers (``retrieval``) with persisted indexes (``index``), the ``search``/``read`` tools
(``tools``), the questions and tools a run uses (``data``), the agent loop (``agent``, ``actions``)
with PokeeResearch's verification mode and ReSeek's JUDGE action, the texts the agent and its judges
are shown (``prompts``), the rewards (``verifier``: EM, F1, format; ``judge``: the LLM-judged ones;
``rewards``: ReSeek's JUDGE reward and the weighted combination), the sampler: GRPO rollouts with
observation tokens masked out of the loss (``sampler``), the online task the run loop trains on
(``online``, ``build``), the expert warm start (``expert``), the generated world as a preparation
stage (``world``), and the QA benchmark (``benchmarks``).
"""

from polyrlaif.core.protocols import Domain

DOMAIN = Domain(
    name="search_agent",
    description="Tool-using research agent (PokeeResearch/ReSeek): search+read tools, GRPO on judged rewards",
    config="polyrlaif.domains.search_agent.config:SearchAgentConfig",
    adapter="polyrlaif.domains.search_agent.adapter:ADAPTER",
    build="polyrlaif.domains.search_agent.build:build",
    stages="polyrlaif.domains.search_agent.build:stages",
    benchmarks={"qa": "polyrlaif.domains.search_agent.benchmarks:QAEvaluator"},
)

__all__ = ["DOMAIN"]
