"""A read-only table model over a list of dicts, with named columns.

Each page declares its columns (key, title, optional formatter); the model knows
nothing else about the data, so it is tested without a window.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt

from desktop.views.widgets import tooltip

Index = QModelIndex | QPersistentModelIndex


@dataclass(frozen=True)
class Column:
    key: str
    title: str
    format: Callable[[Any, dict], str] | None = None  # (value, row) → display text
    tooltip: bool | str = False  # True: the full value as a tooltip; a key: that field


ROW_ROLE = Qt.ItemDataRole.UserRole + 1  # the whole row dict


class RowsModel(QAbstractTableModel):
    def __init__(self, columns: list[Column], parent=None):
        super().__init__(parent)
        self.columns = columns
        self.rows: list[dict] = []

    def set_rows(self, rows: list[dict]) -> None:
        self.beginResetModel()
        self.rows = list(rows)
        self.endResetModel()

    def row(self, index: int) -> dict:
        return self.rows[index]

    def column_index(self, key: str) -> int:
        return next(i for i, c in enumerate(self.columns) if c.key == key)

    # Qt overrides ------------------------------------------------------------------------

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: N802, B008
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: N802, B008
        return 0 if parent.isValid() else len(self.columns)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        row = self.rows[index.row()]
        column = self.columns[index.column()]
        value = row.get(column.key)
        if role == Qt.ItemDataRole.DisplayRole:
            text = column.format(value, row) if column.format else ("" if value is None
                                                                    else str(value))
            return text.replace("\n", " ⏎ ")
        if role == Qt.ItemDataRole.ToolTipRole and column.tooltip:
            shown = row.get(column.tooltip) if isinstance(column.tooltip, str) else value
            return tooltip(str(shown)) if shown else None
        if role == ROW_ROLE:
            return row
        if role == Qt.ItemDataRole.ForegroundRole and row.get("excluded"):
            from PySide6.QtGui import QColor

            return QColor(140, 140, 140)
        return None

    def headerData(self, section: int, orientation: Qt.Orientation,  # noqa: N802
                   role: int = Qt.ItemDataRole.DisplayRole):
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal:
            return self.columns[section].title
        return None
