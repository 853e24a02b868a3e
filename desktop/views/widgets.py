"""Small widgets the pages share."""

from __future__ import annotations

from PySide6.QtWidgets import QAbstractItemView, QComboBox, QHeaderView, QTableView

from engine import languages


def language_combo(*, with_detect: bool = False) -> QComboBox:
    combo = QComboBox()
    if with_detect:
        combo.addItem("Detect language", None)
    for code in ("en", "zh", "ja", "ko", "fr", "de", "es", "pt", "it", "ru"):
        combo.addItem(languages.name(code), code)
    for code in sorted(set(languages.NAMES) - {"en", "zh", "ja", "ko", "fr", "de", "es", "pt",
                                               "it", "ru"}):
        combo.addItem(languages.name(code), code)
    return combo


def select_data(combo: QComboBox, value) -> None:
    index = combo.findData(value)
    if index >= 0:
        combo.setCurrentIndex(index)


def table_view(model, *, stretch: str | tuple[str, ...] = ()) -> QTableView:
    view = QTableView()
    view.setModel(model)
    view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    view.verticalHeader().setVisible(False)
    view.setWordWrap(False)
    view.setAlternatingRowColors(True)
    header = view.horizontalHeader()
    header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    for key in (stretch,) if isinstance(stretch, str) else stretch:
        header.setSectionResizeMode(model.column_index(key), QHeaderView.ResizeMode.Stretch)
    return view


def diff_html(ops: list[tuple[str, str]]) -> str:
    """A word diff for a label: deletions struck through in red, insertions in green."""
    from html import escape

    parts = []
    for op, text in ops:
        text = escape(text).replace("\n", "<br>")
        if op == "delete":
            parts.append(f"<span style='color:#c0392b;text-decoration:line-through'>{text}</span>")
        elif op == "insert":
            parts.append(f"<span style='color:#1e8449;font-weight:600'>{text}</span>")
        else:
            parts.append(text)
    return "".join(parts)
