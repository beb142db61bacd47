"""Decoded images and heatmaps for the viewer: decoded off the UI thread, kept in small caches.

The UI thread never decodes: a miss starts a decode on the thread pool and :attr:`ImageCache.decoded` fires
when the image is ready (or cannot be read). Heatmaps arrive from the model thread and are only stored here.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from collections.abc import Callable

from PySide6.QtCore import QObject, QRunnable, Qt, QThreadPool, Signal
from PySide6.QtGui import QImage, QPixmap

from app.ui.workers import Task, TaskRunner
from models.imageio import (
    ImageFacts,
    decode_or_reason,
    image_facts,
    is_content_reason,
    is_reach_reason,
    load_image,
    os_error_reason,
)

IMAGES_KEPT = 24
IMAGES_BYTES = 768 * 2**20
"""The decoded images kept: at most :data:`IMAGES_KEPT`, and past :data:`IMAGES_BYTES` the oldest go too (24 of a
6000 x 4000 camera's images were 1.7 GB), down to :data:`IMAGES_AT_LEAST` (the screen's and the next ones)."""
IMAGES_AT_LEAST = 6
HEATMAPS_KEPT = 64


class PixmapCache:
    """Pixmaps made from files (thumbnails, tiles) by path; past ``size`` the least recently used is dropped."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._kept: OrderedDict[str, QPixmap] = OrderedDict()

    def get(self, path: str) -> QPixmap | None:
        pixmap = self._kept.get(path)
        if pixmap is not None:
            self._kept.move_to_end(path)
        return pixmap

    def put(self, path: str, pixmap: QPixmap) -> None:
        self._kept[path] = pixmap
        self._kept.move_to_end(path)
        while len(self._kept) > self.size:
            self._kept.popitem(last=False)


def pil_to_qimage(img) -> QImage:
    rgb = img.convert("RGB")
    return QImage(rgb.tobytes(), rgb.width, rgb.height, rgb.width * 3, QImage.Format.Format_RGB888).copy()


def decode_qimage(path: str) -> tuple[QImage | None, str | None]:
    """Decode an image file for the viewer (runs on the thread pool): (image, None) or (None, why not)."""
    return decode_or_reason(lambda p: pil_to_qimage(load_image(p)), path)


PREVIEW_SIDE = 2048
"""An image over twice this many pixels a side also gets a copy this size or a little more (reduced by a whole
factor, in the decoding thread), which the viewer shows until a zoom needs more."""


def _with_preview(path: str) -> tuple[QImage, QImage | None]:
    img = load_image(path)
    k = max(img.width, img.height) // PREVIEW_SIDE
    return pil_to_qimage(img), pil_to_qimage(img.reduce(k)) if k >= 2 else None


def decode_with_facts(path: str) -> tuple[QImage | None, str | None, ImageFacts | None, QImage | None]:
    """:func:`decode_qimage`, the file's :class:`~models.imageio.ImageFacts` (None when they cannot be read), and a
    large image's preview (:data:`PREVIEW_SIDE`; None: the image is small enough)."""
    pair, reason = decode_or_reason(_with_preview, path)
    image, preview = pair if pair is not None else (None, None)
    facts, _ = decode_or_reason(image_facts, path) if image is not None else (None, None)
    return image, reason, facts, preview


def decode_thumbnail(path: str, side: int) -> tuple[QImage, str | None]:
    """A thumbnail at most ``side`` pixels wide and high, and None; a null image and why when the file cannot be
    read."""
    def thumb(p: str) -> QImage:
        img = load_image(p, side=side)
        img.thumbnail((side, side))
        return pil_to_qimage(img)

    image, reason = decode_or_reason(thumb, path)
    return (image, None) if image is not None else (QImage(), reason)


class ThumbnailSignals(QObject):
    finished = Signal(str, QImage, str)  # path, image (null: not made), why ("" when read; :func:`is_content_reason`
    # tells a file that is not a readable image, for good, from one not reached now, which may be back later)
    missed = Signal(str, str)  # path, why: a file whose thumbnail was made is not reached now (:class:`FileCheckJob`)


