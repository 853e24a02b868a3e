"""Small widgets the pages share.

Text from outside (model, file and host names, errors from a box, documents, model output)
is never markup: `Label` and `ask`/`warn` show plain text, `tooltip` escapes. Only
OwnVoice's own HTML goes through `rich_label` (outside text inside it escaped first).
"""

from __future__ import annotations

from html import escape

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHeaderView,
    QLabel,
    QMessageBox,
    QTableView,
    QWidget,
)

from engine import languages

TRUSTED_HTML = "ownvoice_trusted_html"  # the property rich_label sets (checked by a test)


class Label(QLabel):
    """A QLabel that shows its text as plain text whatever it contains (Qt's default,
    AutoText, renders anything that looks like HTML as HTML)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.setTextFormat(Qt.TextFormat.PlainText)


def rich_label(html: str, **kwargs) -> QLabel:
    """A label for OwnVoice's own HTML (a guide, a word diff built with escaped text)."""
    label = QLabel(html, **kwargs)
    label.setTextFormat(Qt.TextFormat.RichText)
    label.setProperty(TRUSTED_HTML, True)
    return label


def tooltip(text: str) -> str:
    """`text` as a tooltip that shows exactly these characters (Qt renders tooltips that
    look like HTML as HTML)."""
    return ("<p style='white-space:pre-wrap'>" + escape(text).replace("\n", "<br>")
            + "</p>") if text else ""


def _box(parent: QWidget | None, icon: QMessageBox.Icon, title: str, text: str,
         buttons: QMessageBox.StandardButton) -> QMessageBox:
    box = QMessageBox(icon, title, text, buttons, parent)
    box.setTextFormat(Qt.TextFormat.PlainText)
    return box


def ask(parent: QWidget | None, title: str, text: str) -> bool:
    """A Yes/No question in plain text; True for Yes."""
    buttons = QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No
    box = _box(parent, QMessageBox.Icon.Question, title, text, buttons)
    return box.exec() == QMessageBox.StandardButton.Yes


def warn(parent: QWidget | None, title: str, text: str) -> None:
    """A warning in plain text."""
    _box(parent, QMessageBox.Icon.Warning, title, text, QMessageBox.StandardButton.Ok).exec()



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
