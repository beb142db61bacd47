"""Running a bundle: the Predictor, its typed records, inference engines and heatmaps."""
