"""The errors that mean "bad input from the user", as opposed to a bug.

The CLI prints these as one line and exits 2; anything else keeps its traceback.
Every module raises its own subclass of :class:`ValueError` or :class:`OSError`
with a message that names the file, line or node involved.
"""

from __future__ import annotations

from models.bundle.manifest import BundleError
from models.data.manifest import DataError
from models.imageio import ImageLoadError
from models.nn.config import PretrainedFileError
from models.taxonomy import TaxonomyError
from models.training.config import ConfigError
from models.training.spectrum import SpectrumTrainingError
from models.training.tune import TuneError

USER_ERRORS: tuple[type[BaseException], ...] = (
    BundleError,
    ConfigError,
    DataError,
    ImageLoadError,
    PretrainedFileError,
    SpectrumTrainingError,
    TaxonomyError,
    TuneError,
    FileNotFoundError,
    PermissionError,
    IsADirectoryError,
    NotADirectoryError,  # (an --out under a file)
    FileExistsError,  # (an --out that is a file where a folder is made)
)
