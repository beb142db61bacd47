"""fma-judge desktop application (PySide6) and its store."""
