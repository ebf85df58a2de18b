"""Dialogs that ask the user for what a command needs; they validate input but do no work themselves."""
