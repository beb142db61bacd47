"""FTIR spectra (``spectra``), which images they belong to (``image_spectra``) and the reference library
(``reference_spectra``), issue #20.

A spectrum is stored once, by the sha256 of its file, however many images or paths it is attached to; attaching is
idempotent (the same file attached again to the same image changes nothing but the path it was last seen at), and a
file measured again (new content at the same path) replaces its old spectrum on the image.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from app.store.records import JUDGED_STATUSES, SPECTRUM_ADDED, ReferenceRecord, SpectrumRecord
from app.store.repo._common import _batched, _insert_or_existing, _path_text
from app.store.schema import BatchImage, ImageSpectrum, Judgment, ModelVersion, Prediction, ReferenceSpectrum
from app.store.schema import Spectrum as SpectrumRow
from models.spectra import Spectrum


def add_spectrum(session: Session, spectrum: Spectrum) -> int:
    """The stored spectrum with this file's content hash, created on first sight; returns its id."""

    def lookup() -> SpectrumRow | None:
        return session.scalar(select(SpectrumRow).where(SpectrumRow.sha256 == spectrum.sha256))

    row = lookup()
    if row is None:
        first, last = spectrum.span
        row = _insert_or_existing(session, SpectrumRow(
            sha256=spectrum.sha256, name=spectrum.name[:255], format=spectrum.format, kind=spectrum.kind,
            title=spectrum.title or None, n_points=len(spectrum), first_cm1=first, last_cm1=last,
            data=spectrum.to_bytes()), lookup)
    return row.id


def known_spectrum(session: Session, sha256: str) -> int | None:
    """The id of the stored spectrum with this content hash, or None."""
    return session.scalar(select(SpectrumRow.id).where(SpectrumRow.sha256 == sha256))


def known_spectra(session: Session, sha256s: Iterable[str]) -> dict[str, int]:
    """``{content hash: id}`` of the stored spectra among these hashes."""
    out: dict[str, int] = {}
    for chunk in _batched(sorted(set(sha256s))):
        rows = session.execute(select(SpectrumRow.sha256, SpectrumRow.id).where(SpectrumRow.sha256.in_(chunk)))
        out.update((sha, spectrum_id) for sha, spectrum_id in rows)
    return out


def attach_spectrum(session: Session, image_id: int, spectrum_id: int, path: str) -> bool:
    """Record that the spectrum was measured on the image (its file at ``path``); idempotent.

    Returns:
        Whether the image's spectra changed (a new spectrum, or a file measured again). Its stored predictions are
        then marked :data:`app.store.records.SPECTRUM_ADDED`: stale, so the image is predicted again (with the
        spectrum, by a model with a spectrum head), unless someone decided it: a decided image is not predicted
        again, and its predictions keep the stamp of the calibration that routed them (the purity monitor and the
        dashboard read it).
    """
    where = _path_text(path)
    replaced = session.execute(delete(ImageSpectrum).where(  # a file measured again: its new spectrum replaces it
        ImageSpectrum.image_id == image_id, ImageSpectrum.path == where,
        ImageSpectrum.spectrum_id != spectrum_id)).rowcount
    link = session.get(ImageSpectrum, (image_id, spectrum_id))
    added = link is None
    if added:
        _insert_or_existing(session, ImageSpectrum(image_id=image_id, spectrum_id=spectrum_id, path=where),
                            lambda: session.get(ImageSpectrum, (image_id, spectrum_id)))
    elif link.path != where:
        link.path = where
    if (added or replaced) and not _decided(session, image_id):
        session.execute(update(Prediction).where(Prediction.image_id == image_id).values(calibration=SPECTRUM_ADDED))
    return bool(added or replaced)


def unlinked(session: Session, links: Iterable[tuple[int, int, str]]) -> set[tuple[int, int, str]]:
    """Those of ``(image id, spectrum id, file path)`` not recorded as they are (a new spectrum of the image, or its
    file now elsewhere): a folder opened again attaches only these, and writes nothing when nothing changed."""
    links = list(links)
    have: set[tuple[int, int, str]] = set()
    for chunk in _batched(sorted({image_id for image_id, _s, _p in links})):
        have.update((int(i), int(s), str(p)) for i, s, p in session.execute(
            select(ImageSpectrum.image_id, ImageSpectrum.spectrum_id, ImageSpectrum.path)
            .where(ImageSpectrum.image_id.in_(chunk))))
    return {(i, s, p) for i, s, p in links if (i, s, _path_text(p)) not in have}


