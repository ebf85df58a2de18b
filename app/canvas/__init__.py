"""The central image canvas."""
