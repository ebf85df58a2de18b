"""Start segdesk: parse arguments, check for the GUI packages and a display, set up logging and errors, open the window.

Qt is imported only after these checks, so such a start fails with a clear message.
"""

from __future__ import annotations

import argparse
import ctypes
import gc
import importlib.util
import logging
import os
import sys
from collections.abc import Mapping, Sequence
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path

from app.log_file import install_log_file
from app.xcb_check import Loader, xcb_problem
from segcore import __version__
from segcore.cli.exit_codes import ExitCode

log = logging.getLogger("segdesk")

GUI_PACKAGES = ("PySide6", "pyqtgraph")
"""What the `gui` extra installs; a plain `pip install segdesk` has the engine and `segcore` only."""
NO_DISPLAY_MESSAGE = "segdesk: no display found; run it under a virtual display, e.g. xvfb-run -a segdesk"
SCREENSHOT_TIMEOUT_MS = 60_000


def _resources() -> Traversable:
    """The top-level resources/ folder: `app.resources` once installed (setup.py maps it), else beside app/."""
    try:
        return files("app.resources")
    except ModuleNotFoundError:  # a source checkout run without installing the project
        return Path(__file__).resolve().parents[1] / "resources"


ICON = _resources() / "icons" / "segdesk.svg"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="segdesk", description="Label images, train segmentation networks, review.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--project", type=Path, metavar="DIR", help="open an existing project")
    source.add_argument("--demo", action="store_true", help="open the built-in demo project (created on first use)")
    parser.add_argument("--image", metavar="NAME", help="select this image first (file name or stem)")
    parser.add_argument("--screenshot", type=Path, metavar="OUT.png", help="render the window offscreen to a PNG and exit")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug details")
    return parser


