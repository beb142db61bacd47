"""A database driver's error in the product's words: :func:`store_error` names the database and the reason
(:class:`~app.store.errors.Reason`: read-only, disk full, locked, a missing folder, a refused password or rights...).
"""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy import URL, make_url

from app.store.errors import Reason, StoreError
from app.store.urls import describe_url, sqlite_path

__all__ = ["file_read_only", "no_folder", "reason_of", "refused_rights", "store_error"]


def reason_of(exc: BaseException, url: URL, busy_timeout_s: float | None, waited_s: float | None = None) -> Reason:
    orig = getattr(exc, "orig", None) or exc
    lines = str(orig).strip().splitlines()
    text = lines[0] if lines else type(orig).__name__
    low = text.lower()
    path = sqlite_path(url)
    if "readonly" in low or "read-only" in low:
        return Reason(f"the database file or its folder is read-only ({text})", "read_only", detail=text)
    if "disk is full" in low or "disk full" in low or "no space left" in low:
        return Reason(f"the disk is full ({text})", "disk_full", detail=text)
    if "locked" in low or "busy" in low:
        waited = f" (waited {waited_s:.1f} s" if waited_s is not None else ""
        most = f"{busy_timeout_s:g}" if waited and busy_timeout_s else ""
        waited += f" of at most {most} s" if most else ""
        waited += ")" if waited else ""
        return Reason(f"the database is locked by another program{waited}; close other fma-judge windows and retry "
                      f"({text})", "locked", detail=text, most=most,
                      waited=f"{waited_s:.1f}" if waited_s is not None else "")
    if "unable to open database file" in low:
        if path is not None and not path.parent.is_dir():
            return no_folder(path.parent)
        if path is not None and not path.exists() and not os.access(path.parent, os.W_OK | os.X_OK):
            return Reason(f"the file does not exist yet and the folder {path.parent} is read-only for you, so it "
                          "cannot be made", "cannot_create", folder=str(path.parent))
        return Reason(f"the file cannot be opened; check its permissions ({text})", "no_permission", detail=text)
    if "password authentication failed" in low or "no password supplied" in low:  # (the URL carries none)
        what = "needs a password and none was given" if "no password supplied" in low else "refused the password"
        return Reason(f"the server {what}; give it with PGPASSWORD or a password file (~/.pgpass, on Windows %APPDATA%"
                      f"\\postgresql\\pgpass.conf) ({text})", "password", detail=text, given=str("no password supplied" not in low))
    if refused_rights(exc) or "permission denied for" in low:
        return Reason(f"the server refused this login the rights it needs on the database (its tables, or the "
                      f"database itself); ask its administrator to grant them ({text})", "no_rights", detail=text)
    if "file is not a database" in low or "malformed" in low:
        return Reason(f"the file is not an fma-judge database or it is damaged ({text})", "damaged", detail=text)
    return Reason(text)


def no_folder(folder: Path) -> Reason:
    return Reason(f"the folder {folder} does not exist", "no_folder", folder=str(folder))


def file_read_only(path: Path) -> Reason:
    return Reason(f"the file {path} is read-only for you", "file_read_only", path=str(path))


def store_error(
    exc: BaseException, url: str | URL, action: str, busy_timeout_s: float | None = None,
    waited_s: float | None = None,
) -> StoreError:
    """A :class:`StoreError` for a driver error: ``Cannot <action> the database <url>: <reason>``.

    ``waited_s``: how long the failed step ran, said in a "locked" message (it tells the truth about the wait)."""
    return StoreError.refused(action, describe_url(url := make_url(url)), reason_of(exc, url, busy_timeout_s, waited_s))


def refused_rights(exc: Exception) -> bool:
    """A server that refused the login's rights on a table (PostgreSQL's ``insufficient_privilege``, a
    ``ProgrammingError``): the team's set-up, not a bug; it was shown as "Something went wrong" with the judgment
    unsaid (walk-through)."""
    return getattr(getattr(exc, "orig", None), "sqlstate", None) == "42501"
