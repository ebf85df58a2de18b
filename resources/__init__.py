"""segdesk's resources (icons, the Linux launcher's .desktop file and AppStream metadata), shipped inside the
wheel as the `app.resources` package (setup.py maps this top-level folder to it)."""
