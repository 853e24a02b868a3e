"""Table models over plain rows, tested without a window."""

from __future__ import annotations

from PySide6.QtCore import Qt

from desktop.table_models.rows import ROW_ROLE
from desktop.table_models.tables import documents_model, history_model, models_model


def test_rows_columns_and_display(qapp):
    model = history_model()
    model.set_rows([{"id": 1, "created_at": "2026-11-24T14:53:36+00:00", "rating": 1,
                     "source_text": "Good\nmorning.", "output_text": "早上好。",
                     "corrected_text": "早安。", "model_name": "gemma"}])
    assert (model.rowCount(), model.columnCount()) == (1, 5)
    headers = [model.headerData(i, Qt.Orientation.Horizontal) for i in range(5)]
    assert headers == ["When", "", "Source", "Translation", "Model"]
    cell = lambda column: model.data(model.index(0, column))  # noqa: E731
    assert cell(0) == "2026-11-24 14:53"
    assert cell(1) == "▲ ✎"
    assert cell(2) == "Good ⏎ morning."
    assert cell(3) == "早安。"  # the user's correction wins
    # Tooltips show exactly the text: escaped, line breaks kept (Qt renders HTML-like text).
    assert model.data(model.index(0, 2), Qt.ItemDataRole.ToolTipRole) == (
        "<p style='white-space:pre-wrap'>Good<br>morning.</p>")
    assert model.data(model.index(0, 4), ROW_ROLE)["id"] == 1
    model.set_rows([{"source_text": "a <b>b</b> & c"}])
    assert "a &lt;b&gt;b&lt;/b&gt; &amp; c" in model.data(model.index(0, 2),
                                                           Qt.ItemDataRole.ToolTipRole)


def test_excluded_rows_are_greyed_and_sizes_readable(qapp):
    docs = documents_model()
    docs.set_rows([{"title": "A", "excluded": 1}, {"title": "B", "excluded": 0}])
    assert docs.data(docs.index(0, 0), Qt.ItemDataRole.ForegroundRole) is not None
    assert docs.data(docs.index(1, 0), Qt.ItemDataRole.ForegroundRole) is None
    assert docs.data(docs.index(0, docs.column_index("excluded"))) == "excluded"
    models = models_model()
    models.set_rows([{"active": True, "name": "m", "origin": "default", "size_bytes": 253e6,
                      "path": None, "base_url": None, "model_id": "gpt-4o"}])
    assert models.data(models.index(0, 0)) == "●"
    assert models.data(models.index(0, models.column_index("size_bytes"))) == "253 MB"
    assert models.data(models.index(0, models.column_index("path"))) == "api.openai.com (gpt-4o)"
