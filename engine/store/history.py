"""The translations history: translations, their ratings and corrections."""

from __future__ import annotations

import json
import sqlite3

from engine.store.db import _dicts, utc_now


class HistoryQueries:
    """Translations, ratings and corrections; a Store mixin."""

    def add_translation(self, *, model_id: int | None, model_name: str, result) -> int:
        """Store a TranslationResult (engine.translation.translate); returns its history id."""
        units = [{"source": u.source, "output": u.output} for u in result.units]
        with self.transaction() as conn:
            cur = conn.execute(
                "INSERT INTO translations (created_at, model_id, model_name, source_lang,"
                " target_lang, source_text, output_text, units, settings, tokens_in, tokens_out,"
                " ttft_ms, total_ms, warnings) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (utc_now(), model_id, model_name, result.source_lang, result.target_lang,
                 result.source_text, result.output, json.dumps(units, ensure_ascii=False),
                 json.dumps(result.settings), result.tokens_in, result.tokens_out,
                 result.ttft_ms, result.total_ms, json.dumps(result.warnings, ensure_ascii=False)))
            return cur.lastrowid

    def translation(self, translation_id: int) -> dict | None:
        rows = self._translation_rows(
            self.conn.execute("SELECT * FROM translations WHERE id = ?", (translation_id,)))
        return rows[0] if rows else None

    def translations(self, *, search: str | None = None, limit: int = 50) -> list[dict]:
        """Newest first; `search` matches source, output or correction (short CJK words too)."""
        where, params = self._text_match(search, "translations", "t",
                                         ("source_text", "output_text", "corrected_text"))
        cur = self.conn.execute(
            f"SELECT t.* FROM translations t {where} ORDER BY t.id DESC LIMIT ?",
            (*params, limit))
        return self._translation_rows(cur)

    def rate_translation(self, translation_id: int, rating: int) -> None:
        with self.transaction() as conn:
            conn.execute("UPDATE translations SET rating = ? WHERE id = ?",
                         (rating, translation_id))

    def correct_translation(self, translation_id: int, corrected: str,
                            pairs: list[dict]) -> list[int]:
        """Save the user's corrected text and its training pairs together, or neither."""
        now = utc_now()
        ids = []
        with self.transaction() as conn:
            conn.execute("UPDATE translations SET corrected_text = ?, corrected_at = ?"
                         " WHERE id = ?", (corrected, now, translation_id))
            conn.execute("DELETE FROM pairs WHERE translation_id = ? AND origin = 'correction'",
                         (translation_id,))
            for pair in pairs:
                cur = conn.execute(
                    "INSERT INTO pairs (origin, source_lang, target_lang, source_text,"
                    " target_text, weight, split, translation_id, meta, created_at)"
                    " VALUES ('correction', ?, ?, ?, ?, ?, 'train', ?, ?, ?)",
                    (pair["source_lang"], pair["target_lang"], pair["source_text"],
                     pair["target_text"], pair["weight"], translation_id,
                     json.dumps(pair.get("meta") or {}, ensure_ascii=False), now))
                ids.append(cur.lastrowid)
        return ids

    def history_fingerprint(self) -> tuple[int, int]:
        """(how many translations, the newest id): changes whenever the history does."""
        count, newest = self.conn.execute(
            "SELECT COUNT(*), COALESCE(MAX(id), 0) FROM translations").fetchone()
        return count, newest

    def translation_texts(self) -> list[tuple[int, str, str]]:
        """(id, source text, output) of every translation: what an import checks files
        against, so that OwnVoice's own output never comes back as the writer's
        (engine/corpus/machine.py)."""
        return list(self.conn.execute(
            "SELECT id, source_text, output_text FROM translations ORDER BY id"))

    def _translation_rows(self, cur: sqlite3.Cursor) -> list[dict]:
        return _dicts(cur, units="null", settings="null", warnings="null")
