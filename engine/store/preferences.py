"""Preference pairs: the `preferences` table and the judgments they are made from
(engine/pairs/preferences.py decides what each judgment gives; this module only stores)."""

from __future__ import annotations

import json

from engine.store.db import _dicts, _equal, utc_now

DERIVED = ("correction", "blind", "rating")
_COLUMNS = ("key", "origin", "source_lang", "target_lang", "source_text", "chosen_text",
            "rejected_text", "weight", "split", "translation_id", "other_translation_id",
            "blind_trial_id", "pair_id", "meta")


class PreferenceQueries:
    """Preferences; a Store mixin."""

    def corrected_translations(self) -> list[dict]:
        """id, languages and source text of every translation the writer corrected."""
        return _dicts(self.conn.execute(
            "SELECT id, source_lang, target_lang, source_text FROM translations"
            " WHERE corrected_text IS NOT NULL ORDER BY id"))

    def rated_translations(self) -> list[dict]:
        """Every translation rated ▲ (1) or ▼ (-1), with its output."""
        return _dicts(self.conn.execute(
            "SELECT id, source_lang, target_lang, source_text, output_text, rating"
            " FROM translations WHERE rating IN (-1, 1) ORDER BY id"))

    def answered_better_trials(self) -> list[tuple[dict, dict | None]]:
        """Every answered "which is better?" blind trial with its pair (None: deleted)."""
        pairs = {p["id"]: p for p in _dicts(self.conn.execute(
            "SELECT id, source_lang, target_lang, source_text, split FROM pairs WHERE id IN"
            " (SELECT pair_id FROM blind_trials WHERE question = 'better')"))}
        return [(trial, pairs.get(trial["pair_id"])) for trial in _dicts(self.conn.execute(
            "SELECT * FROM blind_trials WHERE question = 'better' AND choice IS NOT NULL"
            " ORDER BY id"))]

    def replace_derived_preferences(self, wanted: dict[str, dict]) -> tuple[int, int]:
        """Make the stored correction, rating and blind preferences exactly `wanted` ({key:
        row}), keeping the rows that stay (their ids and exclusion). Returns (added,
        removed)."""
        marks = ",".join("?" * len(DERIVED))
        with self.transaction() as conn:
            stored = {key: i for i, key in conn.execute(
                f"SELECT id, key FROM preferences WHERE origin IN ({marks})", DERIVED)}
            gone = [(i,) for key, i in stored.items() if key not in wanted]
            conn.executemany("DELETE FROM preferences WHERE id = ?", gone)
            new = [(key, row) for key, row in wanted.items() if key not in stored]
            _insert(conn, new)
        return len(new), len(gone)

    def insert_preference(self, key: str, row: dict) -> int:
        """Store one preference (once: the same key again changes nothing); its id."""
        with self.transaction() as conn:
            _insert(conn, [(key, row)])
            return conn.execute("SELECT id FROM preferences WHERE key = ?", (key,)).fetchone()[0]

    def preferences(self, *, split: str | None = None, origin: str | None = None) -> list[dict]:
        where, params = _equal(("split", split), ("origin", origin))
        return _dicts(self.conn.execute(f"SELECT * FROM preferences{where} ORDER BY id",
                                        params), meta="{}")

    def exclude_preference(self, preference_id: int, excluded: bool = True) -> None:
        with self.transaction() as conn:
            conn.execute("UPDATE preferences SET excluded = ? WHERE id = ?",
                         (int(excluded), preference_id))

    def preference_counts(self) -> dict:
        """{"splits": {split: {origin: n}}, "excluded": n}, as stored."""
        splits: dict[str, dict[str, int]] = {s: {} for s in ("train", "val", "test")}
        for split, origin, count in self.conn.execute(
                "SELECT split, origin, COUNT(*) FROM preferences WHERE NOT excluded"
                " GROUP BY 1, 2"):
            splits[split][origin] = count
        excluded = self.conn.execute(
            "SELECT COUNT(*) FROM preferences WHERE excluded").fetchone()[0]
        return {"splits": splits, "excluded": excluded}


def _insert(conn, rows: list[tuple[str, dict]]) -> None:
    now = utc_now()
    conn.executemany(
        f"INSERT OR IGNORE INTO preferences ({', '.join(_COLUMNS)}, created_at)"
        f" VALUES ({', '.join('?' * (len(_COLUMNS) + 1))})",
        [(key, *(json.dumps(row["meta"], ensure_ascii=False) if c == "meta" else row[c]
                 for c in _COLUMNS[1:]), now) for key, row in rows])
