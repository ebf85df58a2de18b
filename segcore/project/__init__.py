"""The project store: one SQLite file per project plus mask files beside it."""
