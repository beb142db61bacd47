"""Evaluating bundles: metrics, reports, side-by-side comparison and the heatmap pointing game."""
