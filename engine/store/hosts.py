"""The remote_hosts table: GPU boxes reached over SSH."""

from __future__ import annotations

import json
import sqlite3

from engine.errors import OwnVoiceError
from engine.store.db import _dicts, _equal, utc_now


class HostQueries:
    """Rows of the remote_hosts table; a Store mixin."""

    def add_host(self, *, name: str, user: str, host: str, port: int, key_file: str | None,
                 fingerprint: str | None, origin: str = "manual", meta: dict | None = None
                 ) -> dict:
        now = utc_now()
        try:
            with self.transaction() as conn:
                conn.execute(
                    "INSERT INTO remote_hosts (name, user, host, port, key_file, fingerprint,"
                    " origin, meta, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (name, user, host, port, key_file, fingerprint, origin,
                     json.dumps(meta or {}), now, now))
        except sqlite3.IntegrityError as exc:
            raise OwnVoiceError(f"There is already a remote host called {name!r}.") from exc
        return self.host(name)

    def host(self, name: str) -> dict | None:
        return next(iter(self.hosts(name=name)), None)

    def hosts(self, *, name: str | None = None) -> list[dict]:
        where, params = _equal(("name", name))
        return _dicts(self.conn.execute(f"SELECT * FROM remote_hosts{where} ORDER BY name",
                                        params), meta="{}")

    def update_host(self, name: str, **values) -> None:
        allowed = {"user", "host", "port", "key_file", "fingerprint", "meta"}
        if set(values) - allowed:
            raise ValueError(f"Cannot update {sorted(set(values) - allowed)}")
        if "meta" in values:
            values["meta"] = json.dumps(values["meta"])
        assignments = ", ".join(f"{column} = ?" for column in values)
        with self.transaction() as conn:
            conn.execute(f"UPDATE remote_hosts SET {assignments}, updated_at = ? WHERE name = ?",
                         (*values.values(), utc_now(), name))

    def remove_host(self, name: str) -> bool:
        with self.transaction() as conn:
            return conn.execute("DELETE FROM remote_hosts WHERE name = ?", (name,)).rowcount > 0
