"""Training a bundle (``fma-model train``, ``grid``): the loop and the pieces beside it."""
