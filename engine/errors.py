"""Errors the engine raises on purpose. Each message says what happened and what to do."""


class OwnVoiceError(Exception):
    """Base class: the CLI and the app show `str(error)` to the user as it is."""


class DatabaseError(OwnVoiceError):
    """The database cannot be opened or migrated."""
