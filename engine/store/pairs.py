"""Training pairs: listing and editing them, synthetic pairs, stats, training_pairs."""

from __future__ import annotations

import json

from engine.store.db import _dicts, _equal, utc_now


class PairQueries:
    """Pairs and training pairs; a Store mixin."""

    def pairs(self, *, origin: str | None = None, translation_id: int | None = None,
              status: str | None = None) -> list[dict]:
        where, params = _equal(("origin", origin), ("translation_id", translation_id),
                               ("status", status))
        return _dicts(self.conn.execute(f"SELECT * FROM pairs{where} ORDER BY id", params),
                      meta="{}")

    def update_pair(self, pair_id: int, *, source_text: str | None = None,
                    excluded: bool | None = None) -> None:
        """The user edits a pair's machine text, or keeps the pair out of training."""
        with self.transaction() as conn:
            if source_text is not None:
                conn.execute("UPDATE pairs SET source_text = ? WHERE id = ?",
                             (source_text, pair_id))
            if excluded is not None:
                conn.execute("UPDATE pairs SET excluded = ? WHERE id = ?",
                             (int(excluded), pair_id))

    def synthetic_done(self) -> set[tuple[int, str]]:
        """(segment id, style) of every synthetic pair made so far, kept or rejected."""
        return set(self.conn.execute(
            "SELECT segment_id, style FROM pairs WHERE origin = 'synthetic'").fetchall())

    def accepted_synthetic(self, segment_id: int) -> dict[str, str]:
        return dict(self.conn.execute(
            "SELECT style, source_text FROM pairs WHERE origin = 'synthetic' AND status = 'ok'"
            " AND segment_id = ?", (segment_id,)).fetchall())

    def add_synthetic_pair(self, *, segment_id: int, style: str, source_text: str,
                           target_text: str, source_lang: str, target_lang: str, split: str,
                           model: str, cost_usd: float, reject_reason: str | None) -> bool:
        """Store one synthetic pair (or its rejection); False if it existed already."""
        with self.transaction() as conn:
            cur = conn.execute(
                "INSERT OR IGNORE INTO pairs (origin, source_lang, target_lang, source_text,"
                " target_text, weight, split, segment_id, style, model, cost_usd, status,"
                " reject_reason, created_at) VALUES ('synthetic', ?, ?, ?, ?, 1.0, ?, ?, ?, ?,"
                " ?, ?, ?, ?)",
                (source_lang, target_lang, source_text, target_text, split, segment_id, style,
                 model, cost_usd, "rejected" if reject_reason else "ok", reject_reason,
                 utc_now()))
            return cur.rowcount == 1

    def translated_works(self) -> list[tuple[int, int]]:
        """(original document id, translation document id) for every work that has both,
        neither excluded: where the writer's published translations are."""
        return [tuple(r) for r in self.conn.execute(
            "SELECT o.id, t.id FROM documents o JOIN documents t ON t.work_key = o.work_key"
            " AND t.id != o.id AND t.role = 'translation'"
            " WHERE o.role = 'original' AND NOT o.excluded AND NOT t.excluded"
            " ORDER BY o.id, t.id")]

    def replace_published_pairs(self, pairs: list[dict]) -> tuple[int, int]:
        """Make the stored `published-translation` pairs exactly `pairs` (each: source and
        target language and text, weight, split, segment_id — the original's first
        paragraph — and meta), keeping the ids of those that stay. Returns (added, removed)."""
        key = ("segment_id", "source_text", "target_text")
        with self.transaction() as conn:
            stored = {tuple(r[1:]): r[0] for r in conn.execute(
                "SELECT id, segment_id, source_text, target_text FROM pairs"
                " WHERE origin = 'published-translation'")}
            wanted = {tuple(p[k] for k in key): p for p in pairs}
            gone = [i for k, i in stored.items() if k not in wanted]
            conn.executemany("DELETE FROM pairs WHERE id = ?", [(i,) for i in gone])
            new = [p for k, p in wanted.items() if k not in stored]
            conn.executemany(
                "INSERT INTO pairs (origin, source_lang, target_lang, source_text, target_text,"
                " weight, split, segment_id, meta, created_at) VALUES ('published-translation',"
                " ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [(p["source_lang"], p["target_lang"], p["source_text"], p["target_text"],
                  p["weight"], p["split"], p["segment_id"], json.dumps(p.get("meta", {})),
                  utc_now()) for p in new])
        return len(new), len(gone)

    def pair_stats(self) -> dict:
        q = self.conn.execute
        by = {f"{o}/{s}": n for o, s, n in q(
            "SELECT origin, status, COUNT(*) FROM pairs GROUP BY origin, status")}
        return {
            "pairs": q("SELECT COUNT(*) FROM pairs WHERE status = 'ok' AND NOT excluded")
            .fetchone()[0],
            "rejected": q("SELECT COUNT(*) FROM pairs WHERE status = 'rejected'").fetchone()[0],
            "by_origin": by,
            "by_split": dict(q("SELECT split, COUNT(*) FROM pairs WHERE status = 'ok' AND NOT"
                               " excluded GROUP BY split").fetchall()),
            "by_style": dict(q("SELECT COALESCE(style, origin), COUNT(*) FROM pairs WHERE"
                               " status = 'ok' GROUP BY 1").fetchall()),
            "rejections": dict(q("SELECT reject_reason, COUNT(*) FROM pairs WHERE"
                                 " status = 'rejected' GROUP BY 1 ORDER BY 2 DESC").fetchall()),
            "cost_usd": round(q("SELECT COALESCE(SUM(cost_usd), 0) FROM pairs").fetchone()[0], 6),
        }

    def training_pairs(self, *, split: str) -> list[dict]:
        """Kept, not excluded pairs of a split, with their weights (corrections weigh more)."""
        cur = self.conn.execute(
            "SELECT p.id, p.origin, p.style, p.source_lang, p.target_lang, p.source_text,"
            " p.target_text, p.weight, p.segment_id, d.id AS document_id FROM pairs p"
            " LEFT JOIN segments s ON s.id = p.segment_id"
            " LEFT JOIN documents d ON d.id = s.document_id"
            " WHERE p.status = 'ok' AND NOT p.excluded AND p.split = ?"
            " AND COALESCE(s.excluded, 0) = 0 AND COALESCE(d.excluded, 0) = 0"
            " ORDER BY p.id", (split,))
        return _dicts(cur)
