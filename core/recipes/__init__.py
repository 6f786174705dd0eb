"""Recipes: one training loop per ``run.mode``, each reading top to bottom like a torchtune recipe.

    setup -> prepare (preparation stages) -> round 0 (evaluate the starting policy) -> rounds -> finish

- ``preference`` (:mod:`.preference`): offline rounds of sample -> verify -> judge -> pairs -> update.
- ``online`` (:mod:`.online`): GRPO or RLOO against the domain's rewards.
- ``pairs`` (:mod:`.pairs`): preference optimisation on a pairs file the user brings.

Recipes share the public run kit (:mod:`polyrlaif.core.run`) and never import each other. The command
line picks one through :data:`polyrlaif.core.registry.RECIPES`, a lazy registry keyed by ``run.mode``.
"""

__all__: list[str] = []
