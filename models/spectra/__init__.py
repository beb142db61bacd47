"""FTIR spectra beside the defect images (issue #20): reading and normalising files, matching them to images.

No Qt and no SQL here: the store keeps a :class:`Spectrum` by its content hash (``app.store.repo.spectra``), the app
shows it.
"""

from models.spectra.matching import is_jcamp, is_spectrum_candidate, match_spectra
from models.spectra.reading import (
    KINDS,
    SPECTRUM_SUFFIXES,
    Spectrum,
    SpectrumError,
    parse_spectrum,
    read_spectra,
    read_spectrum,
    read_spectrum_bytes,
)

__all__ = [
    "KINDS",
    "SPECTRUM_SUFFIXES",
    "Spectrum",
    "SpectrumError",
    "is_jcamp",
    "is_spectrum_candidate",
    "match_spectra",
    "parse_spectrum",
    "read_spectra",
    "read_spectrum",
    "read_spectrum_bytes",
]