class ThumbnailJob(QRunnable):
    """Decode one thumbnail on a thread pool; ``signals.finished(path, image, why)`` delivers it (null: not made)."""

    def __init__(self, path: str, signals: ThumbnailSignals, side: int = 144) -> None:
        super().__init__()
        self.path = path
        self.signals = signals
        self.side = side

    def run(self) -> None:
        image, reason = decode_thumbnail(self.path, self.side)
        self.signals.finished.emit(self.path, image, reason or "")


class FileCheckJob(QRunnable):
    """Whether the files of thumbnails already made are still there (one ``stat`` each, on a pool): a tile made
    earlier kept showing a file deleted since (walk-through); ``signals.missed(path, why)`` for each that is not."""

    def __init__(self, paths: list[str], signals: ThumbnailSignals) -> None:
        super().__init__()
        self.paths, self.signals = paths, signals

    def run(self) -> None:
        for path in self.paths:
            try:
                os.stat(path)
            except OSError as exc:
                self.signals.missed.emit(path, os_error_reason(exc))


class ThumbnailLoader(QObject):
    """Thumbnails by path for views that scroll fast (the queue's gallery): decoded on a pool of their own,
    newest request first, at most ``in_flight`` at a time; requests past ``backlog`` are dropped oldest first
    (images scrolled past are asked for again when they are painted again). Cached as scaled pixmaps.

    Signals:
        ready(str path): the thumbnail of ``path`` is cached now (a null pixmap when the file cannot be read:
            :meth:`reason` says why).
    """

    ready = Signal(str)

    def __init__(self, side: int, *, cache_size: int = 3000, in_flight: int = 2, backlog: int = 96,
                 parent=None) -> None:
        super().__init__(parent)
        self.side = side
        self.backlog = backlog
        self._cache = PixmapCache(cache_size)
        self._wanted: OrderedDict[str, None] = OrderedDict()  # newest last
        self._busy: set[str] = set()
        self._signals = ThumbnailSignals()
        self._signals.finished.connect(self._done)
        self._signals.missed.connect(lambda path, why: path not in self._busy and self._gone(path, why))
        self._why: dict[str, str] = {}  # path -> why its thumbnail is null
        self._missed: set[str] = set()  # of those, the files not reached (asked for again: forget_missed)
        self._stale: set[str] = set()  # of those, the ones to read again when next painted (shown as they were)
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(in_flight)
        self._slots = in_flight

    def get(self, path: str) -> QPixmap | None:
        """The cached thumbnail (null: unreadable), or None while it loads (and it is asked for). A file not reached
        last time is asked for again after :meth:`forget_missed`, its tile left as it was meanwhile."""
        if (pix := self._cache.get(path)) is not None:
            if path in self._stale and path not in self._busy:
                self._stale.discard(path)
                self._ask(path)  # (the tile keeps saying why until the file is read again)
            return pix
        if path and path not in self._busy:
            self._ask(path)
        return None

    def _ask(self, path: str) -> None:
        self._wanted[path] = None
        self._wanted.move_to_end(path)
        while len(self._wanted) > self.backlog:
            self._wanted.popitem(last=False)
        self._pump()

    def cached(self, path: str) -> QPixmap | None:
        """The cached thumbnail (null: unreadable), or None; never asks for it."""
        return self._cache.get(path)

    def reason(self, path: str) -> str | None:
        """Why the cached thumbnail of ``path`` is null (English, as :mod:`models.imageio` says it), or None."""
        return self._why.get(path)

    def forget_missed(self, shown: list[str] = ()) -> None:
        """Ask again for the files not reached last time (a share back, a file put back) when their tiles are next
        painted: the page was read again. Their tiles keep saying why until then (popped, they painted as loading).
        Of ``shown`` (the page's paths), those with a picture made are checked to be still there (a file deleted
        since kept its picture on the tile while the pane said "file not found")."""
        self._stale |= self._missed
        made = [p for p in shown if (pix := self._cache.get(p)) is not None and not pix.isNull()]
        if made:
            self.pool.start(FileCheckJob(made, self._signals))

    def _gone(self, path: str, reason: str) -> None:
        """A file whose picture was made is not there now: its tile says why, and it is asked for again later."""
        self._cache.put(path, QPixmap())
        self._why[path] = reason
        self._missed.add(path)
        self.ready.emit(path)

    @property
    def pending(self) -> int:
        return len(self._wanted) + len(self._busy)

    def _pump(self) -> None:
        while self._wanted and len(self._busy) < self._slots:
            path, _ = self._wanted.popitem(last=True)
            self._busy.add(path)
            self.pool.start(ThumbnailJob(path, self._signals, self.side))

    def _done(self, path: str, image: QImage, reason: str) -> None:
        self._busy.discard(path)
        if reason:
            self._why[path] = reason
        else:
            self._why.pop(path, None)
        if reason and not is_content_reason(reason):
            self._missed.add(path)
        else:  # (read, or found not an image: that is for good)
            self._missed.discard(path)
            self._stale.discard(path)
        if not image.isNull() and (image.width() > self.side or image.height() > self.side):
            image = image.scaled(self.side, self.side, Qt.AspectRatioMode.KeepAspectRatio,
                                 Qt.TransformationMode.SmoothTransformation)
        self._cache.put(path, QPixmap.fromImage(image) if not image.isNull() else QPixmap())
        self.ready.emit(path)
        self._pump()


