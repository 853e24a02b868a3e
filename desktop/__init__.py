"""OwnVoice's face: the Qt app (`app.py`) and its headless twin, the `ownvoice` CLI."""
