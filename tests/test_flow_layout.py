"""The flow layout of the queue's filter rows and buttons: it wraps where the width runs out, so a window's
minimum width is its widest item's (app/ui/flow_layout.py)."""

from __future__ import annotations

import importlib.util

import pytest

pytestmark = pytest.mark.skipif(importlib.util.find_spec("pytestqt") is None, reason="pytest-qt not installed")


def _flow(qtbot, widths, *, right=False):
    from PySide6.QtWidgets import QWidget

    from app.ui.flow_layout import FlowLayout

    host = QWidget()
    qtbot.addWidget(host)
    flow = FlowLayout(host, spacing=10, right=right)
    items = []
    for w in widths:
        child = QWidget(host)
        child.setFixedSize(w, 20)
        flow.addWidget(child)
        items.append(child)
    return host, flow, items


def test_items_wrap_onto_lines_where_the_width_runs_out(qtbot) -> None:
    host, flow, items = _flow(qtbot, [100, 100, 100, 150])
    assert flow.sizeHint().width() == 100 + 100 + 100 + 150 + 3 * 10  # all on one line
    assert flow.minimumSize().width() == 150  # the widest item: the window can be that narrow
    host.resize(600, flow.heightForWidth(600))
    host.show()
    qtbot.waitExposed(host)
    assert {c.y() for c in items} == {0} and flow.heightForWidth(600) == 20
    assert [c.x() for c in items] == [0, 110, 220, 330]
    host.resize(330, flow.heightForWidth(330))
    qtbot.waitUntil(lambda: items[3].y() > 0)
    assert [(c.x(), c.y()) for c in items] == [(0, 0), (110, 0), (220, 0), (0, 30)]
    assert flow.heightForWidth(330) == 50
    assert flow.heightForWidth(150) == 4 * 20 + 3 * 10  # one a line
    host.resize(380, 50)
    qtbot.waitUntil(lambda: items[3].x() == 0 and items[3].y() == 30)
    items[1].hide()  # a hidden item takes no room: the last one moves up
    qtbot.waitUntil(lambda: items[3].y() == 0)
    assert [(c.x(), c.y()) for c in (items[0], items[2], items[3])] == [(0, 0), (110, 0), (220, 0)]


def test_a_right_flow_ends_each_line_at_the_right_edge(qtbot) -> None:
    host, flow, items = _flow(qtbot, [100, 100, 100], right=True)
    host.resize(250, flow.heightForWidth(250))
    host.show()
    qtbot.waitExposed(host)
    assert [(c.x(), c.y()) for c in items] == [(40, 0), (150, 0), (150, 30)]
