"""The store's state on the main window: the read-only banner, the rolling backups on a timer, colleagues'
judgments of the open batch on a shared database (read every 30 s), and the notes a last run left unsaved.

A mixin of :class:`app.ui.main_window.MainWindow` (like :mod:`app.ui.judging_actions`); the work is in
:mod:`app.services.backups`, this module only places it on screen and on a worker thread.
"""

from __future__ import annotations

import contextlib
import html
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QCoreApplication, Qt, QTimer
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget
from shiboken6 import isValid

from app.services.batch_presenter import OPEN_STATES
from app.services.note_drafts import drafts_file
from app.store.errors import StoreError
from app.ui import keymap
from app.ui.places import local_folder
from app.ui.style import banner_link, listed, store_reason_text, store_text
from app.ui.workers import Task

if TYPE_CHECKING:
    from app.services.judging import JudgingService

COLLEAGUES_EVERY_MS = 30_000


class StoreUpkeep:
    """Expects the window's ``service``, ``settings``, ``_runner``, ``statusBar``, ``presenter``, ``current``,
    ``current_image_id``, ``select``, ``_apply_judgment``, ``_update_counts``, ``judgments_changed``, ``keymap`` and
    ``note_drafts``."""

    CLAIM_AHEAD = 5  # the image on screen and the next four: claimed together, renewed at half the lease; a claim
    CLAIM_WHEN = 3  # is written when one of the first three is not held long enough (every ~3 images, not per key)
    LOOK_AHEAD = 30  # the open images after those whose colleagues' claims each claim reads (not claimed)
    _claiming = False  # a claim is on its way (set at the poll's start too)
    _given_back = False  # the window closes: its claims were given back, and it asks for none any more
    _drafts_banner: QLabel | None = None  # the banner of the notes a last run left unsaved
    _store_away_since: str | None = None  # when the database stopped answering (None: it answers)
    _drafts_shown = 0  # how many of them it says

    def _start_colleague_poll(self, every_ms: int = COLLEAGUES_EVERY_MS) -> None:
        """Every ``every_ms``, the open batch's judgments made elsewhere (another workstation, a script) are read and
        shown, so the counts and badges are the team's, and "next" walks over what a colleague did."""
        # (batch id, newest judgment id read by the last poll, by the one before): a poll reads from the one before,
        # since ids are handed out at insert and committed in any order (a judgment committed late is not missed)
        self._seen_judgments: tuple[int, int, int | None] | None = None
        self._focus_ids: list[int] = []  # the images claim_ahead was last asked for (renewed by the poll)
        self._mine: dict[int, float] = {}  # image id -> time.monotonic() until which this window holds it
        self._claiming = self._claim_again = False  # one claim at a time; another asked meanwhile runs after it
        self._held_text = ""  # the "X holds FILE" the status bar shows, if any
        self._colleague_timer = QTimer(self)
        self._colleague_timer.timeout.connect(self.poll_colleagues)
        self._colleague_timer.start(every_ms)

    def claim_ahead(self, image_ids: list[int]) -> None:
        """Claim the image on screen and the next ones (off the UI thread), unless this window holds them for long
        enough still; an image a colleague holds is said in the status bar, and "next" passes it over. The images
        this window held and has left are given back with the next claim (walking the list held every image passed
        for the whole lease: a colleague's queue showed them all as someone else's)."""
        if self.service is None or self.service.read_only is not None or not image_ids or self._given_back:
            return  # (closing: a claim asked by the events left in the queue would outlive the release)
        # only images that wait for a person: a decided or auto-judged one shown again ("Back to it") was held, and
        # its own judge, back on it, read "bob holds it: a judgment of yours would go against theirs" (team walk)
        image_ids = [i for i in image_ids if self._waits(i)]
        ids = self._focus_ids = image_ids[: self.CLAIM_AHEAD]
        if (who := self.presenter.claimed.get(self.current_image_id)) is not None and \
                self._waits(self.current_image_id):
            self._say_held(who)  # known from the last claim or poll: said now, and asked again below (it may be free)
        elif self._held_text and self.statusBar().currentMessage() == self._held_text:
            self.statusBar().clearMessage()  # said of the image left: it stayed up to 10 s on the next one
        now = time.monotonic()
        ours = [i for i in ids[: self.CLAIM_WHEN] if i not in self.presenter.claimed]  # a colleague's: not asked again
        if who is None and all(self._mine.get(i, 0.0) - now > self.service.claim_lease_s / 2 for i in ours):
            return
        if self._claiming:  # (in parallel, a release could land after a claim of the same image)
            self._claim_again = True
            return
        left = [i for i in self._mine if i not in ids]
        for i in left:
            del self._mine[i]
        self._claiming = True
        ahead = [i for i in self.presenter.open_ahead(self.LOOK_AHEAD) if i not in ids]
        service = self.service

        def claim() -> tuple[dict[int, str], list]:  # and the decisions on them (a colleague's, since the last poll)
            return service.claim(ids, release=left, ahead=ahead), service.judged_since(None, [*ids, *ahead])[1]

        task = Task(claim)
        # (isValid: a window closed while its task ran is gone; the task's signal still comes)
        task.signals.result.connect(lambda res, ids=ids, ahead=ahead: isValid(self) and self._claimed(
            ids, *res, ahead=ahead))
        task.signals.done.connect(lambda _none: isValid(self) and self._claim_done())
        self._runner.start(task)

    def _waits(self, image_id: int | None) -> bool:
        row = self.presenter.row_of(image_id) if image_id is not None else None
        return row is not None and self.presenter.state(self.presenter.items[row]) in OPEN_STATES

    def _claim_done(self) -> None:
        self._claiming = False
        if self._claim_again:  # the analyst moved on while it ran: claim where they are now
            self._claim_again = False
            self.claim_ahead(self._focus_ids)

    def _claimed(self, ids: list[int], others: dict[int, str], decided: Sequence = (),
                 ahead: Sequence[int] = ()) -> None:
        """A claim's answer: the images colleagues hold among those claimed and ``ahead``, and the current
        decisions on them (``decided``: one a colleague made since the last poll is shown now, and "next" passes
        over it; two analysts in one order walked into each other's judged images until the 30 s poll)."""
        changed = [rec for rec in decided if (row := self.presenter.row_of(rec.image_id)) is not None
                   and ((shown := self.presenter.item(row).judgment) is None or shown.id < rec.id)]
        for rec in changed:
            self._apply_judgment(rec)
        if changed:
            self._update_counts()
            self.judgments_changed()
        until = time.monotonic() + self.service.claim_lease_s
        claimed = dict(self.presenter.claimed)
        for i in ids:
            if i in others:
                claimed[i] = others[i]
            else:
                claimed.pop(i, None)
                self._mine[i] = until
        for i in ahead:  # looked at only: a colleague's, or free now
            if i in others:
                claimed[i] = others[i]
            else:
                claimed.pop(i, None)
        for row in self.presenter.set_claimed(claimed):  # the list says who is on which image
            self._update_row(row)
        opened_on, self._opened_on = getattr(self, "_opened_on", None), None
        if opened_on is not None and opened_on == self.current_image_id and opened_on in others:
            # the batch opened on an image a colleague is on (a second analyst opening the batch moments later):
            # start on the next free one, as "next" would, rather than on theirs
            row = self.presenter.next_open(self.current)
            if row is not None and self.presenter.items[row].image.image_id not in self.presenter.claimed:
                held = Path(self.presenter.items[self.current].image.path).name
                self.select(row)
                self.statusBar().showMessage(QCoreApplication.translate(  # (on it, or on one of the images before it)
                    "Main", "{who} holds {file}: you start on the next image nobody holds").format(
                    who=others[opened_on], file=held), 10_000)
                return
        if self.current_image_id in others and self._waits(self.current_image_id):
            self._say_held(others[self.current_image_id])
        elif self._held_text and self.statusBar().currentMessage() == self._held_text:
            self.statusBar().clearMessage()  # the colleague has let it go: it is this analyst's now

    def _say_held(self, who: str) -> None:
        """A colleague holds the image on screen: they are on it, or it is one of the next few of their list."""
        item = self.presenter.current_item
        held = QCoreApplication.translate(
            "Main", "{who} holds {file}: a judgment of yours would go against theirs").format(
            who=who, file=Path(item.image.path).name if item is not None else "")
        said, at = getattr(self, "just_said", ("", 0.0))  # what the key that moved here said: kept before it (the
        fresh = said and time.monotonic() - at < 3 and self.statusBar().currentMessage().startswith(said)  # agreement
        self._held_text = f"{said}  ·  {held}" if fresh else held  # recorded went in a frame; walk-through)
        self.statusBar().showMessage(self._held_text, 10_000)

    def release_claims(self) -> None:
        """Give the claims of this window back (it closes): colleagues' "next" finds the images at once. A claim
        whose result has not reached the window yet (written, its signal still queued: a stop signal seconds after
        the opening) counts: they stayed claimed for the lease."""
        if self.service is not None and self.service.read_only is None and (self._mine or self._claiming):
            with contextlib.suppress(StoreError):
                self.service.release_claims()
            self._mine.clear()
            self._claiming = False
        self._given_back = True

    def poll_colleagues(self) -> None:
        batch = self.presenter.batch
        if batch is None and self.service is not None and getattr(self, "model", None) is not None:
            self._poll_team_model()  # the start page: no colleagues to follow, but the team's model may change,
            self.load_recent_batches()  # and so may the recent batches' counts
            return
        if batch is None or not self.presenter.items or self.service is None:
            return
        seen = self._seen_judgments[2] if self._seen_judgments and self._seen_judgments[0] == batch.batch_id \
            else None
        self.claim_ahead(self._focus_ids)  # renews the claims of an image looked at for long
        ids = [it.image.image_id for it in self.presenter.items]
        version, known = self.presenter.model_version, getattr(self, "known_pauses", None)
        service, routing = self.service, self.presenter.routing
        task = Task(lambda: (*service.judged_since(seen, ids), service.claims_of_others(ids),
                             service.pauses_in_force(version, routing), _team_and_reach(service)))
        task.signals.result.connect(lambda res, b=batch.batch_id: isValid(self) and self._colleagues_judged(
            b, *res, asked=(version, known)))
        task.signals.result.connect(lambda _res: isValid(self) and self.store_answers(True))
        task.signals.failed.connect(lambda exc: isValid(self) and self.store_answers(False, exc))
        self._runner.start(task)

    def store_answers(self, answers: bool, error: BaseException | None = None) -> None:
        """The database answered (or failed: a server down, a share gone): a failure is said in the status bar until
        it answers again (an idle window showed the team's state as if current, and the first sign was a box on the
        next judgment)."""
        if answers:
            self._store_away_since = None
        elif self._store_away_since is None:
            self._store_away_since = time.strftime("%H:%M")
        self.status.set_store_away(self._store_away_since, store_text(error) if error is not None else "")

    def _colleagues_judged(self, batch_id: int, newest: int, records: list, claims: dict | None = None,
                           pauses: frozenset[int] | None = None, team: tuple | None = None,
                           asked: tuple | None = None) -> None:
        if self.presenter.batch is None or self.presenter.batch.batch_id != batch_id:
            return  # another batch was opened meanwhile
        if team is not None:
            self.offer_team_model(*team)
        known = getattr(self, "known_pauses", None)
        # the pauses as this window knew them when the poll asked, for the model it asked about: another model
        # loaded, or a pause this window made meanwhile, is no change made elsewhere
        if asked is not None and asked != (self.presenter.model_version, known):
            pauses = None
        if pauses is not None and known is not None and pauses != known:
            # a pause began or ended elsewhere (a lead's `fma-judge monitor --resume`, a colleague's blind check):
            # the banner and the routes as they are now (they stayed until a restart)
            self.check_purity()
            self.known_pauses = pauses  # (check_purity sets it too; without a calibration it returns first)
            self._reload_items()
            self.statusBar().showMessage(QCoreApplication.translate(  # (by the purity monitor, or by a lead)
                "Main", "Auto-judging was resumed elsewhere: the routes are as they are now")
                if len(pauses) < len(known) else QCoreApplication.translate(
                "Main", "Auto-judging was paused elsewhere: the routes are as they are now"),
                15_000)
        if claims is not None:  # the images colleagues are on now: "next" passes them over, the list says who
            for row in self.presenter.set_claimed(claims):
                self._update_row(row)
        changed = []
        for rec in records:
            row = self.presenter.row_of(rec.image_id)
            shown = self.presenter.item(row).judgment if row is not None else None
            if row is not None and (shown is None or shown.id < rec.id):  # newer than what is shown
                changed.append(rec)
        for rec in changed:
            self._apply_judgment(rec)
        if changed:
            self._update_counts()
            self.judgments_changed()
        before = self._seen_judgments[1] if self._seen_judgments and self._seen_judgments[0] == batch_id else None
        self._seen_judgments = (batch_id, newest, before if before is not None else newest)

    def _poll_team_model(self) -> None:
        """The team's model looked at on the start page (off the UI thread: a share away takes seconds): a window
        left there never offered a model deployed or recalibrated meanwhile, until a batch was opened (team lead's
        walk-through)."""
        service = self.service
        task = Task(lambda: _team_and_reach(service))
        task.signals.result.connect(lambda res: isValid(self) and self.presenter.batch is None
                                    and self.offer_team_model(*res))
        task.signals.result.connect(lambda _res: isValid(self) and self.store_answers(True))
        task.signals.failed.connect(lambda exc: isValid(self) and self.store_answers(False, exc))
        self._runner.start(task)

    def offer_team_model(self, team, reachable: bool | None = None, stamp: str | None = None) -> None:
        """A banner when the team's model (``fma-judge deploy``, a :class:`~app.store.records.TeamModelRecord`) is
        not the one this window has loaded, with a link that loads it; once per deployment (Esc, or Dismiss, and it
        stays away until the next). A team switched every window to a new model only by each analyst's Ctrl+M.
        ``stamp``: the deployed bundle's routing now (:meth:`~app.store.records.TeamModelRecord.routing_stamp`); one
        other than this window's is offered too: a recalibration keeps the version, and a window that kept the old
        thresholds routed by them for the rest of its day (walk-through)."""
        model = getattr(self, "model", None)
        old = getattr(self, "_team_banner", None)
        if reachable is None and team is not None:  # (the poll looks at the folder off the UI thread: a share away
            reachable = team.reachable()  # takes seconds; a share not connected: its link only said "not found")
            stamp = team.routing_stamp() if reachable else None
        recalibrated = model is not None and team is not None and team.model_version == model.version and \
            stamp is not None and stamp != model.manifest.routing_stamp and \
            Path(team.bundle_path).resolve() != Path(model.path).resolve()  # (in place: "changed on disk" says it)
        if team is None or model is None or (team.model_version == model.version and not recalibrated):
            if old is not None and isValid(old) and model is not None:  # deployed otherwise since, or loaded: it
                old.hide()  # would load a model no longer the team's (its link took the one it named)
            return
        key = (team.bundle_path, team.set_at, stamp if recalibrated else None)  # (a manifest read as None once: the
        offered = getattr(self, "_team_offered", None)  # same offer, not a new one after its Dismiss: review)
        if offered is not None and offered[0] == key and (offered[1] or not reachable):
            return  # said already; once with its link, never again (a share that drops and comes back included)
        self._team_offered = (key, reachable)
        if old is not None and isValid(old):
            old.hide()  # a newer deployment's banner replaces it
        what = dict(version=team.model_version or team.bundle_path, path=team.bundle_path, who=team.set_by,
                    when=team.set_at.astimezone().strftime("%Y-%m-%d %H:%M"), ours=model.version)
        if not reachable:
            self._team_banner = self.show_notice(QCoreApplication.translate(
                "Main", "The team's model is now {version} ({path}, deployed by {who} on {when}), but this "
                        "workstation does not reach that folder; this window keeps {ours}. Once the share is "
                        "connected, this notice offers to load it.").format(**what))
            return
        text = QCoreApplication.translate(
            "Main", "The team's model {version} ({path}, deployed by {who} on {when}) was calibrated again; this "
                    "window still routes by the calibration it loaded.").format(**what) if recalibrated else \
            QCoreApplication.translate(
                "Main", "The team's model is now {version} ({path}, deployed by {who} on {when}); this window uses "
                        "{ours}.").format(**what)
        self._team_banner = self.show_notice(text, action=(QCoreApplication.translate("Main", "Load it"),
                                                           lambda path=team.bundle_path: self.load_model(path)))

    def _with_banner_place(self, body: QWidget) -> QWidget:
        """``body`` in a box with room above it for the read-only banner (:meth:`_show_read_only_banner`)."""
        box = QWidget(self)
        self._banner_layout = QVBoxLayout(box)
        self._banner_layout.setContentsMargins(0, 0, 0, 0)
        self._banner_layout.setSpacing(0)
        self._banner_layout.addWidget(body, 1)
        return box

    def show_notice(self, text: str, action: tuple[str, Callable[[], object]] | None = None) -> QLabel:
        """A banner over the window with ``text`` (plain) until its Dismiss link is clicked: what a status message
        said too briefly (it went as soon as a folder was opened). ``action``: a link before Dismiss (its words,
        and what it does; the banner goes too)."""
        banner = QLabel(self)
        banner.setObjectName("infoBanner")
        banner.setProperty("dismissable", True)  # Esc closes it (:meth:`dismiss_notices`)
        banner.setWordWrap(True)
        banner.setTextFormat(Qt.TextFormat.RichText)
        _notice_text(banner, text, keymap.shown_key(self.keymap, "dismiss"), action[0] if action else None,
                     keymap.shown_key(self.keymap, "notice_action"))
        banner.linkActivated.connect(lambda link: (action[1]() if action and link == "act" else None, banner.hide()))
        if action is not None:  # its key (:meth:`act_on_notice`) does what the link does
            self._notice_actions = [(b, fn) for b, fn in getattr(self, "_notice_actions", [])
                                    if isValid(b) and not b.isHidden()]  # (closed ones: not offered again)
            self._notice_actions.append((banner, action[1]))
        self._banner_layout.insertWidget(0, banner)
        banner.show()  # (a child added to a window on screen is hidden until shown)
        return banner

    def act_on_notice(self) -> None:
        """Ctrl+Enter: what the newest notice on screen offers (the team's model: "Load it"), as its link does; a
        keyboard-only analyst could only dismiss such a notice."""
        for banner, fn in reversed(getattr(self, "_notice_actions", [])):
            if isValid(banner) and banner.isVisible():
                banner.hide()
                fn()
                return
        self.statusBar().showMessage(QCoreApplication.translate("Main", "No notice over the image offers anything now."),
                                     5000)

    def dismiss_notices(self) -> None:
        """Esc: the notices over the image go, as their Dismiss links do (a keyboard-only analyst could not close
        them). Pauses, a read-only store and a model changed on disk stay: those are not notices."""
        for banner in self.findChildren(QLabel):
            if banner.property("dismissable") and banner.isVisible():
                banner.hide()

    def _keep_drafts(self, service: JudgingService) -> None:
        """Notes typed and not saved are kept on disk per database (beside an INI settings file, else in the user
        data folder); those a crash or a closed app left behind are announced, in a banner that counts down as
        they are saved and goes with the last."""
        if self.settings is None:  # a window without settings (some tests): the drafts stay in memory
            return
        held = self.note_drafts.attach(drafts_file(local_folder(self.settings),
                                                   service.engine.url.render_as_string(hide_password=True)))
        if self.note_drafts.error is not None:  # (a banner too: drafts that cannot be kept matter more)
            self.show_notice(self.note_drafts.error)
        elif held:  # a banner: a status message went under the next (the narrow-window hint) within seconds
            self._drafts_banner, self._drafts_shown = self.show_notice(self._drafts_text(service)), held
            self.note_drafts.on_change = lambda: self._drafts_changed(service)

    def _drafts_text(self, service: JudgingService) -> str:
        left = self.note_drafts.held_left()
        return QCoreApplication.translate(
            "Main", "Notes typed and not saved last time: {n} ({where}). {key} on their image brings each back.").format(
            n=len(left), where=self._draft_places(service, left), key=keymap.shown_keys(self.keymap, "note"))

    def _drafts_changed(self, service: JudgingService) -> None:
        """A draft was saved (or kept again): the banner says how many of those found at start are left, and goes
        with the last (it said "1 unsaved" after the note was in the database)."""
        banner = self._drafts_banner
        if banner is None or not isValid(banner) or banner.isHidden():
            return
        left = len(self.note_drafts.held_left())
        if not left:
            banner.hide()
        elif left != self._drafts_shown:
            _notice_text(banner, self._drafts_text(service), keymap.shown_key(self.keymap, "dismiss"))
        self._drafts_shown = left

    def _draft_places(self, service: JudgingService, keys: tuple) -> str:
        """"P004_20x.png in line 7, …": where the first of these drafts were typed (a queue selection's by its first
        image)."""
        ids = [key[0] if isinstance(key, tuple) else key for key in keys[:3]]
        try:
            places = service.image_places(ids)
        except StoreError:  # the count alone, then
            return "…"
        named = [QCoreApplication.translate("Main", "{file} in {batch}").format(file=f, batch=b) if b else f
                 for f, b in places]
        return listed([*named, "…"] if len(keys) > len(places) else named)

    def _show_read_only_banner(self) -> None:
        """A banner over the window saying why judging is off, when the store is read-only."""
        if self.service.read_only is None:
            return
        self.read_only_banner = QLabel(QCoreApplication.translate(
            "Main", "Read-only database ({why}). You can browse, review and export; judging is off. To judge, "
                    "ask for write access or open another database with --db.").format(why=store_reason_text(self.service.read_only)))
        self.read_only_banner.setObjectName("readOnlyBanner")
        self.read_only_banner.setWordWrap(True)
        self._banner_layout.insertWidget(0, self.read_only_banner)

    def _start_backups(self, first_after_ms: int = 60_000, check_every_ms: int = 600_000) -> None:
        """Rolling backups of a SQLite store on a worker thread: a minute after start-up (after the first
        predictions), then whenever one is due (checked every 10 minutes). A failure is said in the status bar."""
        def setting(key: str, default: float) -> float:
            try:
                return float(self.settings.value(key, default)) if self.settings is not None else default
            except (TypeError, ValueError):
                return default

        from app.services.backups import BackupSchedule  # the store's: imported once the window is on screen

        self.backups = BackupSchedule(self.service.engine, every_s=setting("backup_every_hours", 4.0) * 3600,
                                      keep=int(setting("backup_keep", 10)))
        self._backup_timer = QTimer(self)
        if not self.backups.enabled:
            return

        def run() -> None:
            task = Task(self.backups.run_if_due)
            task.signals.error.connect(lambda msg: self.statusBar().showMessage(
                QCoreApplication.translate("Main", "Automatic backup failed: {msg}").format(msg=msg), 15_000))
            self._runner.start(task)
            self._backup_timer.start(check_every_ms)

        self._backup_timer.setSingleShot(True)
        self._backup_timer.timeout.connect(run)
        self._backup_timer.start(first_after_ms)


def _notice_text(banner: QLabel, text: str, key: str | None, action: str | None = None,
                 action_key: str | None = None) -> None:
    """The notice's text and its Dismiss link, with the key that closes it too (``key``; None: the analyst left
    it without one), and the link of its ``action`` with that key (``action_key``). The words are translated
    outside the f-string: lupdate did not find them inside it."""
    dismiss = QCoreApplication.translate("Main", "Dismiss ({key})").format(key=key) if key else \
        QCoreApplication.translate("Main", "Dismiss")
    if action and action_key:
        action = QCoreApplication.translate("Main", "{action} ({key})").format(action=action, key=action_key)
    act = f'{banner_link("act", action)} · ' if action else ""
    banner.setText(f'{html.escape(text)} {act}{banner_link("dismiss", dismiss)}')


def _team_and_reach(service) -> tuple:
    """The team's model, whether this workstation reaches its folder, and its routing stamp: read off the UI thread
    (the folder of a share away can take seconds)."""
    team = service.team_model()
    reach = team is not None and team.reachable()
    return team, reach, team.routing_stamp() if reach else None
