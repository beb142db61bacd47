"""Repository functions: each takes an open Session (the caller owns the transaction) and returns records.

Nothing here commits or opens a session; wrap calls in ``db.session_scope(engine)`` (one user action).
ORM objects never leave this package: callers get the frozen records of :mod:`app.store.records`.

Inserts that may race with another analyst on a shared PostgreSQL database (a new image, a new path,
a prediction) run in a SAVEPOINT and fall back to the row the other writer created.

One module per table or two, all re-exported here (callers write ``from app.store import repo``):

- :mod:`~app.store.repo.model_versions`: ``model_versions``, and the team's model (``team_models``);
- :mod:`~app.store.repo.images`: ``images`` and ``image_paths``;
- :mod:`~app.store.repo.batches`: ``batches`` and their membership (``batch_images``);
- :mod:`~app.store.repo.predictions`: ``predictions`` and ``prediction_reasons``;
- :mod:`~app.store.repo.judgments`: ``judgments``;
- :mod:`~app.store.repo.claims`: ``claims`` (the images an analyst's window holds, so two analysts on one batch
  take different ones);
- :mod:`~app.store.repo.items`: a batch's items (images with their prediction and current judgment);
- :mod:`~app.store.repo.monitor`: the purity monitor's spot checks and pauses (``routing_pauses``);
- :mod:`~app.store.repo.spectra`: FTIR spectra (``spectra``), the images they belong to (``image_spectra``) and
  the reference library (``reference_spectra``);
- :mod:`~app.store.repo._common`: the helpers and row -> record converters they share.

The modules import each other directly, never this package.
"""

from app.store.repo._common import normalize_folder
from app.store.repo.batches import (
    add_files_to_batch,
    add_to_batch,
    batch_by_ref,
    batches_named,
    batches_of_image,
    create_batch,
    find_batches_by_folder,
    folder_batch,
    get_batch,
    image_places,
    list_batches,
    recent_batches,
    unique_batch_name,
)
from app.store.repo.claims import claim, claim_next, held_by_others, release
from app.store.repo.images import (
    find_image_by_path,
    get_or_create_image,
    image_paths,
    images_at_paths,
    paths_seen,
)
from app.store.repo.items import batch_items
from app.store.repo.judgments import (
    KEEP_NOTE,
    NoteArg,
    confirm_judgments,
    current_judgments,
    current_note,
    current_notes,
    judgment_history,
    lock_images,
    note_images,
    record_judgment,
    revert_judgment,
    state_of,
)
from app.store.repo.model_versions import (
    get_model_version,
    list_model_versions,
    model_manifest,
    register_model_version,
    set_team_model,
    team_model,
)
from app.store.repo.monitor import (
    apply_pauses,
    batch_unknown_flags,
    end_pause,
    hold_back,
    lock_pauses,
    pause,
    pauses,
    spot_checks,
    start_pause,
)
from app.store.repo.predictions import latest_predictions, save_prediction, save_predictions
from app.store.repo.spectra import (
    add_reference,
    add_spectrum,
    any_spectra,
    attach_spectrum,
    images_with_spectra,
    known_spectra,
    known_spectrum,
    mark_made_without,
    marked_for_spectra,
    reference_spectra,
    references_version,
    spectra_of,
    spectrum_arrays,
    spectrum_paths,
    unlinked,
)

__all__ = [
    "KEEP_NOTE",
    "NoteArg",
    "add_files_to_batch",
    "add_reference",
    "add_spectrum",
    "add_to_batch",
    "any_spectra",
    "apply_pauses",
    "attach_spectrum",
    "batch_by_ref",
    "batch_items",
    "batch_unknown_flags",
    "batches_named",
    "batches_of_image",
    "claim",
    "claim_next",
    "confirm_judgments",
    "create_batch",
    "current_judgments",
    "current_note",
    "current_notes",
    "end_pause",
    "find_batches_by_folder",
    "find_image_by_path",
    "folder_batch",
    "get_batch",
    "get_model_version",
    "get_or_create_image",
    "held_by_others",
    "hold_back",
    "image_paths",
    "image_places",
    "images_at_paths",
    "images_with_spectra",
    "judgment_history",
    "known_spectra",
    "known_spectrum",
    "latest_predictions",
    "list_batches",
    "list_model_versions",
    "lock_images",
    "lock_pauses",
    "mark_made_without",
    "marked_for_spectra",
    "model_manifest",
    "normalize_folder",
    "note_images",
    "paths_seen",
    "pause",
    "pauses",
    "recent_batches",
    "record_judgment",
    "reference_spectra",
    "references_version",
    "register_model_version",
    "release",
    "revert_judgment",
    "save_prediction",
    "save_predictions",
    "set_team_model",
    "spectra_of",
    "spectrum_arrays",
    "spectrum_paths",
    "spot_checks",
    "start_pause",
    "state_of",
    "team_model",
    "unique_batch_name",
    "unlinked",
]
