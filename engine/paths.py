"""Where OwnVoice keeps its data.

One folder holds the database and everything the app makes (models, job files).
`OWNVOICE_HOME` overrides the platform's user data directory; every test sets it.
"""

from __future__ import annotations

import os
from pathlib import Path

APP_NAME = "OwnVoice"
HOME_ENV = "OWNVOICE_HOME"
DB_FILENAME = "ownvoice.db"


def data_dir() -> Path:
    """The data folder, created on first use."""
    override = os.environ.get(HOME_ENV)
    if override:
        path = Path(override).expanduser()
    else:
        import platformdirs

        path = Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))
    path.mkdir(parents=True, exist_ok=True)
    return path


def db_path() -> Path:
    return data_dir() / DB_FILENAME
