"""The errors that mean "bad input from the user", as opposed to a bug.

The CLI prints these as one line and exits 2; anything else keeps its traceback.
Every module raises its own subclass of :class:`ValueError` or :class:`OSError`
with a message that names the file, line or node involved.
"""

from __future__ import annotations

import sys

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
    """The user-error types of the modules the command has imported (an error of a module never imported cannot have
    been raised): the training modules import torch, which the workstation install lacks, and `fma-model info`
    there failed for want of them ("needs torch") though it reads a manifest only; importing them all up front made
    `info` take 2.7 s where torch is installed. Looked up at an exception, with no new import."""
    found: list[type[BaseException]] = []
    for module, name in _RAISED_BY:
        if (loaded := sys.modules.get(module)) is not None:
            found.append(getattr(loaded, name))
    return (*found,
            FileNotFoundError,
            PermissionError,
            IsADirectoryError,
            NotADirectoryError,  # (an --out under a file)
            FileExistsError)  # (an --out that is a file where a folder is made)
