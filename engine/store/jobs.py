"""The jobs table: fine-tuning pilots, batches, training runs."""

from __future__ import annotations

import json

from engine.jobs import Job, JobKind, JobMeta, JobState
from engine.store.db import _dicts, _equal, utc_now


class JobQueries:
    """Rows of the jobs table; a Store mixin."""

    def add_job(self, *, kind: JobKind, status: JobState, provider_id: str | None,
                model: str | None, meta: JobMeta | None = None) -> Job:
        now = utc_now()
        with self.transaction() as conn:
            cur = conn.execute(
                "INSERT INTO jobs (kind, status, provider_id, model, meta, created_at,"
                " updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (JobKind(kind).value, JobState(status).value, provider_id, model,
                 json.dumps((meta or JobMeta()).to_dict(), ensure_ascii=False), now, now))
            job_id = cur.lastrowid
        return self.job(job_id)

    def update_job(self, job_id: int, *, status: JobState, result: str | None = None,
                   meta: JobMeta | None = None) -> Job:
        """Set the state (and the result and metadata when given); returns the job."""
        with self.transaction() as conn:
            conn.execute("UPDATE jobs SET status = ?, result = COALESCE(?, result),"
                         " meta = COALESCE(?, meta), updated_at = ? WHERE id = ?",
                         (JobState(status).value, result,
                          json.dumps(meta.to_dict(), ensure_ascii=False)
                          if meta is not None else None, utc_now(), job_id))
        return self.job(job_id)

    def job(self, job_id: int) -> Job | None:
        return next(iter(self.jobs(job_id=job_id)), None)

    def jobs(self, *, kind: JobKind | None = None, job_id: int | None = None) -> list[Job]:
        where, params = _equal(("kind", kind and JobKind(kind).value), ("id", job_id))
        rows = _dicts(self.conn.execute(f"SELECT * FROM jobs{where} ORDER BY id DESC", params),
                      meta="{}")
        return [Job.from_row(row) for row in rows]
