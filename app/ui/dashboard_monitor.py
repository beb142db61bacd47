"""The dashboard's purity-monitor texts: the batch table's drift and auto-judging cells, the purity table's rows and
the note under it (what is paused, on what evidence, and the commands that lift it, with this bundle's path).

Plain functions over :class:`app.services.dashboard.DashboardFigures`; :mod:`app.ui.dashboard_view` shows them.
"""

from __future__ import annotations

import datetime as dt
import html
from collections.abc import Mapping

from PySide6.QtCore import QCoreApplication

from app.services.monitor import BatchDrift, MonitorReport, MonitorSettings, Purity, shell_quoted
from app.ui.style import listed

BUNDLE_PLACEHOLDER = "BUNDLE"
"""The ``--model`` of the commands named when the store does not know where the bundle was loaded from."""


def pct(value: float | None) -> str:
    return "–" if value is None else f"{value * 100:.1f}%"


def local_time(when: dt.datetime) -> str:
    """A stored time (UTC; SQLite reads it back naive) in this computer's time zone."""
    when = when if when.tzinfo is not None else when.replace(tzinfo=dt.UTC)
    return when.astimezone().strftime("%Y-%m-%d %H:%M")


def drift_text(drift: BatchDrift | None) -> str:
    """A batch's drift score (its share of unfamiliar images over the calibration's), "paused" when it stopped."""
    if drift is None or drift.score is None:
        return "–"
    text = f"{drift.score:.1f}×"
    return text + " " + QCoreApplication.translate("Dashboard", "paused") if drift.paused else text


def drift_tip(drift: BatchDrift | None, settings: MonitorSettings) -> str:
    """What a batch's drift score is made of, the rule, and where the batch stands against it (the cell's tooltip)."""
    if drift is None or drift.score is None:
        return ""
    tip = QCoreApplication.translate(
        "Dashboard", "{flagged} of {n} images look like a possible new type ({share}); the calibration data: "
                     "{expected}. Auto-judging of the batch pauses when its share is surely over {ratio}× that "
                     "(judged from {least} images on).").format(
        flagged=drift.flagged, n=drift.predicted, share=pct(drift.flagged / drift.predicted),
        expected=pct(drift.expected), ratio=f"{settings.drift_ratio:g}", least=settings.drift_min_images)
    verdict = drift.verdict(settings)
    if verdict == "paused":
        text = QCoreApplication.translate(
            "Dashboard", "Over the limit of {limit} (its share is at least {low} at {confidence}%): auto-judging of "
                         "this batch is paused.")
    elif verdict == "over":
        text = QCoreApplication.translate(
            "Dashboard", "Over the limit of {limit} (its share is at least {low} at {confidence}%), not paused yet: "
                         "the app pauses it when it predicts the batch, as fma-judge monitor --check --batch {batch} "
                         "does.")
    elif verdict == "resumed":
        text = QCoreApplication.translate(
            "Dashboard", "Over the limit of {limit} (its share is at least {low} at {confidence}%), but a lead resumed "
                         "auto-judging of this batch for this calibration: not paused.")
    elif verdict == "few":
        text = QCoreApplication.translate("Dashboard",
                                          "Not judged yet: {n} of the {least} images it takes. Not paused.")
    else:
        text = QCoreApplication.translate(
            "Dashboard", "Not surely over the limit of {limit} (its share is at least {low} at {confidence}%): not "
                         "paused.")
    return tip + " " + text.format(limit=pct(drift.limit(settings)), low=pct(drift.low), n=drift.predicted,
                                   least=settings.drift_min_images, confidence=f"{settings.confidence * 100:g}",
                                   batch=drift.batch_id)


