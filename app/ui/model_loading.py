"""Loading a model bundle in the main window: its manifest first (names and routing on screen at once), then its
weights on the model thread; a model that cannot be loaded says why and leaves the batches usable.

A mixin of :class:`app.ui.main_window.MainWindow`, like :mod:`app.ui.batch_opening`.
"""

from __future__ import annotations

import html
import os
from pathlib import Path

from PySide6.QtCore import QCoreApplication, QFileSystemWatcher
from PySide6.QtWidgets import QLabel, QMessageBox
from shiboken6 import isValid

from app.services.predicting import ModelInfo, ModelLoadError, PredictingService
from app.settings import MODEL_KEY, remembered_model
from app.ui import file_dialogs, startup_log
from app.ui.style import banner_link
from app.ui.workers import Task


class ModelLoading:
    """Expects the window's ``service``, ``worker``, ``presenter``, ``status``, ``settings``, ``images``,
    ``list_model``, ``similar_panel``, ``spectrum_panel``, ``_queue_view``, ``_dashboard_view``, ``_runner``,
    ``lang``, ``current``, ``items``, ``alert``, ``_attached``, ``_reload_items``, ``_refresh_list``, ``_show`` and
    ``_start_predictions``."""

    model: ModelInfo | None  # set by the window's __init__, with _remember_model
    _bundle_watcher: QFileSystemWatcher | None = None
    _bundle_seen: tuple[Path, tuple] | None = None  # the loaded bundle's folder and its files' stamp when loaded
    model_changed_banner: QLabel | None = None

    def warm_model(self, path: str | Path) -> None:
        """Start making the model of ``path`` now, while the database opens: the load asked for later takes it
        (:meth:`app.services.predicting.PredictingService.warm`)."""
        self.worker.service.warm(path)

    def load_model(self, path: str | Path, remember: bool = True) -> None:
        """Load a bundle: its manifest first (names and routing on screen at once), then its weights; the settings
        remember its path for the next start unless ``remember`` is False (the demo's tour).

        On a read-only store only the manifest: the names of the stored predictions, and no model run.
        """
        if not self._attached(lambda: self.load_model(path, remember)):
            return
        self._remember_model = remember
        if self.service.read_only is not None:
            self.worker.service.forget_warm()  # no model runs on a read-only store
            task = Task(PredictingService.read_manifest, str(path))
            task.signals.result.connect(lambda manifest: (self._use_model("read_only", manifest),
                                                          self.status.set_model(manifest.model_version)))
            self._runner.start(task)
            return
        self.status.set_model(None, loading=True)
        self._model_before = self.model.version if self.model is not None else None  # (said when the new one is in)
        # (loaded again when this one fails: a team's model on a share away left the window with no model at all)
        self._path_before = (self.model.path, str(path)) if self.model is not None else None
        self._loading_path = str(path)
        self.model = None
        self.known_pauses = None  # (another model's pauses: its first check sets them)
        self.presenter.set_model("loading")
        self.worker.cancel()  # the old model's run: the new model predicts the batch again once loaded
        self.worker.load(str(path))  # manifestRead, then modelLoaded (or modelFailed, which says why)

    def _manifest_read(self, manifest) -> None:
        """The model thread read the bundle's manifest: its names and routing on screen while the weights load."""
        startup_log.mark("manifest_read")
        self._use_model("loading", manifest)

    def _model_loaded(self, info: ModelInfo) -> None:
        """The model thread loaded the bundle and registered its version in the store."""
        startup_log.mark("model_loaded")
        self.model = info
        if (banner := getattr(self, "no_model_banner", None)) is not None and isValid(banner):
            banner.hide()  # "No model is loaded" stayed over a window that had loaded one (final walk-through)
        self._use_model("ready", info.manifest)
        for view in (self._queue_view, self._dashboard_view):
            if view is not None:
                view.set_model_version(info.version)
        self.status.set_model(info.version, path=info.path, calibrated=info.manifest.routing_stamp,
                              engine=info.engine, engine_note=info.engine_note)
        if info.engine_note:  # IT's to mend (a runtime graph lost in a copy): said once, kept in the tooltip
            self.statusBar().showMessage(QCoreApplication.translate(
                "Main", "The model is not on its fastest path: {why}").format(why=info.engine_note), 15_000)
        elif (before := getattr(self, "_model_before", None)) and before != info.version \
                and self.presenter.batch is not None:  # the counts and badges change: said why (they did unsaid)
            self.statusBar().showMessage(QCoreApplication.translate(
                "Main", "Now using {new} (was {old}): the open batch is predicted again by it, so its routes and "
                        "counts may change.").format(new=info.version, old=before), 15_000)
        if self.settings is not None and self._remember_model:
            # in full: `--model m1` from a shell's folder was kept as "m1", not there for a start from a menu
            self.settings.setValue(MODEL_KEY, os.path.abspath(info.path))
        self._watch_bundle(Path(info.path))
        self._start_predictions()

    def _watch_bundle(self, folder: Path) -> None:
        """Watch the loaded bundle's folder: `fma-judge recalibrate` (the dashboard's one command) or a training
        into it changes its files, and this window would go on with the loaded model without a word."""
        if self._bundle_watcher is None:
            self._bundle_watcher = QFileSystemWatcher(self)
            self._bundle_watcher.directoryChanged.connect(self._bundle_changed)
            self._bundle_watcher.fileChanged.connect(self._bundle_changed)
        watched = self._bundle_watcher.directories() + self._bundle_watcher.files()
        if watched:
            self._bundle_watcher.removePaths(watched)
        if self.model_changed_banner is not None:
            self.model_changed_banner.hide()
        self._bundle_seen = None
        if folder.is_dir():  # (an archive is read once; it is not watched)
            self._bundle_watcher.addPaths([str(folder), str(folder / "manifest.json")])
            self._bundle_seen = (folder, PredictingService.bundle_stamp(folder))

    def _bundle_changed(self, _path: str) -> None:
        """The loaded bundle's files changed on disk: a banner says so and offers to load it again."""
        if self._bundle_seen is None or self.model is None:
            return
        folder, stamp = self._bundle_seen
        manifest = str(folder / "manifest.json")
        if manifest not in self._bundle_watcher.files() and Path(manifest).is_file():
            self._bundle_watcher.addPath(manifest)  # replaced by a new file: the watch went with the old one
        now = PredictingService.bundle_stamp(folder)
        if now == stamp:
            return
        self._bundle_seen = (folder, now)
        if self.model_changed_banner is None:
            banner = self.model_changed_banner = QLabel(self)
            banner.setObjectName("infoBanner")
            banner.setWordWrap(True)
            banner.linkActivated.connect(lambda _link: self.load_model(self._bundle_seen[0])
                                         if self._bundle_seen is not None else None)
            self._banner_layout.insertWidget(0, banner)
        link = QCoreApplication.translate("Main", "Load it again")  # (the default link blue is unreadable here)
        self.model_changed_banner.setText(QCoreApplication.translate(
            "Main", "The model's files in {path} changed on disk (recalibrated or retrained?). This window still "
                    "uses {version} as it was loaded. {link} to use them.").format(
            path=html.escape(str(folder)), version=html.escape(self.model.version),
            link=banner_link("reload", link)))
        self.model_changed_banner.show()

    def _use_model(self, state: str, manifest) -> None:
        """Show the batch with this model's names, calibration and stored predictions."""
        changed = manifest.model_version != self.presenter.model_version
        self.presenter.set_model(state, version=manifest.model_version, taxonomy=manifest.taxonomy,
                                 routing=manifest.calibration, stamp=manifest.routing_stamp,
                                 fused=manifest.fused_calibration)
        self.similar_panel.set_taxonomy(manifest.taxonomy, self.lang)
        self.spectrum_panel.set_taxonomy(manifest.taxonomy, self.lang)
        if self._queue_view is not None:
            self._queue_view.set_taxonomy(manifest.taxonomy, self.lang)
        if changed:
            self.images.drop_heatmaps()  # where the *previous* model looked
            self.why.forget()  # and why it chose (a LayerCAM asked of it never comes)
            self._reload_items()
        elif 0 <= self.current < len(self.items):
            self._refresh_list()  # (a reset: the list's selection goes with it, and the row on screen was not marked)
            row, self.presenter.current = self.current, -1
            self.select(row)  # the panel; and the heatmap and similar cases, which wait for the loaded model

    def _model_failed(self, message: str) -> None:
        self.list_model.release_thumbnails()
        self.model = None
        self.presenter.set_model("none")
        self.status.set_model(None)
        if 0 <= self.current < len(self.items):  # the image on screen said "the model is loading"
            self.panel.show_data(self.presenter.panel(self.current))
        before, self._path_before = getattr(self, "_path_before", None), None
        offered, loading = getattr(self, "_team_offered", None), getattr(self, "_loading_path", None)
        if offered is not None and loading is not None and Path(offered[0][0]) == Path(loading):  # the team's model,
            self._team_offered = None  # its Load failed (a share away): offered again at the next poll (another
            # model that failed leaves a dismissed banner away)
        if before is not None and Path(before[0]).resolve() != Path(before[1]).resolve() and Path(before[0]).is_dir():
            self.load_model(before[0], remember=False)  # the one it used goes on (the settings still name it)
            text = QCoreApplication.translate(
                "Main", "The model could not be loaded:\n\n{msg}\n\nThis window goes on with the model it used: "
                        "{path}.").format(msg=message, path=before[0])
        else:
            text = QCoreApplication.translate(
                "Main", "The model could not be loaded:\n\n{msg}\n\nChoose another model with “Model”. You can "
                        "still open batches and review earlier judgments.").format(msg=message)
        self.alert(QMessageBox.warning, QCoreApplication.translate("Main", "Model could not be loaded"), text,
                   line=f"the model could not be loaded: {message}")

    def choose_model(self) -> None:
        last = remembered_model(self.settings) if self.settings is not None else ""  # beside the model in use
        start = str(Path(last).parent) if last and Path(last).parent.is_dir() else ""
        path = file_dialogs.choose_folder(self, QCoreApplication.translate("Main", "Choose a model bundle folder"),
                                          start)
        if path and self._is_bundle(path):
            self.load_model(path)

    def _is_bundle(self, path: str) -> bool:
        """Whether ``path`` is a model bundle (its manifest read, milliseconds); if not, said, and the model in use
        stays: a wrong folder picked unloaded the working model ("No model") before it was found wrong."""
        try:
            PredictingService.read_manifest(path)
        except ModelLoadError as exc:
            kept = QCoreApplication.translate("Main", "The model in use stays: {version}.").format(
                version=self.model.version) if self.model is not None else ""
            self.alert(QMessageBox.warning, QCoreApplication.translate("Main", "Not a model"),
                       QCoreApplication.translate("Main", "This folder cannot be loaded as a model:\n\n{msg}").format(
                           msg=exc) + ("\n\n" + kept if kept else ""), line=f"not a model bundle: {exc}")
            return False
        return True
