"""OwnVoice's face: the Qt app and its headless twin, the `ownvoice` CLI.

app.py and main_window.py (the window), tasks.py (the one task runner: work off the GUI
thread, typed results back through signals), hub.py (app-wide signals), views/ (one module
per page), table_models/ (Qt table models over store rows) and cli/ (one module per command
group of `ownvoice --help`). Both faces call the same engine and remote operations.
"""
