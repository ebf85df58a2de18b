"""Start segdesk from a checkout: `python main.py --demo` (see `python main.py --help`)."""

from app.launcher import main

raise SystemExit(main())
