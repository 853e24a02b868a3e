"""Errors the engine raises on purpose. Each message says what happened and what to do."""


class OwnVoiceError(Exception):
    """Base class: the CLI and the app show `str(error)` to the user as it is."""


class DatabaseError(OwnVoiceError):
    """The database cannot be opened or migrated."""


class DamagedDatabase(DatabaseError):
    """SQLite finds the database file damaged (corrupt pages, not a database at all)."""


class ReadOnlyDataFolder(DatabaseError):
    """The data folder or its database cannot be written: reading works, saving does not."""
