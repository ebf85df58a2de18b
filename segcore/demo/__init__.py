"""Reproducible synthetic interferograms and the demo project built from them."""

from segcore.demo.interferogram import (
    DemoSample,
    demo_box,
    demo_samples,
    make_interferogram,
)
from segcore.demo.project import (
    create_demo_project,
    default_demo_dir,
    ensure_demo_project,
)

__all__ = [
    "DemoSample",
    "create_demo_project",
    "default_demo_dir",
    "demo_box",
    "demo_samples",
    "ensure_demo_project",
    "make_interferogram",
]
