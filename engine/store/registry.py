"""The models table: the model registry's rows."""

from __future__ import annotations

import json

from engine.store.db import _dicts, utc_now


class ModelQueries:
    """Rows of the models table; a Store mixin."""

    _MODEL_FIELDS = ("name", "backend", "path", "sha256", "size_bytes", "base_url", "model_id",
                     "key_name", "prompt_style", "base_model", "source_lang", "target_lang",
                     "origin", "job_id", "meta")

    def add_model(self, **fields) -> int:
        unknown = set(fields) - set(self._MODEL_FIELDS)
        if unknown:
            raise ValueError(f"unknown model fields {sorted(unknown)}")
        fields["meta"] = json.dumps(fields.get("meta") or {}, ensure_ascii=False)
        columns = ", ".join(fields)
        marks = ", ".join("?" for _ in fields)
        with self.transaction() as conn:
            cur = conn.execute(f"INSERT INTO models ({columns}, created_at) VALUES ({marks}, ?)",
                               (*fields.values(), utc_now()))
            return cur.lastrowid

    def models(self) -> list[dict]:
        return _dicts(self.conn.execute("SELECT * FROM models ORDER BY id"), meta="{}")

    def model(self, name_or_id: str | int) -> dict | None:
        rows = _dicts(self.conn.execute("SELECT * FROM models WHERE name = ? OR id = ?",
                                        (str(name_or_id), name_or_id)), meta="{}")
        return rows[0] if rows else None

    def update_model_meta(self, model_id: int, **changes) -> None:
        """Merge `changes` into the model's meta (a key set to None is removed)."""
        with self.transaction() as conn:
            row = conn.execute("SELECT meta FROM models WHERE id = ?", (model_id,)).fetchone()
            meta = {**json.loads(row[0] or "{}"), **changes}
            meta = {key: value for key, value in meta.items() if value is not None}
            conn.execute("UPDATE models SET meta = ? WHERE id = ?",
                         (json.dumps(meta, ensure_ascii=False), model_id))

    def remove_model(self, model_id: int) -> None:
        with self.transaction() as conn:
            conn.execute("DELETE FROM models WHERE id = ?", (model_id,))
            conn.execute("DELETE FROM meta WHERE key = 'active_model' AND value = ?",
                         (str(model_id),))