def batch_state(report: MonitorReport | None, held: Mapping[str, int] | None, batch_id: int,
                drift: BatchDrift | None = None) -> tuple[str, str]:
    """The batch table's auto-judging cell and its tooltip: paused (since when, on what), its images held back by a
    paused defect type, on, or (``drift`` over the limit, not paused yet) on until its next check."""
    if report is None or report.why_not:  # not calibrated (nothing is auto-judged) or not monitored
        return "–", ""
    held = held or {}
    pause = next((p for p in report.pauses if p.scope == "batch" and p.target == str(batch_id)), None)
    tips = []
    if pause is not None:
        text = QCoreApplication.translate("Dashboard", "paused since {time}").format(
            time=local_time(pause.started_at))
        tips.append(QCoreApplication.translate(
            "Dashboard", "Auto-judging of this batch is paused: {flagged} of {n} of its images looked like a possible "
                         "new type, surely more than the calibration data's share allows.").format(
            flagged=pause.detail.get("flagged", "?"), n=pause.detail.get("predicted", "?")))
    elif held.get("purity_paused"):
        text = QCoreApplication.translate("Dashboard", "{n} held back (paused type)").format(n=held["purity_paused"])
    elif drift is not None and drift.verdict(report.settings) == "over":  # (after a recalibration: "on" beside a
        text = QCoreApplication.translate("Dashboard", "on · pauses at its next check")  # drift of 18.1x: walk-through)
    elif paused := len(set(report.paused_leaves())):  # ("on" beside a lead's pause of Dent read as all on: team
        text = QCoreApplication.translate("Dashboard", "on · {n} types paused").format(n=paused) if paused > 1 else \
            QCoreApplication.translate("Dashboard", "on · 1 type paused")  # walk-through)
        tips.append(QCoreApplication.translate(
            "Dashboard", "Auto-judging of this batch is on, but not for the paused defect types (Purity monitor tab)."))
    else:
        text = QCoreApplication.translate("Dashboard", "on")
    if held.get("batch_drift") or held.get("purity_paused"):
        tips.append(QCoreApplication.translate(
            "Dashboard", "Waiting for a person because of a pause: {batch} for the batch, {leaf} of a paused defect "
                         "type (Purity monitor tab).").format(batch=held.get("batch_drift", 0),
                                                              leaf=held.get("purity_paused", 0)))
    return text, " ".join(tips)


def purity_row(p: Purity, report: MonitorReport, name: str) -> tuple[list[str], str]:
    """A purity table row (type, checks, wrong, purity and bounds, auto-judging) and its state's tooltip. A paused
    type's figures are the evidence it was paused on with the checks judged since, so they agree with its state."""
    tip = ""
    if p.leaf is None:
        state = ""
    elif p.paused and p.pause is not None and p.pause.detail.get("by_hand"):
        d = p.pause.detail
        state = (QCoreApplication.translate("Dashboard", "paused by {who} since {time}: {why} ({during} checked since)")
                 if d.get("why") else QCoreApplication.translate(
                     "Dashboard", "paused by {who} since {time} ({during} checked since)")).format(
            who=d.get("by", "?"), time=local_time(p.pause.started_at), why=d.get("why", ""), during=p.during[0])
        # (the reason in the row itself: a tooltip is the mouse's, and the banner sends the analyst here for it)
        tip = QCoreApplication.translate(
            "Dashboard", "Paused by hand by {who}{why}. During the pause: {during} checks, {during_wrong} wrong. It "
                         "lifts by hand (fma-judge monitor --resume); a recalibration carries it over.").format(
            who=d.get("by", "?"), why=": " + d["why"] if d.get("why") else "", during=p.during[0],
            during_wrong=p.during[1])
    elif p.paused and p.pause is not None:
        d = p.pause.detail
        state = QCoreApplication.translate(
            "Dashboard", "paused since {time} ({wrong} wrong, {checks} checked; {during} checked since)").format(
            time=local_time(p.pause.started_at), wrong=d.get("wrong", "?"), checks=d.get("checks", "?"),
            during=p.during[0])
        since = (QCoreApplication.translate("Dashboard", "since the calibration") if p.since is None else
                 QCoreApplication.translate("Dashboard", "since {time}").format(time=local_time(p.since)))
        tip = QCoreApplication.translate(
            "Dashboard", "Paused on {wrong} wrong of {checks} blind checks judged {since}: purity at most {upper}, "
                         "under the {target} it is held to. During the pause: {during} checks, {during_wrong} wrong; "
                         "it resumes by itself once {resume} or more are at least {target} right.").format(
            wrong=d.get("wrong", "?"), checks=d.get("checks", "?"), since=since, upper=pct(d.get("upper_bound")),
            target=pct(d.get("target", report.target)), during=p.during[0], during_wrong=p.during[1],
            resume=report.settings.resume_checks)
    elif p.paused:
        state = QCoreApplication.translate("Dashboard", "paused")
    elif p.below:
        state = QCoreApplication.translate("Dashboard", "below target")
    elif p.under_so_far:
        # "0.0% (0.0–95.0)  on" read as a contradiction (QE walk-through): the checks point under the promise, but
        # too few of them to show it at the monitor's confidence
        state = QCoreApplication.translate("Dashboard", "on (too few checks to tell)")
        tip = QCoreApplication.translate(
            "Dashboard", "{wrong} wrong of {checks} blind checks: under the {target} this type is held to so far, but "
                         "too few checks to show it at {confidence}% (its purity could still be up to {upper}). "
                         "Auto-judging pauses by itself once the checks show it.").format(
            wrong=p.wrong, checks=p.checks, target=pct(p.floor), confidence=f"{report.settings.confidence * 100:g}",
            upper=pct(p.high))
    else:
        state = QCoreApplication.translate("Dashboard", "on")
    bounds = "–" if p.estimate is None else f"{p.estimate * 100:.1f}% ({p.low * 100:.1f}–{p.high * 100:.1f})"
    return [name, str(p.checks), str(p.wrong), bounds, state], tip


