"""segcore: the headless engine of segdesk (data, projects, models, training, inference)."""

import logging

__version__ = "0.1.0"

# A library logs; the application decides where the records go.
logging.getLogger(__name__).addHandler(logging.NullHandler())
