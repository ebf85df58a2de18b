"""The one worker abstraction for long work in the GUI (modelled on superqt's `thread_worker`).

A plain function or generator runs on a `QThreadPool` thread; the worker's signals arrive on the
GUI thread:

    worker = Worker(load_thumbnails, paths)          # a generator: each `yield` is progress
    worker.yielded.connect(add_thumbnail)
    worker.errored.connect(report_error)              # or rely on the default: show_error
    worker.start()
    ...
    worker.quit()                                     # stops at the next `yield`; emits `aborted`

Signals: `started`, `yielded(object)`, `returned(object)`, `errored(BaseException)`, `aborted`,
and `finished` last in every case. `quit()` is the generic stop; finer control (pause, resume)
goes through the engine's own objects (e.g. segcore's `TrainingControl`). Errors go to
`app.errors.report_worker_error` (the one path to the user) unless `errored` has a receiver.
"""

from __future__ import annotations

import inspect
import logging
import os
import sys
import threading
from collections.abc import Callable
from typing import Any, ClassVar

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal

log = logging.getLogger(__name__)


class WorkerSignals(QObject):
    started = Signal()
    yielded = Signal(object)
    returned = Signal(object)
    errored = Signal(object)
    aborted = Signal()
    finished = Signal()


class Worker(QRunnable):
    """Run `fn(*args, **kwargs)` off the GUI thread; generators report each yielded value."""

    _live: ClassVar[set[Worker]] = set()  # started workers are kept alive until they finish

    def __init__(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        super().__init__()
        self.setAutoDelete(False)
        self._fn, self._args, self._kwargs = fn, args, kwargs
        self._abort = threading.Event()
        self._done = threading.Event()
        self._started = False
        self.signals = WorkerSignals()
        self.signals.finished.connect(self._forget)

    # Attribute access mirrors superqt: worker.yielded.connect(...)
    started = property(lambda self: self.signals.started)
    yielded = property(lambda self: self.signals.yielded)
    returned = property(lambda self: self.signals.returned)
    errored = property(lambda self: self.signals.errored)
    aborted = property(lambda self: self.signals.aborted)
    finished = property(lambda self: self.signals.finished)

    def _forget(self) -> None:
        Worker._live.discard(self)

    @property
    def is_running(self) -> bool:
        return self._started and not self._done.is_set()

    @property
    def abort_requested(self) -> bool:
        return self._abort.is_set()

    def start(self, pool: QThreadPool | None = None) -> Worker:
        """Queue the work on `pool` (the global pool by default); returns self for chaining."""
        if self._started:
            raise RuntimeError("a worker runs once; create a new one")
        self._started = True
        if not _has_receivers(self.signals, "errored(PyObject)"):
            from app.errors import report_worker_error

            self.errored.connect(report_worker_error)
        Worker._live.add(self)
        (pool or _shared_pool()).start(self)
        return self

    def quit(self) -> None:
        """Ask the work to stop at its next `yield` (a plain function runs to its end)."""
        self._abort.set()

    def wait(self, timeout_s: float | None = None) -> bool:
        """Block until the work has ended (for tests and shutdown); True if it did."""
        return self._done.wait(timeout_s)

    def run(self) -> None:
        _lower_thread_priority()
        try:
            self._run()
        except RuntimeError as exc:
            if "deleted" not in str(exc):
                raise
            # The signals' C++ side is gone (the application is quitting): nobody is left to tell.
            log.debug("worker %s outlived its receivers", getattr(self._fn, "__name__", self._fn))
        finally:
            self._done.set()

    def _run(self) -> None:
        self.signals.started.emit()
        try:
            result = self._fn(*self._args, **self._kwargs)
            if inspect.isgenerator(result):
                result = self._drain(result)
                if self._abort.is_set():
                    self.signals.aborted.emit()
                    return
            self.signals.returned.emit(result)
        except Exception as exc:  # handed to the GUI thread through `errored`
            log.debug("worker %s failed", getattr(self._fn, "__name__", self._fn), exc_info=True)
            self.signals.errored.emit(exc)
        finally:
            # `finished` before `_done` (which `run` sets): whoever waits on the worker at exit may
            # destroy what it reports to, so the worker must be done emitting when `wait` returns.
            self.signals.finished.emit()

    def _drain(self, generator) -> Any:
        try:
            while True:
                value = next(generator)
                self.signals.yielded.emit(value)
                if self._abort.is_set():
                    generator.close()
                    return None
        except StopIteration as stop:
            return stop.value


MIN_SHARED_THREADS = 8
WORKER_NICENESS = 10
"""Workers run at this nice value (Linux): the GUI thread wins a busy CPU, so the window stays fluid."""


def _lower_thread_priority() -> None:
    """Make the calling pool thread (and the OpenMP threads torch starts from it) yield to the GUI thread.

    On two cores a training run and a prediction keep every core busy; at equal priority the GUI
    thread waited up to ~200 ms for a time slice. Linux gives each thread its own nice value.
    """
    if not sys.platform.startswith("linux"):
        return
    try:
        tid = threading.get_native_id()
        current = os.getpriority(os.PRIO_PROCESS, tid)
        if current < WORKER_NICENESS:
            os.setpriority(os.PRIO_PROCESS, tid, WORKER_NICENESS)
    except OSError as exc:  # not allowed here: run at the normal priority
        log.debug("cannot lower a worker thread's priority: %s", exc)


def _shared_pool() -> QThreadPool:
    """Qt's global pool, with room for long work (training, prediction) and short loads side by side.

    Its default size is the CPU count: on two cores a training run and a prediction would hold
    every thread, and the canvas could not load the next image until one of them ended.
    """
    pool = QThreadPool.globalInstance()
    if pool.maxThreadCount() < MIN_SHARED_THREADS:
        pool.setMaxThreadCount(MIN_SHARED_THREADS)
    return pool


def _has_receivers(obj: QObject, signature: str) -> bool:
    try:
        return obj.receivers(f"2{signature}") > 0
    except (TypeError, RuntimeError):
        return False


def run_worker(
    fn: Callable[..., Any],
    *args: Any,
    on_yield: Callable[[Any], None] | None = None,
    on_return: Callable[[Any], None] | None = None,
    on_error: Callable[[BaseException], None] | None = None,
    on_finish: Callable[[], None] | None = None,
    **kwargs: Any,
) -> Worker:
    """Create, connect and start a worker in one call."""
    worker = Worker(fn, *args, **kwargs)
    for signal, slot in ((worker.yielded, on_yield), (worker.returned, on_return), (worker.errored, on_error),
                         (worker.finished, on_finish)):
        if slot is not None:
            signal.connect(slot)
    return worker.start()


SHUTDOWN_WAIT_S = 30.0


class WorkerGroup:
    """The workers one widget started, so it can let them finish before the project's store closes."""

    def __init__(self) -> None:
        self._running: set[Worker] = set()

    def start(self, worker: Worker) -> Worker:
        self._running.add(worker)
        worker.finished.connect(lambda: self._running.discard(worker))
        return worker.start()

    def wait(self, timeout_s: float = SHUTDOWN_WAIT_S) -> None:
        """Block until every worker started here has finished (the store is about to close under them)."""
        for worker in list(self._running):
            worker.wait(timeout_s)


def stop_all_workers(timeout_s: float = 10.0) -> bool:
    """Ask every running worker to stop and wait for them (at exit); True if all ended in time."""
    live = list(Worker._live)
    for worker in live:
        worker.quit()
    return all(worker.wait(timeout_s) for worker in live)


def wait_until(condition: Callable[[], object], timeout_s: float = 60.0) -> None:
    """Run a nested Qt event loop until `condition()` holds (scripts, benchmarks, screenshots).

    A `QEventLoop`, not a `processEvents()` loop: the latter's Python wrapper leaks a reference
    per call in PySide6 6.12 on Python 3.11 and eventually crashes the interpreter.
    """
    from PySide6.QtCore import QEventLoop, QTimer

    loop = QEventLoop()
    poll = QTimer(interval=5)
    poll.timeout.connect(lambda: condition() and loop.quit())
    QTimer.singleShot(int(timeout_s * 1000), loop.quit)
    poll.start()
    loop.exec()
    poll.stop()
    if not condition():
        raise TimeoutError(f"gave up waiting after {timeout_s:.0f} s")
