"""Preference pairs (engine/pairs/preferences.py): derived from the writer's corrections,
ratings and blind trials, or stored as "show me another" choices are made."""

from __future__ import annotations

import hashlib
import json

from engine.store.db import _dicts, _equal, utc_now

DERIVED = ("correction", "blind", "rating")
_COLUMNS = ("key", "origin", "source_lang", "target_lang", "source_text", "chosen_text",
            "rejected_text", "weight", "split", "translation_id", "other_translation_id",
            "blind_trial_id", "pair_id", "meta")


def preference_key(row: dict) -> str:
    """What names a preference: its origin, the judgment it comes from and its two texts."""
    digest = hashlib.sha256("\x00".join(
        (row["source_text"], row["chosen_text"], row["rejected_text"])).encode()).hexdigest()
    links = ":".join(str(row.get(k) or "") for k in ("translation_id", "other_translation_id",
                                                     "blind_trial_id"))
    return f"{row['origin']}:{links}:{digest[:32]}"


class PreferenceQueries:
    """Preferences; a Store mixin."""

    def sync_preferences(self) -> tuple[int, int]:
        """Make the stored corrections', ratings' and blind trials' preferences exactly what
        those judgments give now (a correction edited again, a rating changed, a trial
        answered), keeping the rows that stay (and whether they are excluded). Returns
        (added, removed)."""
        from engine.pairs import preferences

        wanted: dict[str, dict] = {}
        for translation in self.conn.execute(
                "SELECT id, source_lang, target_lang, source_text FROM translations"
                " WHERE corrected_text IS NOT NULL").fetchall():
            row = dict(zip(("id", "source_lang", "target_lang", "source_text"), translation,
                           strict=True))
            for found in preferences.from_correction(row, self.pairs(
                    origin="correction", translation_id=row["id"])):
                wanted[preference_key(found)] = found
        rated = _dicts(self.conn.execute(
            "SELECT id, source_lang, target_lang, source_text, output_text, rating"
            " FROM translations WHERE rating IN (-1, 1) ORDER BY id"))
        by_source: dict[tuple, list[dict]] = {}
        for t in rated:
            by_source.setdefault((t["source_text"].strip(), t["target_lang"]), []).append(t)
        for group in by_source.values():
            for found in preferences.from_ratings(group):
                wanted[preference_key(found)] = found
        pairs = {p["id"]: p for p in _dicts(self.conn.execute(
            "SELECT id, source_lang, target_lang, source_text, split FROM pairs WHERE id IN"
            " (SELECT pair_id FROM blind_trials WHERE question = 'better')"))}
        for trial in _dicts(self.conn.execute(
                "SELECT * FROM blind_trials WHERE question = 'better' AND choice IS NOT NULL")):
            found = preferences.from_blind(trial, pairs.get(trial["pair_id"]))
            if found:
                wanted[preference_key(found)] = found
        marks = ",".join("?" * len(DERIVED))
        with self.transaction() as conn:
            stored = {key: i for i, key in conn.execute(
                f"SELECT id, key FROM preferences WHERE origin IN ({marks})", DERIVED)}
            gone = [(i,) for key, i in stored.items() if key not in wanted]
            conn.executemany("DELETE FROM preferences WHERE id = ?", gone)
            new = [(key, row) for key, row in wanted.items() if key not in stored]
            self._insert_preferences(conn, new)
        return len(new), len(gone)

    def add_choice(self, translation: dict, chosen: str, rejected: str) -> int | None:
        """Store a "show me another" choice for a history translation; its id, or None when
        the two texts are the same (nothing was chosen). Choosing again between the same
        two texts changes nothing."""
        from engine.pairs import preferences

        found = preferences.from_choice(translation, chosen, rejected)
        if found is None:
            return None
        key = preference_key(found)
        with self.transaction() as conn:
            self._insert_preferences(conn, [(key, found)])
            return conn.execute("SELECT id FROM preferences WHERE key = ?", (key,)).fetchone()[0]

    def preferences(self, *, split: str | None = None, origin: str | None = None) -> list[dict]:
        where, params = _equal(("split", split), ("origin", origin))
        return _dicts(self.conn.execute(f"SELECT * FROM preferences{where} ORDER BY id",
                                        params), meta="{}")

    def training_preferences(self, *, split: str) -> list[dict]:
        """The split's preferences that train (not excluded), after syncing the derived
        ones with the judgments as they are now."""
        self.sync_preferences()
        return [p for p in self.preferences(split=split) if not p["excluded"]]

    def exclude_preference(self, preference_id: int, excluded: bool = True) -> None:
        with self.transaction() as conn:
            conn.execute("UPDATE preferences SET excluded = ? WHERE id = ?",
                         (int(excluded), preference_id))

    def preference_stats(self) -> dict:
        """{"splits": {split: {origin: n}}, "excluded": n} after a sync (none in a read-only
        data folder: the counts are then those stored)."""
        if not self.read_only:
            self.sync_preferences()
        splits: dict[str, dict[str, int]] = {s: {} for s in ("train", "val", "test")}
        for split, origin, count in self.conn.execute(
                "SELECT split, origin, COUNT(*) FROM preferences WHERE NOT excluded"
                " GROUP BY 1, 2"):
            splits[split][origin] = count
        excluded = self.conn.execute(
            "SELECT COUNT(*) FROM preferences WHERE excluded").fetchone()[0]
        return {"splits": splits, "excluded": excluded}

    @staticmethod
    def _insert_preferences(conn, rows: list[tuple[str, dict]]) -> None:
        now = utc_now()
        conn.executemany(
            f"INSERT OR IGNORE INTO preferences ({', '.join(_COLUMNS)}, created_at)"
            f" VALUES ({', '.join('?' * (len(_COLUMNS) + 1))})",
            [(key, *(json.dumps(row["meta"], ensure_ascii=False) if c == "meta" else row[c]
                     for c in _COLUMNS[1:]), now) for key, row in rows])