def has_display(env: Mapping[str, str] = os.environ) -> bool:
    """False on Linux without X11, Wayland or an explicit Qt platform; elsewhere there is always one."""
    if not sys.platform.startswith("linux"):
        return True
    return any(env.get(name) for name in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM"))


def missing_gui_message() -> str | None:
    """One line naming the GUI packages that are not installed and the command that installs them, or None.

    The packages are looked up, not imported: Qt must not load before the display check.
    """
    missing = [name for name in GUI_PACKAGES if importlib.util.find_spec(name) is None]
    if not missing:
        return None
    return f"segdesk: the app needs {' and '.join(missing)}, not installed here: pip install \"segdesk[gui]\""


def setup_logging(verbose: bool) -> None:
    """Log to stderr and to the rotating log file in the user's log folder."""
    level = logging.DEBUG if verbose else logging.INFO
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", datefmt="%H:%M:%S")
    path = install_log_file(level)
    log.info("segdesk %s, logging to %s", __version__, path or "stderr only")


def main(argv: Sequence[str] | None = None, *, load_library: Loader = ctypes.CDLL) -> int:
    """Run the app; returns the process exit code (`load_library` loads a shared library, for the X11 check)."""
    args = build_parser().parse_args(argv)
    missing = missing_gui_message()
    if missing is not None:
        print(missing, file=sys.stderr)
        return ExitCode.FAILED
    if args.screenshot is not None:
        os.environ["QT_QPA_PLATFORM"] = "offscreen"  # must precede the QApplication
    elif not has_display():
        print(NO_DISPLAY_MESSAGE, file=sys.stderr)
        return ExitCode.FAILED
    problem = xcb_problem(os.environ, load_library)
    if problem is not None:
        print(problem, file=sys.stderr)
        return ExitCode.FAILED
    setup_logging(args.verbose)
    return _run_gui(args)


def freeze_startup_objects() -> None:
    """Exempt everything alive after startup from the cyclic garbage collector's full passes.

    torch, torchvision and Qt leave ~400,000 long-lived objects; a full collection walked them
    all in ~200 ms on the GUI thread, mid-training (measured by benchmarks/bench_gui.py).
    """
    gc.collect()
    gc.freeze()


def _run_gui(args: argparse.Namespace) -> int:
    from PySide6.QtGui import QIcon
    from PySide6.QtWidgets import QApplication

    from app.errors import install_excepthook, show_error
    from app.main_window import MainWindow
    from app.session_memory import SessionMemory
    from app.state.project_state import ProjectState
    from app.workers import stop_all_workers
    from segcore.errors import SegcoreError

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("segdesk")
    app.setOrganizationName("segdesk")  # where QSettings (recent projects) are kept
    # Qt's SVG icon engine keeps the file name and renders at each size shown: it needs a lasting file,
    # which pip's installs (folders, never zips) give.
    app.setWindowIcon(QIcon(str(ICON)))
    if args.screenshot is None:  # offscreen, a modal dialog would wait forever for a click
        install_excepthook()

    state = ProjectState()
    window = MainWindow(state)
    # A screenshot renders what it is asked for: it neither resumes nor changes the user's session.
    memory = SessionMemory(state, window.tool_bar, parent=window) if args.screenshot is None else None
    freeze_startup_objects()
    app.aboutToQuit.connect(gc.unfreeze)  # a normal teardown at exit (extensions check for leaks)
    app.aboutToQuit.connect(state.close)
    app.aboutToQuit.connect(stop_all_workers)  # no worker may outlive the objects it reports to
    window.show()
    try:
        _open_requested_project(args, state, window, memory)
    except SegcoreError as exc:
        if args.screenshot is not None:
            log.error("%s", exc)
            return ExitCode.FAILED
        show_error(str(exc), parent=window)
    if args.screenshot is not None:
        return _screenshot(app, window, args.screenshot)
    return app.exec()


def _open_requested_project(args: argparse.Namespace, state, window, memory) -> None:  # noqa: ANN001 - Qt types late
    """Open --project, --demo or else the last project; select --image; progress goes to the log and status bar."""
    if args.demo:
        from PySide6.QtWidgets import QApplication

        from segcore.demo import default_demo_dir, ensure_demo_project
        from segcore.project.store import ProjectStore

        root = default_demo_dir()
        if not ProjectStore.is_project(root):
            window.statusBar().showMessage(f"Generating the demo project in {root} (first run only)…")
            log.info("generating the demo project in %s (first run only)", root)
            QApplication.processEvents()  # paint the message before the generator blocks
        root = ensure_demo_project(root)
    elif args.project is not None:
        root = args.project
    else:
        _reopen_last_project(state, window, memory)
        return
    window.projects.open_project(root)  # asks first when another window has the project open
    if not state.is_open:
        return  # the user is being asked; --image does not wait for the answer
    window.statusBar().showMessage(f"Opened {state.store.name}: {len(state.images)} images", 5_000)
    if args.image:
        record = state.find(args.image)
        if record is None:
            log.warning("no image named %r in %s", args.image, root)
            window.statusBar().showMessage(f"No image named {args.image!r} in this project", 10_000)
        else:
            state.select(record.id)


def _reopen_last_project(state, window, memory) -> None:  # noqa: ANN001 - Qt types import late
    """A plain start resumes the last project; one deleted or broken since gets a status note, never an error box."""
    from segcore.errors import SegcoreError

    last = memory.last_project() if memory is not None else None
    if last is not None:
        try:
            window.projects.open_project(last)
        except SegcoreError as exc:
            log.warning("could not reopen the last project: %s", exc)
            window.statusBar().showMessage(f"The last project ({last}) could not be reopened; "
                                           "open one with File ▸ Open project…", 10_000)
            return
        if state.is_open:
            window.statusBar().showMessage(f"Reopened {state.store.name} where you left off", 5_000)
        return
    window.statusBar().showMessage("Open a project with File ▸ Open project…", 10_000)


def _screenshot(app, window, out: Path) -> int:  # noqa: ANN001 - Qt types import late
    """Grab the window to `out` once the current image is on screen (or at once when there is none)."""
    from PySide6.QtCore import QTimer

    result = {"code": 1}

    def grab() -> None:
        out.parent.mkdir(parents=True, exist_ok=True)
        if window.grab().save(str(out)):  # the format follows the suffix (png, jpg)
            log.info("wrote screenshot %s", out)
            result["code"] = 0
        else:
            log.error("could not write screenshot %s", out)
        app.quit()

    def timeout() -> None:
        log.error("no image was shown within %d s; no screenshot written", SCREENSHOT_TIMEOUT_MS // 1000)
        app.quit()

    # Image and mask load in the background: poll until both are on screen, then let layout settle.
    poll = QTimer(window, interval=50)
    poll.timeout.connect(lambda: window.view.is_settled() and (poll.stop(), QTimer.singleShot(150, grab)))
    poll.start()
    QTimer.singleShot(SCREENSHOT_TIMEOUT_MS, timeout)
    app.exec()
    return result["code"]