URGENT = 10
"""The thread pool priority of the image on screen's decode."""


class ImageCache(QObject):
    """The viewer's images by image id, decoded on a thread pool.

    Signals:
        decoded(int image_id): the image is in the cache now (possibly as None: it cannot be read, see
            :attr:`failed`).
        heatmapsDropped(list image_ids): their heatmaps left the cache (it is bounded, or cleared for another
            batch); the model thread must make them again when they are asked for.
    """

    decoded = Signal(int)
    heatmapsDropped = Signal(list)

    def __init__(self, runner: TaskRunner, parent=None) -> None:
        super().__init__(parent)
        self.runner = runner
        self.images: dict[int, QImage | None] = {}
        self.heatmaps: dict[int, tuple[object, str, str | None]] = {}  # image id -> (map, kind, leaf explained)
        self.failed: dict[int, str] = {}  # image id -> why its content cannot be decoded (for good)
        # image id -> why its file was not reached at the last try (not found, permission denied: a share away);
        # not cached, and read again when the image is shown again (:meth:`retry`): the share may be back
        self.unreached: dict[int, str] = {}
        self._away: set[int] = set()  # unreached, asked for again (retry): its next decode may find it back
        self.facts: dict[int, ImageFacts] = {}  # image id -> size, bit depth, magnification, capture time
        self.previews: dict[int, QImage] = {}  # image id -> a large image's smaller copy (decode_with_facts)
        self._decoding: dict[int, str] = {}  # image id -> the path its decode on the way reads
        self._ahead: dict[int, Task] = {}  # image id -> its decode asked for ahead of the screen, until it reports
        self._generation = 0  # :meth:`clear` counts: a decode started before it delivers nothing
        self.keep: Callable[[], int | None] = lambda: None  # the image that must stay (the one on screen)

    def clear(self) -> None:
        """Forget everything; decodes on their way deliver nothing (one that had read its file before a share went
        away stored it after the clear, as if the file were there)."""
        self._generation += 1
        self._decoding.clear()
        self._ahead.clear()
        self.images.clear()
        self.facts.clear()
        self.previews.clear()
        self.drop_heatmaps()
        self.failed.clear()
        self.unreached.clear()
        self._away.clear()

    def __contains__(self, image_id: int) -> bool:
        return image_id in self.images

    def request(self, image_id: int, path: str, *, urgent: bool = False) -> None:
        """Decode an image unless it is cached, on its way, or was out of reach at the last try (until
        :meth:`retry`). ``urgent``: the image on screen, decoded before those asked for ahead of it (a burst of
        PgDn left the viewer blank while the images of the pages passed were decoded first); one asked for ahead
        and still waiting for a thread is asked for again so (it waited behind the others asked for ahead: a few
        large images are seconds)."""
        if image_id in self.images or image_id in self.unreached:
            return
        waiting = self._ahead.get(image_id)
        # (a decode on the way of another path, the file renamed since, delivers nothing: its "not found" kept the
        # image from the screen)
        if self._decoding.get(image_id) == path and not (urgent and waiting is not None and not waiting.begun):
            return
        if waiting is not None:
            waiting.cancel()  # (it does not run; taken by a thread meanwhile, it delivers nothing)
        self._decoding[image_id] = path
        task = Task(decode_with_facts, path)
        task.signals.result.connect(lambda res, i=image_id, g=self._generation, p=path: self._current(i, g, p)
                                    and self._done(i, *res))
        task.signals.error.connect(lambda msg, i=image_id, g=self._generation, p=path: self._current(i, g, p)
                                   and self._done(i, None, msg))
        if urgent:
            self._ahead.pop(image_id, None)
        else:
            self._ahead[image_id] = task
            task.signals.done.connect(lambda _none, i=image_id, t=task: self._ahead.get(i) is t
                                      and self._ahead.pop(i))
        self.runner.start(task, URGENT if urgent else 0)

    def _current(self, image_id: int, generation: int, path: str) -> bool:
        """Whether a decode that reports is the one the cache waits for (not one from before a :meth:`clear`, or of
        the image's earlier path)."""
        return generation == self._generation and self._decoding.get(image_id) == path

    def _done(self, image_id: int, image: QImage | None, error: str | None, facts: ImageFacts | None = None,
              preview: QImage | None = None) -> None:
        self._decoding.pop(image_id, None)
        if error and is_reach_reason(error):  # out of reach now: said, not kept (the share may come back)
            self.unreached[image_id] = error
            self.decoded.emit(image_id)
            return
        if error:
            self.failed.setdefault(image_id, error)
        if facts is not None:
            self.facts[image_id] = facts
        if preview is not None:
            self.previews[image_id] = preview
        self.images[image_id] = image
        self._bound(self.keep())
        self.decoded.emit(image_id)

    def _bound(self, keep: int | None) -> None:
        """Keep memory flat on big batches and large images: the oldest decoded go first, never ``keep``."""
        if len(self.images) > IMAGES_KEPT:
            for key in [k for k in list(self.images)[:8] if k != keep]:
                self.images.pop(key, None)
                self.facts.pop(key, None)
                self.previews.pop(key, None)
        held = sum(im.sizeInBytes() for im in self.images.values() if im is not None)
        for key in [k for k in list(self.images) if k != keep]:
            if held <= IMAGES_BYTES or len(self.images) <= IMAGES_AT_LEAST:
                break
            if (im := self.images.pop(key)) is not None:
                held -= im.sizeInBytes()
            self.facts.pop(key, None)
            self.previews.pop(key, None)

    def retry(self, image_id: int, *, reread: bool = False) -> None:
        """Read the image again at its next request if its file was out of reach (the analyst came back to it);
        ``reread``: also when it is cached (the model did not reach its file since it was decoded)."""
        if self.unreached.pop(image_id, None) is not None:
            self._away.add(image_id)
        if reread and image_id not in self._decoding:
            self.images.pop(image_id, None)
            self.facts.pop(image_id, None)
            self.previews.pop(image_id, None)

    def came_back(self, image_id: int) -> bool:
        """Whether the image just decoded had not been reached at an earlier try (a share back); said once."""
        if image_id in self._away and self.images.get(image_id) is not None:
            self._away.discard(image_id)
            return True
        return False

    def drop_heatmaps(self) -> None:
        """Forget every heatmap (another batch, another model)."""
        dropped, self.heatmaps = list(self.heatmaps), {}
        if dropped:
            self.heatmapsDropped.emit(dropped)

    def add_heatmap(self, image_id: int, heatmap: object, kind: str, leaf: str | None = None) -> None:
        """Keep a heatmap (the newest last); past :data:`HEATMAPS_KEPT` the oldest but the screen's goes, and
        :attr:`heatmapsDropped` says which."""
        self.heatmaps.pop(image_id, None)  # made again (another leaf): it is the newest now
        self.heatmaps[image_id] = (heatmap, kind, leaf)
        keep = self.keep()
        dropped = [i for i in list(self.heatmaps)[:max(0, len(self.heatmaps) - HEATMAPS_KEPT)] if i != keep]
        for i in dropped:
            del self.heatmaps[i]
        if dropped:
            self.heatmapsDropped.emit(dropped)
