"""Reusable widgets that belong to no single panel (plots, ...)."""
