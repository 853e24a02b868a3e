"""Comparisons (ownvoice compare), their outputs, and the blind test's trials."""

from __future__ import annotations

import json

from engine.store.db import _dicts, utc_now


class ComparisonQueries:
    """Comparisons and blind trials; a Store mixin."""

    def add_comparison(self, *, settings: dict, metrics: list[dict], report_path: str | None,
                       outputs: list[dict]) -> int:
        """One comparison with every system's outputs, in one transaction."""
        with self.transaction() as conn:
            cur = conn.execute("INSERT INTO comparisons (created_at, settings, metrics,"
                               " report_path) VALUES (?, ?, ?, ?)",
                               (utc_now(), json.dumps(settings, ensure_ascii=False),
                                json.dumps(metrics, ensure_ascii=False), report_path))
            comparison_id = cur.lastrowid
            conn.executemany(
                "INSERT INTO comparison_outputs (comparison_id, system, pair_id, output,"
                " metrics) VALUES (?, ?, ?, ?, ?)",
                [(comparison_id, o["system"], o["pair_id"], o["output"],
                  json.dumps(o["metrics"], ensure_ascii=False)) for o in outputs])
        return comparison_id

    def comparison(self, comparison_id: int) -> dict | None:
        rows = _dicts(self.conn.execute("SELECT * FROM comparisons WHERE id = ?",
                                        (comparison_id,)), settings="{}", metrics="[]")
        if not rows:
            return None
        rows[0]["outputs"] = _dicts(self.conn.execute(
            "SELECT * FROM comparison_outputs WHERE comparison_id = ? ORDER BY id",
            (comparison_id,)), metrics="{}")
        return rows[0]

    def latest_comparison_id(self) -> int | None:
        row = self.conn.execute("SELECT MAX(id) FROM comparisons").fetchone()
        return row[0]

    def add_blind_trials(self, trials: list[dict]) -> None:
        now = utc_now()
        with self.transaction() as conn:
            conn.executemany(
                "INSERT INTO blind_trials (comparison_id, pair_id, question, left_system,"
                " right_system, left_text, right_text, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [(t["comparison_id"], t["pair_id"], t["question"], t["left_system"],
                  t["right_system"], t["left_text"], t["right_text"], now) for t in trials])

    def blind_trials(self, comparison_id: int, *, answered: bool | None = None) -> list[dict]:
        where = "" if answered is None else (" AND choice IS NOT NULL" if answered
                                             else " AND choice IS NULL")
        return _dicts(self.conn.execute(
            f"SELECT * FROM blind_trials WHERE comparison_id = ?{where} ORDER BY id",
            (comparison_id,)))

    def answer_blind_trial(self, trial_id: int, choice: str) -> None:
        if choice not in ("left", "right"):
            raise ValueError(choice)
        with self.transaction() as conn:
            conn.execute("UPDATE blind_trials SET choice = ?, answered_at = ? WHERE id = ?",
                         (choice, utc_now(), trial_id))
