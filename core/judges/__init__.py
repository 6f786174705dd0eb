"""Judge layer: backends, cache, pointwise / pairwise / yes-no modes, reward callables."""
