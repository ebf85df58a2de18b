"""segcore never imports Qt: every module imports with PySide6/PyQt/shiboken blocked."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

_SCRIPT = textwrap.dedent(
    """
    import importlib, pkgutil, sys

    BLOCKED = ("PySide6", "PySide2", "PyQt5", "PyQt6", "shiboken6", "shiboken2", "sip")

    class BlockQt:
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in BLOCKED:
                raise ImportError(f"segcore imported {name}")
            return None

    sys.meta_path.insert(0, BlockQt())
    import segcore

    names = ["segcore"]
    # onerror: a package whose __init__ fails is reported by the import below, not swallowed here.
    for info in pkgutil.walk_packages(segcore.__path__, "segcore.", onerror=lambda name: names.append(name)):
        if info.name.rsplit(".", 1)[-1] != "__main__":  # __main__ runs the CLI on import
            names.append(info.name)
    failed = []
    for name in sorted(set(names)):
        try:
            importlib.import_module(name)
        except Exception as exc:
            failed.append(f"{name}: {type(exc).__name__}: {exc}")
    qt = sorted(m for m in sys.modules if m.split(".")[0] in BLOCKED)
    print(len(names), "modules")
    assert not failed, "\\n".join(failed)
    assert not qt, qt
    """
)


def test_every_segcore_module_imports_without_qt():
    result = subprocess.run([sys.executable, "-c", _SCRIPT], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    count = int(result.stdout.split()[0])
    assert count >= 10  # the walk really found the package's modules
