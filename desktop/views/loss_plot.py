"""A loss curve drawn with QPainter (QtCharts is not part of PySide6-Essentials): training
loss as a line, validation loss as dots joined by a line, the base model's validation loss
as a dashed line — the one the fine-tune must get below."""

from __future__ import annotations

import math

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QPainter, QPainterPath, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

TRAIN = QColor("#4f8ef7")
VAL = QColor("#f5a623")
BASE = QColor("#9aa0a6")


class LossPlot(QWidget):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.setMinimumHeight(180)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.clear()

    def clear(self) -> None:
        self.train: list[tuple[int, float]] = []
        self.val: list[tuple[int, float]] = []
        self.base: float | None = None
        self.total_steps = 0
        self.update()

    def add(self, event) -> None:
        """One progress event (engine/events.py); other events are ignored."""
        from engine import events

        if not isinstance(event, events.Step | events.Evaluation | events.Checkpoint):
            return
        step = event.step
        self.total_steps = max(self.total_steps, event.total_steps or 0, step)
        if isinstance(event, events.Step):
            self.train.append((step, float(event.loss)))
        elif isinstance(event, events.Evaluation) and event.base and event.val_loss:
            self.base = float(event.val_loss)
        elif isinstance(event, events.Checkpoint) and event.val_loss is not None:
            self.val.append((step, float(event.val_loss)))
        self.update()

    def _ranges(self) -> tuple[float, float, float]:
        values = [v for _, v in self.train + self.val] + ([self.base] if self.base else [])
        low, high = (min(values), max(values)) if values else (0.0, 1.0)
        if math.isclose(low, high):
            low, high = low - 0.5, high + 0.5
        pad = (high - low) * 0.08
        return max(1, self.total_steps), low - pad, high + pad

    def paintEvent(self, _event) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        area = QRectF(self.rect()).adjusted(48, 12, -12, -28)
        text = self.palette().color(self.foregroundRole())
        grid = QColor(text)
        grid.setAlpha(40)
        if not (self.train or self.val or self.base):
            painter.setPen(text)
            painter.drawText(area, Qt.AlignmentFlag.AlignCenter,
                             "The loss curve appears here while a model trains.")
            return
        steps, low, high = self._ranges()

        def point(step: float, value: float) -> QPointF:
            return QPointF(area.left() + area.width() * step / steps,
                           area.bottom() - area.height() * (value - low) / (high - low))

        painter.setPen(QPen(grid, 1))
        for i in range(5):  # value grid and labels
            value = low + (high - low) * i / 4
            y = point(0, value).y()
            painter.drawLine(QPointF(area.left(), y), QPointF(area.right(), y))
            painter.setPen(text)
            painter.drawText(QRectF(0, y - 8, 44, 16),
                             Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
                             f"{value:.2f}")
            painter.setPen(QPen(grid, 1))
        painter.setPen(text)
        for step in sorted({round(steps * i / 4) for i in range(5)}):  # step labels
            x = point(step, low).x()
            painter.drawText(QRectF(x - 30, area.bottom() + 4, 60, 18),
                             Qt.AlignmentFlag.AlignHCenter, str(step))
        if self.base is not None:
            pen = QPen(BASE, 1.5, Qt.PenStyle.DashLine)
            painter.setPen(pen)
            y = point(0, self.base).y()
            painter.drawLine(QPointF(area.left(), y), QPointF(area.right(), y))
        for series, colour, dots in ((self.train, TRAIN, False), (self.val, VAL, True)):
            if not series:
                continue
            path = QPainterPath(point(*series[0]))
            for step, value in series[1:]:
                path.lineTo(point(step, value))
            painter.setPen(QPen(colour, 2))
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawPath(path)
            if dots:
                painter.setBrush(colour)
                for step, value in series:
                    painter.drawEllipse(point(step, value), 3.5, 3.5)
        legend = [("training loss", TRAIN), ("validation loss", VAL), ("base model", BASE)]
        x = area.right() - 330
        for label, colour in legend:
            painter.setPen(QPen(colour, 3))
            painter.drawLine(QPointF(x, area.top() + 8), QPointF(x + 16, area.top() + 8))
            painter.setPen(text)
            painter.drawText(QPointF(x + 20, area.top() + 12), label)
            x += 115
