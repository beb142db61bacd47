"""Dashboard figures (how the model and the analysts are doing) and their chart. No Qt.

:class:`DashboardService` gathers the SQL aggregates of :mod:`app.store.stats` into one frozen
:class:`DashboardFigures`; :func:`render_dashboard_png` draws them with matplotlib (Agg canvas, no
pyplot, safe in a worker thread) in English or Traditional Chinese.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import io
import os
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

from sqlalchemy.engine import Engine

from app.services.monitor import SETS_NOT_MONITORED, MonitorReport, PurityMonitor
from app.store import repo, stats
from app.store.db import session_scope
from app.store.stats import AnalystAgreement, BatchFigures, ClassAgreement, Counts, PeriodFigures
from app.store.urls import default_db_url, sqlite_path, without_password
from models.bundle.manifest import BundleError, BundleManifest, taxonomy_from_json
from models.routing.policy import Calibration, RoutingError

__all__ = [
    "CJK_FONTS",
    "AnalystAgreement",
    "BatchFigures",
    "ClassAgreement",
    "Counts",
    "DashboardFigures",
    "DashboardService",
    "PeriodFigures",
    "dashboard_heading",
    "local_utc_offset_minutes",
    "render_dashboard_png",
    "shared_note",
]

CJK_FONTS: tuple[str, ...] = (
    "Noto Sans CJK TC", "Noto Sans TC", "Microsoft JhengHei", "PingFang TC", "Noto Sans CJK JP", "DejaVu Sans",
)  # fmt: skip
"""Font families tried in order (the first installed ones are used, with per-glyph fallback)."""

COLOURS = {"auto": "#1e8e3e", "corrected": "#1a73e8", "error": "#d93025", "unknown": "#9334e6"}
MAX_BATCHES = 12
MAX_PERIODS = 26
MAX_CLASSES = 20
PAUSING_REASONS: tuple[str, ...] = ("purity_paused", "batch_drift")
"""The routing reasons of a pause in force (``MONITOR_REASONS`` less ``held_back``, left by a pause that ended)."""


@dataclass(frozen=True)
class DashboardFigures:
    """Everything the dashboard shows, for one model version (see :mod:`app.store.stats` for definitions).

    Attributes:
        leaf_names: leaf id -> {"en": name, "zh_TW": name}, from the model version's taxonomy.
    """

    model_version: str
    period: str
    utc_offset_minutes: int
    overall: Counts
    batches: tuple[BatchFigures, ...]
    periods: tuple[PeriodFigures, ...]
    classes: tuple[ClassAgreement, ...]
    analysts: tuple[AnalystAgreement, ...]
    leaf_names: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    generated_at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))
    monitor: MonitorReport | None = None
    bundle_path: str | None = None  # where the model version was last loaded from (the commands the dashboard names)
    db_arg: str | None = None  # the --db those commands need (None: the per-user default database)
    held_back: Mapping[int, Mapping[str, int]] = field(default_factory=dict)  # batch -> pause reason -> undecided
    by_analyst: tuple[tuple[str, Counts], ...] = ()  # (who decided, the counts of their decisions), most first

    def leaf_name(self, leaf: str, lang: str = "en") -> str:
        return self.leaf_names.get(leaf, {}).get(lang) or leaf


def local_utc_offset_minutes() -> int:
    """This computer's current offset from UTC, in minutes (Taiwan: 480)."""
    return int(time.localtime().tm_gmtoff // 60)


class DashboardService:
    """Reads the dashboard figures; each call is one read-only session (run it in a worker)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def model_versions(self) -> list[str]:
        """Registered model versions, most recently registered first."""
        with session_scope(self.engine, action="read") as s:
            return [m.version for m in repo.list_model_versions(s)]

    def figures(
        self, model_version: str, *, period: str = "week", utc_offset_minutes: int | None = None
    ) -> DashboardFigures:
        """All figures of ``model_version``; days/weeks in the given UTC offset (default: this computer's).

        Raises:
            ValueError: ``period`` is not ``day`` or ``week``.
        """
        if period not in stats.PERIODS:
            raise ValueError(f"unknown period {period!r}; use one of {', '.join(stats.PERIODS)}")
        offset = local_utc_offset_minutes() if utc_offset_minutes is None else int(utc_offset_minutes)
        with session_scope(self.engine, action="read") as s:
            manifest = repo.model_manifest(s, model_version) or {}
            record = repo.get_model_version(s, model_version)
            batches = tuple(stats.batch_figures(s, model_version=model_version))
            figures = DashboardFigures(
                model_version=model_version,
                period=period,
                utc_offset_minutes=offset,
                overall=stats.overall_figures(s, model_version=model_version),
                batches=batches,
                periods=tuple(
                    stats.period_figures(
                        s, model_version=model_version, period=period, utc_offset_minutes=offset
                    )
                ),
                classes=tuple(stats.class_agreement(s, model_version=model_version)),
                analysts=tuple(stats.analyst_agreement(s)),
                leaf_names=_leaf_names(manifest),
                bundle_path=None if record is None else record.bundle_path,
                db_arg=_db_arg(self.engine),
                held_back=stats.held_back_by_batch(s, model_version=model_version, reasons=PAUSING_REASONS),
                by_analyst=tuple(stats.analyst_figures(s, model_version=model_version)),
            )
        try:  # the purity monitor's view of the calibration the model version was registered with (nothing changes)
            calibration = Calibration.from_manifest(manifest)
        except RoutingError:
            calibration = None
        if calibration is None and (manifest.get("multilabel") or {}).get("set_threshold") is not None:
            return dataclasses.replace(figures, monitor=MonitorReport(model_version, None, None,
                                                                      why_not=SETS_NOT_MONITORED))
        return dataclasses.replace(figures, monitor=PurityMonitor(self.engine).check(
            model_version, calibration, batch_ids=[b.batch_id for b in batches], act=False,
            fused=_fused_calibration(manifest)))


def _db_arg(engine: Engine) -> str | None:
    """What ``--db`` a command needs to reach this store: None for the per-user default database, a SQLite file's
    path, else the URL without its password (the person running the command supplies it)."""
    url = engine.url
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        default = sqlite_path(default_db_url())  # (FMA_JUDGE_DB may be a plain path: no URL to parse)
        return None if default is not None and os.path.abspath(url.database) == os.path.abspath(default) \
            else url.database
    return without_password(url)  # ("fma:***" could not be pasted and run)


def _fused_calibration(manifest: dict) -> Calibration | None:
    """The stored manifest's routing of predictions fused with spectra (None: none, or a manifest it cannot read)."""
    if not manifest.get("spectrum"):
        return None
    try:
        return BundleManifest.from_json(manifest, source="stored model manifest").fused_calibration
    except (BundleError, KeyError, TypeError, ValueError):
        return None


def _leaf_names(manifest: dict) -> dict[str, dict[str, str]]:
    """Leaf names in both languages from a stored manifest ({} when it has no usable taxonomy)."""
    try:
        taxonomy = taxonomy_from_json(manifest, source="stored model manifest")
    except BundleError:
        return {}
    return {
        leaf: {"en": taxonomy.name(leaf, "en"), "zh_TW": taxonomy.name(leaf, "zh_TW")}
        for leaf in taxonomy.leaves
    }


# ------------------------------------------------------------------------------------------ chart
_TEXT: dict[str, dict[str, str]] = {
    "title": {"en": "Model {version}", "zh_TW": "模型 {version}"},
    "summary": {
        "en": "{predicted} predicted · {auto} auto-judged · {judged} judged · {corrected} corrected · "
        "model error {error} on reviewed images",
        "zh_TW": "已預測 {predicted} · 自動判定 {auto} · 已判定 {judged} · 已更正 {corrected} · 人員判定影像上的模型錯誤率 {error}",
    },
    "shared": {
        "en": "The batch rows add up to {extra} more than these figures: a picture that several batches hold (the "
        "same file in another lot) counts in each of their rows, and once here.",
        "zh_TW": "各批次列加總比上列數字多 {extra} 張：多個批次共有的影像（另一批中的相同檔案）在每個批次列各計一次，此處只計一次。",
    },
    "per_week": {"en": "Per week", "zh_TW": "每週"},
    "per_day": {"en": "Per day", "zh_TW": "每日"},
    "per_month": {"en": "Per month", "zh_TW": "每月"},
    "per_batch": {"en": "Per batch (latest {n})", "zh_TW": "每批次（最近 {n} 批）"},
    "auto": {"en": "auto-judged", "zh_TW": "自動判定"},
    "corrected": {"en": "corrected by analysts", "zh_TW": "人工更正"},
    "error": {"en": "model error", "zh_TW": "模型錯誤"},
    "classes": {"en": "Analysts agree with the predicted class", "zh_TW": "分析人員同意預測類別的比例"},
    "classes_some": {"en": "Analysts agree with the predicted class (the {n} most reviewed of {total})",
                     "zh_TW": "分析人員同意預測類別的比例（審閱最多的 {n} 類，共 {total} 類）"},
    "kappa": {"en": "Agreement between analysts (Cohen's κ)", "zh_TW": "分析人員之間的一致性（Cohen's κ）"},
    "analyst_a": {"en": "Analyst", "zh_TW": "分析人員"},
    "analyst_b": {"en": "Analyst", "zh_TW": "分析人員"},
    "images": {"en": "Images", "zh_TW": "影像數"},
    "observed": {"en": "Agreement", "zh_TW": "一致率"},
    "no_data": {"en": "No data yet", "zh_TW": "尚無資料"},
    "kappa_note": {
        "en": "κ: 1 = full agreement, 0 = no better than chance. Each analyst's latest own decision per image.",
        "zh_TW": "κ：1 = 完全一致，0 = 與隨機相同。取每位分析人員對每張影像最新的判定。",
    },
    "no_pairs": {"en": "No image was judged by two analysts yet", "zh_TW": "尚無兩位分析人員都判定過的影像"},
    "no_reviews": {"en": "No analyst has judged an image of this model yet", "zh_TW": "尚無分析人員判定過此模型的影像"},
    "share": {"en": "share", "zh_TW": "比例"},
}


def _t(key: str, lang: str, **values: object) -> str:
    text = _TEXT[key].get(lang) or _TEXT[key]["en"]
    return text.format(**values) if values else text


_CJK_FILE_HINTS = ("notosanscjk", "notosanstc", "msjh", "pingfang")
_fonts_scanned = False


def _font_families() -> list[str]:
    """The installed families of :data:`CJK_FONTS`, in order.

    matplotlib caches its font list once; a CJK font installed after that is found by scanning the system
    font folders (once per process) and registering the matching files.
    """
    global _fonts_scanned
    from matplotlib import font_manager

    installed = {f.name for f in font_manager.fontManager.ttflist}
    if not installed & set(CJK_FONTS[:-1]) and not _fonts_scanned:
        _fonts_scanned = True
        for path in font_manager.findSystemFonts():
            if any(hint in path.replace("-", "").replace("_", "").lower() for hint in _CJK_FILE_HINTS):
                try:
                    font_manager.fontManager.addfont(path)
                except (OSError, RuntimeError, ValueError):
                    continue
        installed = {f.name for f in font_manager.fontManager.ttflist}
    found = [name for name in CJK_FONTS if name in installed]
    return found or ["DejaVu Sans"]


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value * 100:.1f}%"


def _series(values: list[float | None]) -> list[float]:
    return [float("nan") if v is None else v * 100 for v in values]


def _style(ax, fg: str, grid: str) -> None:
    ax.set_facecolor("none")
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    for side in ("left", "bottom"):
        ax.spines[side].set_color(grid)
    ax.tick_params(colors=fg, labelsize=9)
    ax.yaxis.grid(True, color=grid, linewidth=0.6)
    ax.set_axisbelow(True)


def _empty(ax, lang: str, fg: str, why: str = "no_data") -> None:
    """A chart with nothing to draw says so, on the dashboard's own background (an empty axes was a white box)."""
    ax.axis("off")
    ax.text(0.5, 0.5, _t(why, lang), ha="center", va="center", color=fg, fontsize=11, transform=ax.transAxes)


def dashboard_heading(figures: DashboardFigures, lang: str = "en") -> tuple[str, str]:
    """The dashboard's heading and its one-line summary, in ``lang`` (as the PNG writes them)."""
    o = figures.overall
    summary = _t(
        "summary",
        lang,
        predicted=f"{o.predicted:,}",
        auto=f"{o.auto:,} ({_pct(o.auto_share)})" if o.predicted else _pct(o.auto_share),  # (a count a report
        judged=f"{o.judged:,}",  # needs: it was only a share of the predicted)
        corrected=f"{o.corrected:,} ({_pct(o.corrected_share)})" if o.judged else _pct(o.corrected_share),
        error=_pct(o.error_rate),
    )
    return _t("title", lang, version=figures.model_version), summary


def shared_note(figures: DashboardFigures, lang: str = "en") -> str:
    """Why the batch rows add up to more than the summary, when they do (empty when not): a picture several lots
    hold counts in each lot's row and once overall (70 against 66 predicted, unexplained: bug hunt)."""
    o = figures.overall
    extra = sum(b.counts.predicted + b.counts.failed for b in figures.batches) - o.predicted - o.failed
    return _t("shared", lang, extra=f"{extra:,}") if extra > 0 else ""


HEADING_PX = 64
"""Height of the PNG's heading (title and summary line) at 100 dpi."""


MIN_ROW_PX = 240
"""The least height of a row of the dashboard's charts (their legends, bars and axes still read)."""
CLASS_LINE_PX, CLASS_CHART_PX = 19, 90
"""The class chart's height per bar (a 9-point name, Chinese included, with room between) and for its title and
axis: its row is at least that high."""


def render_dashboard_png(
    figures: DashboardFigures, lang: str = "en", *, width_px: int = 1500, dark: bool = True, heading: bool = True,
    row_px: int | None = None,
) -> bytes:
    """The dashboard as one PNG: shares per period and per batch, per-class agreement, and analyst kappa.

    Args:
        figures: from :meth:`DashboardService.figures`.
        lang: ``en`` or ``zh_TW`` (chart text and class names).
        width_px: image width; the height follows (about 0.62 x width).
        dark: colours for the app's dark theme (False: for printing).
        heading: draw the heading and summary line (:func:`dashboard_heading`) above the charts; the
            dashboard view shows them as text of its own instead.
        row_px: each row of charts at most this high (at least ``MIN_ROW_PX``): the view's height, so a row is seen
            whole with its time axis (at 1366 x 768 it was cut above the dates).
    """
    buffer = io.BytesIO()
    with _figure(figures, lang, width_px=width_px, dark=dark, heading=heading, row_px=row_px) as fig:
        fig.savefig(buffer, format="png", facecolor=fig.get_facecolor(), dpi=fig.dpi)
    return buffer.getvalue()


_DRAWING = threading.Lock()
"""One dashboard drawn at a time: matplotlib's ``rc_context`` sets the process's settings and puts back, when it
ends, those it found; two drawn at once on two threads (a view refreshed twice) ended the first's while the second
drew, and the second's Chinese came out in boxes (DejaVu Sans, without its CJK fonts)."""


@contextlib.contextmanager
def _figure(figures: DashboardFigures, lang: str, *, width_px: int, dark: bool, heading: bool,
            row_px: int | None = None):
    """The dashboard's matplotlib figure (see :func:`render_dashboard_png`), inside its fonts and colours."""
    from matplotlib import rc_context  # imported when a dashboard is drawn, not when the app starts (~0.3 s)
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    bg, fg, grid = ("#2b2d31", "#e8eaed", "#4a4e52") if dark else ("white", "#202124", "#dadce0")
    dpi = 100
    with _DRAWING, rc_context(
        {
            "font.family": _font_families(),
            "axes.unicode_minus": False,
            "text.color": fg,
            "axes.labelcolor": fg,
            "axes.titlecolor": fg,
            "axes.titlesize": 12,
        }
    ):
        chart_px = (width_px * 0.62 - (HEADING_PX if heading else 0)) / 2
        if row_px is not None:
            chart_px = min(chart_px, max(MIN_ROW_PX, row_px))
        shown = min(MAX_CLASSES, sum(1 for c in figures.classes if c.reviewed))  # the class chart's bars: the
        # lower row grows to give each its line (17 Chinese names on a 240 px row were drawn over each other)
        lower_px = max(chart_px, shown * CLASS_LINE_PX + CLASS_CHART_PX)
        height_px = chart_px + lower_px + (HEADING_PX if heading else 0)
        fig = Figure(figsize=(width_px / dpi, height_px / dpi), dpi=dpi, facecolor=bg, layout="constrained")
        fig.get_layout_engine().set(w_pad=0.12, h_pad=0.12, hspace=0.06, wspace=0.06)
        FigureCanvasAgg(fig)
        # The heading row is HEADING_PX high whatever the width (a share of the height was too little for
        # two lines on narrow charts); the summary hangs below the title's own box, so they never overlap.
        rows = [HEADING_PX / chart_px, 1, lower_px / chart_px] if heading else [1, lower_px / chart_px]
        grid_spec = fig.add_gridspec(len(rows), 2, height_ratios=rows)
        first = len(rows) - 2
        if heading:
            header = fig.add_subplot(grid_spec[0, :])
            header.axis("off")
            title_text, summary_text = dashboard_heading(figures, lang)
            title = header.text(
                0, 1, title_text, ha="left", va="top", fontsize=15, fontweight="bold", color=fg,
                transform=header.transAxes,
            )  # fmt: skip
            header.annotate(
                summary_text, xy=(0, 0), xycoords=title, xytext=(0, -6), textcoords="offset points",
                ha="left", va="top", fontsize=10.5, color=fg,
            )  # fmt: skip
        _draw_periods(fig.add_subplot(grid_spec[first, 0]), figures, lang, fg, grid)
        _draw_batches(fig.add_subplot(grid_spec[first, 1]), figures, lang, fg, grid)
        _draw_classes(fig.add_subplot(grid_spec[first + 1, 0]), figures, lang, fg, grid)
        _draw_kappa(fig.add_subplot(grid_spec[first + 1, 1]), figures, lang, fg, grid)
        yield fig


MIN_BAR_SLOTS = 5
"""The fewest groups' widths a bar chart spans (fewer groups are centred in it)."""
FIGURES_ON_BARS = 3
"""Up to this many groups, each bar has its figure on it (whole percents: "18.2%" was wider than its bar, and two
groups' figures ran into each other)."""


def _three_lines(
    ax, labels: list[str], counts: list[Counts], lang: str, fg: str, grid: str, bars: bool
) -> None:
    series = [
        ("auto", _series([c.auto_share for c in counts])),
        ("corrected", _series([c.corrected_share for c in counts])),
        ("error", _series([c.error_rate for c in counts])),
    ]
    xs = list(range(len(labels)))
    if bars:
        width = 0.26
        for k, (key, values) in enumerate(series):
            drawn = ax.bar(
                [x + (k - 1) * width for x in xs],
                values,
                width=width,
                color=COLOURS[key],
                label=_t(key, lang),
            )
            if len(xs) <= FIGURES_ON_BARS:  # a few bars: their figures on them
                ax.bar_label(drawn, labels=["" if v != v else f"{v:.0f}%" for v in values], padding=2, fontsize=8,
                             color=fg)
        # a few groups keep a group's width, centred (one batch or week: three bars across the whole chart)
        slots = max(len(xs), MIN_BAR_SLOTS)
        ax.set_xlim(-0.5 - (slots - len(xs)) / 2, len(xs) - 0.5 + (slots - len(xs)) / 2)
    else:
        for key, values in series:
            ax.plot(
                xs, values, marker="o", markersize=4, linewidth=2, color=COLOURS[key], label=_t(key, lang)
            )
    ax.set_ylim(0, 110 if bars and len(xs) <= FIGURES_ON_BARS else 100)  # (room for a 100% bar's figure under the
    ax.set_yticks([0, 20, 40, 60, 80, 100])  # legend: it ran into it)
    ax.set_ylabel("%", color=fg)
    step = max(1, len(labels) // 10)
    ax.set_xticks(xs[::step], labels[::step], rotation=30 if bars else 0, ha="right" if bars else "center")
    legend = ax.legend(
        loc="lower left", bbox_to_anchor=(0, 1.0), ncols=3, fontsize=9, frameon=False, borderaxespad=0.2
    )
    # In one row the legend ran past the figure's right edge in a narrow dashboard ("model e…" at 900 px in
    # English): then two rows, the title raised above them. Half the figure, less the y axis's labels.
    if legend.get_window_extent(ax.figure.canvas.get_renderer()).width > ax.figure.bbox.width / 2 - 70:
        legend.remove()
        legend = ax.legend(
            loc="lower left", bbox_to_anchor=(0, 1.0), ncols=2, fontsize=9, frameon=False, borderaxespad=0.2
        )
        ax.set_title(ax.get_title(loc="left"), loc="left", pad=38)
    for text in legend.get_texts():
        text.set_color(fg)
    _style(ax, fg, grid)


def period_labels(starts: list[dt.date], period: str = "week") -> tuple[list[str], int | None]:
    """The periods' axis labels, month-day (months: year-month), and the one year they all fall in (None: they span
    several, and the first of each year is labelled with its year: weeks across New Year read 12-29, 01-05 with no
    year)."""
    if period == "month":
        return [d.strftime("%Y-%m") for d in starts], None
    years = {d.year for d in starts}
    if len(years) <= 1:
        return [d.strftime("%m-%d") for d in starts], next(iter(years), None)
    return [d.strftime("%Y-%m-%d" if i == 0 or starts[i - 1].year != d.year else "%m-%d")
            for i, d in enumerate(starts)], None


def _draw_periods(ax, figures: DashboardFigures, lang: str, fg: str, grid: str) -> None:
    periods = figures.periods[-MAX_PERIODS:]
    labels, year = period_labels([p.start for p in periods], figures.period)
    title = _t(f"per_{figures.period}", lang)
    ax.set_title(title if year is None else f"{title} · {year}", loc="left", pad=24)
    if not periods:
        _empty(ax, lang, fg)
        return
    # one period (a first week) as bars: three lines of one point each read as three stray dots
    _three_lines(ax, labels, [p.counts for p in periods], lang, fg, grid, bars=len(periods) == 1)


def _draw_batches(ax, figures: DashboardFigures, lang: str, fg: str, grid: str) -> None:
    batches = figures.batches[-MAX_BATCHES:]
    ax.set_title(_t("per_batch", lang, n=len(batches)), loc="left", pad=24)
    if not batches:
        _empty(ax, lang, fg)
        return
    labels = [b.name if len(b.name) <= 18 else b.name[:17] + "…" for b in batches]
    _three_lines(ax, labels, [b.counts for b in batches], lang, fg, grid, bars=True)


def classes_title(figures: DashboardFigures, lang: str = "en") -> str:
    """The per-class chart's title; with more reviewed classes than it shows (a 150-leaf tree), which ones."""
    total = sum(1 for c in figures.classes if c.reviewed)
    return _t("classes_some", lang, n=MAX_CLASSES, total=total) if total > MAX_CLASSES else _t("classes", lang)


def _draw_classes(ax, figures: DashboardFigures, lang: str, fg: str, grid: str) -> None:
    ax.set_title(classes_title(figures, lang), loc="left")
    classes = [c for c in figures.classes if c.reviewed][:MAX_CLASSES]  # the most reviewed first
    if not classes:
        _empty(ax, lang, fg, "no_reviews")
        return
    classes.sort(key=lambda c: (c.share or 0.0, -c.reviewed))
    names = [figures.leaf_name(c.leaf, lang) for c in classes]
    shares = [(c.share or 0.0) * 100 for c in classes]
    colours = [COLOURS["auto"] if s >= 90 else "#f9ab00" if s >= 70 else COLOURS["error"] for s in shares]
    ys = list(range(len(classes)))
    ax.barh(ys, shares, color=colours, height=0.7)
    for y, (c, s) in enumerate(zip(classes, shares, strict=True)):
        ax.text(min(s, 100) + 1, y, f"{s:.0f}%  (n={c.reviewed})", va="center", fontsize=8.5, color=fg)
    ax.set_yticks(ys, names, fontsize=9)
    ax.set_xlim(0, 125)
    ax.set_xticks([0, 25, 50, 75, 100], ["0", "25", "50", "75", "100%"])
    _style(ax, fg, grid)
    ax.yaxis.grid(False)
    ax.xaxis.grid(True, color=grid, linewidth=0.6)


def _draw_kappa(ax, figures: DashboardFigures, lang: str, fg: str, grid: str) -> None:
    ax.set_title(_t("kappa", lang), loc="left")
    ax.axis("off")
    pairs = figures.analysts[:12]
    if not pairs:
        ax.text(
            0.5,
            0.5,
            _t("no_pairs", lang),
            ha="center",
            va="center",
            color=fg,
            fontsize=11,
            transform=ax.transAxes,
        )
        return
    header = [_t("analyst_a", lang), _t("analyst_b", lang), _t("images", lang), _t("observed", lang), "κ"]
    cells = [
        [p.analyst_a, p.analyst_b, str(p.n), _pct(p.observed), "–" if p.kappa is None else f"{p.kappa:.2f}"]
        for p in pairs
    ]
    table = ax.table(
        cellText=cells,
        colLabels=header,
        loc="upper left",
        cellLoc="left",
        colLoc="left",
        colWidths=[0.24, 0.24, 0.14, 0.22, 0.12],  # ("Agreement" ran into κ at 0.16)
    )
    table.auto_set_font_size(False)
    table.set_fontsize(10)
    table.scale(1, 1.6)
    ax.text(
        0,
        0.02,
        _t("kappa_note", lang),
        ha="left",
        va="bottom",
        fontsize=9,
        color=fg,
        alpha=0.75,
        transform=ax.transAxes,
        wrap=True,
    )
    for (row, _col), cell in table.get_celld().items():
        cell.set_edgecolor(grid)
        cell.set_facecolor("none")
        cell.get_text().set_color(fg)
        if row == 0:
            cell.get_text().set_fontweight("bold")
