"""The errors that mean "bad input from the user", as opposed to a bug.

The CLI prints these as one line and exits 2; anything else keeps its traceback.
Every module raises its own subclass of :class:`ValueError` or :class:`OSError`
with a message that names the file, line or node involved.
"""

from __future__ import annotations

import importlib

_RAISED_BY: tuple[tuple[str, str], ...] = (
    ("models.bundle.manifest", "BundleError"),
    ("models.training.config", "ConfigError"),
    ("models.data.manifest", "DataError"),
    ("models.imageio", "ImageLoadError"),
    ("models.nn.config", "PretrainedFileError"),
    ("models.training.spectrum", "SpectrumTrainingError"),
    ("models.taxonomy", "TaxonomyError"),
    ("models.training.tune", "TuneError"),
)


def user_errors() -> tuple[type[BaseException], ...]:
    """The user-error types, of the modules this install has: the training modules import torch, which the
    workstation install lacks, and `fma-model info` there failed for want of them ("needs torch") though it reads
    a manifest only; an error of a module that cannot be imported cannot have been raised."""
    found: list[type[BaseException]] = []
    for module, name in _RAISED_BY:
        try:
            found.append(getattr(importlib.import_module(module), name))
        except ImportError:
            continue
    return (*found,
            FileNotFoundError,
            PermissionError,
            IsADirectoryError,
            NotADirectoryError,  # (an --out under a file)
            FileExistsError)  # (an --out that is a file where a folder is made)
