"""Model versions: register a bundle's version and its manifest, look them up."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.store.records import ModelVersionRecord, TeamModelRecord
from app.store.repo._common import (
    _insert_or_existing,
    _model_version_record,
    _parse_created,
    _path_text,
    _require_text,
)
from app.store.schema import ModelVersion, TeamModel, utcnow


def register_model_version(
    session: Session,
    *,
    version: str,
    manifest: Mapping[str, Any],
    name: str | None = None,
    bundle_path: str | os.PathLike[str] | None = None,
) -> ModelVersionRecord:
    """Register a model bundle's version (idempotent: a known version only gets its name/bundle path updated, and its
    manifest when the bundle was recalibrated since, so the dashboard's purity monitor reads the calibration in use).

    Args:
        version: the bundle's ``model_version`` string.
        manifest: the bundle's whole manifest.json (its taxonomy is used by exports).
        name: display name; default the manifest's ``name``, else the version.
        bundle_path: where the bundle was loaded from.
    """
    version = _require_text(version, "model version")
    display = name or str(manifest.get("name") or version)
    where = None if bundle_path is None else _path_text(bundle_path)
    row = session.scalar(select(ModelVersion).where(ModelVersion.version == version))
    if row is None:
        created = ModelVersion(
            version=version,
            name=display,
            bundle_path=where,
            manifest=dict(manifest),
            created_at=_parse_created(manifest.get("created")),
            registered_at=utcnow(),
        )
        row = _insert_or_existing(
            session,
            created,
            lambda: session.scalar(select(ModelVersion).where(ModelVersion.version == version)),
        )
    recalibrated = (manifest.get("routing") or {}).get("created") != (row.manifest.get("routing") or {}).get("created")
    if recalibrated:
        row.manifest = dict(manifest)
    if recalibrated or row.name != display or (where is not None and row.bundle_path != where):
        row.name = display
        row.bundle_path = where or row.bundle_path
        session.flush()
    return _model_version_record(row)


def get_model_version(session: Session, version: str) -> ModelVersionRecord | None:
    """The registered model version with this version string, or None."""
    row = session.scalar(select(ModelVersion).where(ModelVersion.version == version))
    return None if row is None else _model_version_record(row)


def list_model_versions(session: Session) -> list[ModelVersionRecord]:
    """All registered model versions, most recently registered first."""
    rows = session.scalars(
        select(ModelVersion).order_by(ModelVersion.registered_at.desc(), ModelVersion.id.desc())
    )
    return [_model_version_record(r) for r in rows]


def model_manifest(session: Session, version: str) -> dict[str, Any] | None:
    """The stored manifest.json of a model version, or None if it is not registered."""
    manifest = session.scalar(select(ModelVersion.manifest).where(ModelVersion.version == version))
    return None if manifest is None else dict(manifest)


def set_team_model(session: Session, *, bundle_path: str | os.PathLike[str] | None, model_version: str | None,
                   analyst: str) -> TeamModelRecord | None:
    """Deploy ``bundle_path`` as the team's model (None: clear it, so each window keeps its own); returns the team's
    model now (:func:`team_model`)."""
    analyst = _require_text(analyst, "analyst")
    session.add(TeamModel(bundle_path=_path_text(bundle_path) if bundle_path else "", model_version=model_version,
                          set_by=analyst, set_at=utcnow()))
    session.flush()
    return team_model(session)


def team_model(session: Session) -> TeamModelRecord | None:
    """The team's model in force: the newest deployment, None when there is none or it was cleared."""
    row = session.scalars(select(TeamModel).order_by(TeamModel.id.desc()).limit(1)).first()
    if row is None or not row.bundle_path:
        return None
    return TeamModelRecord(bundle_path=row.bundle_path, model_version=row.model_version, set_by=row.set_by,
                           set_at=row.set_at)
