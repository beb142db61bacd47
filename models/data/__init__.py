"""Data: manifests (the one CSV reader and writer), splits, curation, transforms and the synthetic generator."""
