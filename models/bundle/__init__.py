"""Model bundles: the typed manifest (:mod:`models.bundle.manifest`, no torch) and reading/writing them
(:mod:`models.bundle.io`). Nothing is imported here, so reading a manifest never pulls in torch."""
