"""The one place that opens the database and holds its SQL.

`Store` is one class put together from a module per group of tables:

- `db`: opening the database (sqlite-utils, WAL, foreign keys, migrations run),
  `transaction()`, `close()`, the `meta` settings table, and the shared helpers
  (`_dicts`, `_equal`, `utc_now`, full-text matching).
- `connection`: the SQLite file itself: created 0600, opened read-only where it cannot be
  written, and a damaged file or a refused write said in one line from any query.
- `corpus`: documents and segments: importing, reading, searching, exclusions,
  the paragraphs that may become synthetic pairs, the user's main language.
- `history`: the translations history, its ratings and corrections.
- `pairs`: training pairs: listing and editing, synthetic pairs, stats, training_pairs.
- `preferences`: preference pairs from the writer's judgments (kept in step with them by
  engine/pairs/preferences.sync), "show me another" choices.
- `registry`: the models table (the model registry's rows).
- `jobs`: the jobs table (fine-tuning pilots, batches, training runs).
- `hosts`: the remote_hosts table (GPU boxes over SSH).
- `comparisons`: comparisons, their outputs, and the blind test's trials.
- `migrations`: the schema, as append-only named migrations.
"""

from __future__ import annotations

from engine.store.comparisons import ComparisonQueries
from engine.store.corpus import CorpusQueries
from engine.store.db import Database, utc_now
from engine.store.history import HistoryQueries
from engine.store.hosts import HostQueries
from engine.store.jobs import JobQueries
from engine.store.pairs import PairQueries
from engine.store.preferences import PreferenceQueries
from engine.store.registry import ModelQueries

__all__ = ["Store", "utc_now"]


class Store(Database, CorpusQueries, HistoryQueries, PairQueries, PreferenceQueries,
            ModelQueries, JobQueries, HostQueries, ComparisonQueries):
    """The database, with every table group's queries."""
