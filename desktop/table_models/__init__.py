"""Qt table models over plain rows (dicts from the store): views hold no data.

rows.py is the read-only model over a list of dicts with named columns (RowsModel,
Column); tables.py declares the columns of every table in the app."""