def restale_before_spectra(session: Session, image_id: int) -> None:
    """An image waiting again (an undone decision): its predictions made before its newest spectrum was attached
    are marked :data:`app.store.records.SPECTRUM_ADDED`, as they would have been had it not been decided then."""
    newest = session.scalar(select(func.max(ImageSpectrum.attached_at)).where(ImageSpectrum.image_id == image_id))
    if newest is not None:
        session.execute(update(Prediction).where(Prediction.image_id == image_id, Prediction.created_at < newest)
                        .values(calibration=SPECTRUM_ADDED))


def marked_for_spectra(session: Session, image_id: int, model_version: str) -> bool:
    """Whether the image's prediction by ``model_version`` is marked :data:`app.store.records.SPECTRUM_ADDED` (made
    before a spectrum of the image was attached: it is to be predicted again)."""
    return session.scalar(
        select(Prediction.id).join(ModelVersion, ModelVersion.id == Prediction.model_version_id)
        .where(Prediction.image_id == image_id, ModelVersion.version == model_version,
               Prediction.calibration == SPECTRUM_ADDED).limit(1)) is not None


def mark_made_without(session: Session, made: Iterable[tuple[int, int]]) -> set[int]:
    """Of ``(image id, prediction id)``, predictions a model that fuses spectra just stored having fused none:
    those whose image has a spectrum now (attached while the model predicted it: a folder's spectra are stored once
    its images are registered) are marked :data:`app.store.records.SPECTRUM_ADDED`, unless the image is decided, as
    :func:`link_spectrum` marks the predictions made before; returns their images."""
    made = dict(made)
    late = {i for i in images_with_spectra(session, made) if not _decided(session, i)}
    if late:
        session.execute(update(Prediction).where(Prediction.id.in_([made[i] for i in late]))
                        .values(calibration=SPECTRUM_ADDED))
    return late


def _decided(session: Session, image_id: int) -> bool:
    """Whether the image's current (latest) judgment is a decision."""
    status = session.scalar(select(Judgment.status).where(Judgment.image_id == image_id)
                            .order_by(Judgment.id.desc()).limit(1))
    return status in JUDGED_STATUSES


def images_with_spectra(session: Session, image_ids: Iterable[int]) -> set[int]:
    """Those of these images that have a spectrum."""
    out: set[int] = set()
    for chunk in _batched(sorted(set(image_ids))):
        out.update(session.scalars(select(ImageSpectrum.image_id).where(ImageSpectrum.image_id.in_(chunk))))
    return out


def spectra_of(session: Session, image_id: int) -> list[SpectrumRecord]:
    """The spectra attached to an image, in the order of their file names."""
    rows = sorted(session.execute(  # sorted here: PostgreSQL orders text by its locale, SQLite by bytes
        select(SpectrumRow, ImageSpectrum.path)
        .join(ImageSpectrum, ImageSpectrum.spectrum_id == SpectrumRow.id)
        .where(ImageSpectrum.image_id == image_id)
    ).all(), key=lambda r: (r[1], r[0].id))
    out = []
    for row, path in rows:
        x, y = Spectrum.arrays_from_bytes(row.data)
        out.append(SpectrumRecord(spectrum_id=row.id, sha256=row.sha256, name=row.name, path=path, kind=row.kind,
                                  title=row.title or "", wavenumbers=x, absorbance=y))
    return out


def _in_batch(stmt, batch_id: int | None):
    if batch_id is None:
        return stmt
    return stmt.where(ImageSpectrum.image_id.in_(select(BatchImage.image_id).where(BatchImage.batch_id == batch_id)))