def _code(command: str) -> str:
    return f"<code>{html.escape(command, quote=False)}</code>"  # (a quoted path reads as typed)


def pause_advice(report: MonitorReport, bundle: str | None, db: str | None, names: Mapping[str, str],
                 batch_names: Mapping[str, str]) -> str:
    """The note's paragraph on the pauses in force: what is paused, how it resumes by itself, and the commands
    (this bundle's path, quoted for a shell; ``--db`` where the store is not the default one) that fix or lift it.
    ``names``: leaf -> display name; ``batch_names``: batch id (text) -> name."""
    model = shell_quoted(bundle) if bundle else BUNDLE_PLACEHOLDER
    if db:
        model += f" --db {shell_quoted(db)}"
    leaves = [p for p in report.pauses if p.scope == "leaf"]
    batches = [p for p in report.pauses if p.scope == "batch"]
    what = [names.get(p.target, p.target) for p in leaves]
    drift = "" if not batches else QCoreApplication.translate(
        "Dashboard", "a batch unlike the calibration data") if len(batches) == 1 else QCoreApplication.translate(
        "Dashboard", "{n} batches unlike the calibration data").format(n=len(batches))
    if leaves and drift:  # (one list read "Metal particle, a batch unlike …" as if the type were a batch)
        text = QCoreApplication.translate(
            "Dashboard", "<b>Auto-judging is paused</b> for {types} and for {batches}: their images go to a person, "
                         "a paused type's judged blind.").format(types=html.escape(listed(what), quote=False),
                                                                  batches=drift)
    elif leaves:  # a paused type's images are judged blind (they measure its purity); a paused batch's are not
        text = QCoreApplication.translate(
            "Dashboard", "<b>Auto-judging is paused</b> for {what}: its images go to a person, a paused type's "
                         "judged blind.").format(what=html.escape(listed(what), quote=False))
    else:
        text = QCoreApplication.translate(
            "Dashboard", "<b>Auto-judging is paused</b> for {what}: its images go to a person.").format(what=drift)
    if any(not p.detail.get("by_hand") for p in leaves):
        text += " " + QCoreApplication.translate(
            "Dashboard", "A paused type resumes by itself once {n} or more blind checks made during its pause are "
                         "right at its target share; a paused batch does not.").format(n=report.settings.resume_checks)
    by_hand = [p for p in leaves if p.detail.get("by_hand")]
    if by_hand:  # (fma-judge monitor --pause: the lead who made it lifts it)
        text += " " + QCoreApplication.translate(
            "Dashboard", "Paused by hand, so not resumed by the checks: {what}.").format(what=html.escape(listed(
                [f"{names.get(p.target, p.target)} ({p.detail.get('by', '?')})" for p in by_hand]), quote=False))
    if any(not p.detail.get("by_hand") for p in report.pauses):  # (a lead's pause alone: the lead lifts it, and a
        text += " " + QCoreApplication.translate(  # recalibration carries it over)
            "Dashboard", "To fix it, recalibrate on the recent judged images: {command} (it updates the bundle in "
                         "place and keeps its previous manifest beside it as manifest.json.before-recalibrate-…; add "
                         "{out} to write a copy instead), then load the recalibrated bundle in the app: the pauses the "
                         "checks made end (a lead's go on).").format(
            command=_code(f"fma-judge recalibrate --model {model}"), out=_code("--out NEW_FOLDER"))
    resumes = []
    for p in report.pauses:
        what_of = names.get(p.target, p.target) if p.scope == "leaf" else QCoreApplication.translate(
            "Dashboard", "batch {name}").format(name=batch_names.get(p.target, p.target))
        resumes.append(f"{_code(f'fma-judge monitor --model {model} --resume {p.id}')} "
                       f"({html.escape(what_of, quote=False)})")
    text += " " + QCoreApplication.translate("Dashboard", "A lead can lift a pause by hand: {commands}.").format(
        commands=listed(resumes))
    if not bundle:
        text += " " + QCoreApplication.translate(
            "Dashboard", "(BUNDLE: the model's folder; the store does not know where it was loaded from.)")
    return text
