"""Qt table models over plain rows (dicts from the store): views hold no data."""