def spectrum_paths(session: Session, batch_id: int | None = None) -> dict[int, list[str]]:
    """``{image id: its spectra's file paths, sorted}`` for the images (of the batch) that have any spectrum."""
    out: dict[int, list[str]] = {}
    stmt = select(ImageSpectrum.image_id, ImageSpectrum.path)
    for image_id, path in session.execute(_in_batch(stmt, batch_id)):
        out.setdefault(image_id, []).append(path)
    return {image_id: sorted(paths) for image_id, paths in out.items()}  # (in Python: one order on every backend)


def any_spectra(session: Session, batch_id: int | None = None) -> bool:
    """Whether any image (of the batch) has a spectrum."""
    return session.scalar(_in_batch(select(ImageSpectrum.image_id), batch_id).limit(1)) is not None


def add_reference(session: Session, spectrum_id: int, leaf: str, source: str) -> bool:
    """Put a stored spectrum into the reference library as a spectrum of ``leaf``; False when it already is."""
    def lookup() -> ReferenceSpectrum | None:
        return session.scalar(select(ReferenceSpectrum).where(ReferenceSpectrum.spectrum_id == spectrum_id,
                                                              ReferenceSpectrum.leaf == leaf))

    if lookup() is not None:
        return False
    row = ReferenceSpectrum(spectrum_id=spectrum_id, leaf=leaf, source=source)
    return _insert_or_existing(session, row, lookup) is row


def reference_spectra(session: Session) -> list[ReferenceRecord]:
    """The library's spectra and the judged images' spectra, each with its defect type, for a search (without
    their curves: :func:`spectrum_arrays`).

    A judged image's spectrum counts with the image's current decision (accepted or corrected, with a type); an
    image marked unknown, undone back to pending or never judged adds nothing.
    """
    out = [ReferenceRecord(spectrum_id=spectrum_id, leaf=leaf, name=name, source=source, image_id=None)
           for leaf, source, spectrum_id, name in session.execute(
               select(ReferenceSpectrum.leaf, ReferenceSpectrum.source, SpectrumRow.id, SpectrumRow.name)
               .join(SpectrumRow, SpectrumRow.id == ReferenceSpectrum.spectrum_id).order_by(ReferenceSpectrum.id))]
    latest = (select(func.max(Judgment.id).label("jid"))
              .where(Judgment.image_id.in_(select(ImageSpectrum.image_id))).group_by(Judgment.image_id).subquery())
    judged = session.execute(
        select(Judgment.image_id, Judgment.leaf, ImageSpectrum.path, SpectrumRow.id, SpectrumRow.name)
        .join(latest, latest.c.jid == Judgment.id)
        .join(ImageSpectrum, ImageSpectrum.image_id == Judgment.image_id)
        .join(SpectrumRow, SpectrumRow.id == ImageSpectrum.spectrum_id)
        .where(Judgment.status.in_(("accepted", "corrected")), Judgment.leaf.is_not(None))
        .order_by(Judgment.id, SpectrumRow.id))
    out += [ReferenceRecord(spectrum_id=spectrum_id, leaf=leaf, name=name, source=path, image_id=image_id)
            for image_id, leaf, path, spectrum_id, name in judged]
    return out


def spectrum_arrays(session: Session, spectrum_ids: Iterable[int]) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """``{spectrum id: (wavenumbers, absorbance)}`` of these stored spectra."""
    out: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    for chunk in _batched(sorted(set(spectrum_ids))):
        for spectrum_id, data in session.execute(select(SpectrumRow.id, SpectrumRow.data)
                                                 .where(SpectrumRow.id.in_(chunk))):
            out[spectrum_id] = Spectrum.arrays_from_bytes(data)
    return out


def references_version(session: Session) -> tuple[int, int, int]:
    """Changes whenever :func:`reference_spectra` would: (newest library row, newest judgment of an image with a
    spectrum, spectra attached to images). Cheap, so a search can ask before every look-up whether its library is
    stale."""
    library = session.scalar(select(func.max(ReferenceSpectrum.id))) or 0
    judged = session.scalar(select(func.max(Judgment.id)).where(
        Judgment.image_id.in_(select(ImageSpectrum.image_id)))) or 0
    attached = session.scalar(select(func.count()).select_from(ImageSpectrum)) or 0
    return int(library), int(judged), int(attached)
