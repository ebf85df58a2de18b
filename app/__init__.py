"""segdesk's desktop GUI (PySide6); every non-UI step is a call into segcore.

Importing this package must not import Qt: the launcher checks for a display first.
"""
