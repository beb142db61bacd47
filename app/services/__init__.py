"""Services over the store and the model, no Qt: predicting, batches, the batch presenter, judging, queue,
similar cases, dashboard. The UI and the headless commands call these; they never import PySide6."""
