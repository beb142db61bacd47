"""``fma-judge``: the desktop judging application, and ``fma-judge export``.

    fma-judge [FOLDER] [--model BUNDLE] [--db URL] [--lang en|zh_TW]
    fma-judge --demo --screenshot OUT.png [--lang en|zh_TW]
    fma-judge classify FOLDER [--db URL] [--model BUNDLE] [--recursive] [--device cpu]
    fma-judge export [--db URL] --out PATH --format csv|imagefolder|json [--batch ID] [--since DATE] [--status ...]

``classify`` and ``export`` run without Qt; the app imports torch only on its model thread, after the window
is shown.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from app.demo import DEMO_MODEL


def export_main(argv: list[str]) -> int:
    from app.store import export

    parser = argparse.ArgumentParser(prog="fma-judge export",
                                     description="Export the current judgments as labels (a training manifest).")
    export.add_arguments(parser)
    return int(export.run(parser.parse_args(argv)) or 0)


def classify_main(argv: list[str]) -> int:
    """Pre-classify a folder into the store, headless, exactly as the app would when it opens the folder."""
    import threading

    from app.services.predicting import ModelLoadError, PredictingService
    from app.store.db import init_db, make_engine
    from app.store.errors import StoreError

    parser = argparse.ArgumentParser(
        prog="fma-judge classify",
        description="Predict every image of a folder into the database, so that analysts open it with the "
                    "predictions already there (run it on a workstation or a server, e.g. from a scheduler).")
    parser.add_argument("folder", help="folder of images (the batch)")
    parser.add_argument("--db", help="SQLAlchemy database URL (default: the app's SQLite file in your user data folder)")
    parser.add_argument("--model", help=f"model bundle (default: the bundled demo model, {DEMO_MODEL})")
    parser.add_argument("--recursive", "-r", action="store_true",
                        help="also images in sub-folders (open it in the app the same way)")
    parser.add_argument("--device", default="cpu", help="cpu (default) or cuda")
    args = parser.parse_args(argv)
    folder = Path(args.folder)
    if not folder.is_dir():
        print(f"fma-judge classify: error: folder not found: {folder}", file=sys.stderr)
        return 2
    model = Path(args.model) if args.model else DEMO_MODEL
    cancel = threading.Event()

    def chunk_done(chunk) -> None:
        if chunk.done == chunk.total or chunk.done % 200 < len(chunk.items):
            print(f"predicted {chunk.done}/{chunk.total}", file=sys.stderr, flush=True)

    try:
        engine = make_engine(args.db)
        init_db(engine)
        service = PredictingService(engine, device=args.device)
        info = service.load(model)
        print(f"model {info.version} ({info.engine}); database {engine.url.render_as_string()}", file=sys.stderr)
        result = service.classify_folder(folder, recursive=args.recursive, on_chunk=chunk_done, cancel=cancel)
    except (ModelLoadError, StoreError, OSError) as exc:
        print(f"fma-judge classify: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("fma-judge classify: interrupted; the predictions made so far are saved", file=sys.stderr)
        return 130
    routes = ", ".join(f"{k} {v}" for k, v in sorted(result.routes.items())) or "-"
    print(f"{result.name}: {result.images} images; predicted {result.predicted} now ({routes}), "
          f"{result.already} already had this model's prediction, {result.errors + result.unreadable} unreadable")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "export":
        return export_main(argv[1:])
    if argv and argv[0] == "classify":
        return classify_main(argv[1:])
    from app.ui.app import run_app

    return run_app(argv)


if __name__ == "__main__":
    sys.exit(main())
