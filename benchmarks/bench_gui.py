"""The GUI on a 3072x3072 16-bit frame, offscreen: first paint, brush updates, event-loop stalls.

    python benchmarks/bench_gui.py [--out benchmarks/out/bench_gui.json]

1. time from selecting a 3072x3072 16-bit image to its first paint on the canvas (decode, window/
   level and the QImage in a worker, then the paint), vs the bare decode of the same file;
2. time per brush-stroke update (a mouse move painting into the 3072x3072 mask, the overlay
   re-coloured in the touched rectangle and the view repainted), vs re-colouring the whole
   overlay for every move (what a naive canvas does);
3. the longest event-loop stall while a training run goes on in the background, measured by a
   10 ms timer that records its own lateness (target < 50 ms), vs the same timer on an idle loop.
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np
from _common import machine_info, median_seconds, write_report
from PySide6.QtCore import QEvent, QObject, QPointF, Qt, QTimer
from PySide6.QtGui import QImage
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from app.canvas.overlay import overlay_lut
from app.launcher import freeze_startup_objects
from app.main_window import MainWindow
from app.state.project_state import ProjectState
from app.workers import wait_until
from segcore.data.classes import ClassTable
from segcore.io.images import read_image
from segcore.project.store import ProjectStore

BIG = 3072


class PaintWatch(QObject):
    """Records the time of the viewport's paints."""

    def __init__(self) -> None:
        super().__init__()
        self.paints: list[float] = []

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:  # noqa: N802
        if event.type() == QEvent.Type.Paint:
            self.paints.append(time.perf_counter())
        return False


def make_project(root: Path) -> Path:
    """Two 3072x3072 16-bit fringe frames with a labelled sample region."""
    yy, xx = np.mgrid[0:BIG, 0:BIG].astype(np.float32)
    rng = np.random.default_rng(0)
    with ProjectStore.create(root, ClassTable.from_names(["background", "sample"])) as store:
        for i in range(2):
            fringe = 0.5 + 0.5 * np.cos(xx * (0.05 + 0.01 * i) + yy * 0.02)
            frame = (fringe * 40000 + rng.normal(0, 2000, (BIG, BIG)) + 8000).clip(0, 65535).astype(np.uint16)
            record = store.add_image_array(f"big_{i}", frame)
            mask = np.zeros((BIG, BIG), np.uint8)
            mask[800:1600, 900:2000] = 1
            store.save_mask(record.id, mask)
    return root


def make_train_project(root: Path) -> Path:
    """24 small labelled frames (a bright block on noise) for the training run of part 3."""
    rng = np.random.default_rng(0)
    with ProjectStore.create(root, ClassTable.from_names(["background", "sample"])) as store:
        for i in range(24):
            image = (rng.random((96, 96)) * 60).astype(np.uint8)
            mask = np.zeros((96, 96), np.uint8)
            y, x = rng.integers(4, 60, 2)
            mask[y : y + 30, x : x + 32] = 1
            image[mask == 1] += 150
            store.save_mask(store.add_image_array(f"small_{i:02d}", image).id, mask)
    return root


def first_paint(window: MainWindow, state: ProjectState, rounds: int) -> dict:
    view, watch = window.view, PaintWatch()
    view.viewport().installEventFilter(watch)
    ids = [state.find("big_0").id, state.find("big_1").id]
    times = []
    for i in range(rounds):
        image_id = ids[(i + 1) % 2]
        shown: list[float] = []
        view.image_shown.connect(lambda shown_id, image_id=image_id: shown_id == image_id and shown.append(1))
        start = time.perf_counter()
        watch.paints.clear()
        state.select(image_id)
        wait_until(lambda: shown and watch.paints and watch.paints[-1] > start and view.is_settled())
        times.append(watch.paints[-1] - start)
        view.image_shown.disconnect()
    path = state.store.image_path(ids[0])
    decode = median_seconds(lambda: read_image(path), repeats=rounds)
    median = statistics.median(times)
    return {"first_paint_s": median, "all_s": times, "decode_s": decode, "ratio_to_decode": median / decode}


def brush_updates(window: MainWindow, state: ProjectState, moves: int) -> dict:
    view = window.view
    window.tool_bar.tool_actions["brush"].trigger()
    window.tool_bar.settings.set_brush_size(25)
    viewport = view.viewport()
    rows = {}
    for zoom in ("fit", "1:1"):
        view.fit_to_window() if zoom == "fit" else view.actual_size()
        if zoom == "1:1":
            view.centerOn(1536, 1536)
        left = view.mapToScene(viewport.rect().topLeft())
        x0, y0 = max(0.0, left.x()) + 40, max(0.0, left.y()) + 40
        span = min(view.mapToScene(viewport.rect().bottomRight()).x() - x0, 2800.0) - 40
        points = [view.mapFromScene(QPointF(x0 + span * k / moves, y0 + 200 + 60 * np.sin(k / 5))) for k in range(moves)]
        QTest.mousePress(viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, points[0])
        times = []
        for point in points[1:]:
            start = time.perf_counter()
            QTest.mouseMove(viewport, point)
            viewport.repaint()  # the paint the move scheduled, done now so it is inside the timing
            times.append(time.perf_counter() - start)
        QTest.mouseRelease(viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, points[-1])
        rows[zoom] = {"median_ms": 1000 * statistics.median(times), "p95_ms": 1000 * float(np.percentile(times, 95))}
    mask, lut = view.document.mask, overlay_lut(state.class_table)

    def naive() -> None:  # re-colour the whole overlay and repaint, as a canvas without dirty regions does
        pixels = lut[mask]
        image = QImage(pixels.data, BIG, BIG, pixels.strides[0], QImage.Format.Format_ARGB32_Premultiplied)
        view.overlay_item.update()
        viewport.repaint()
        del image

    naive_ms = 1000 * median_seconds(naive, repeats=10)
    return {"brush_px": 25, "moves": moves, **rows, "naive_full_update_ms": naive_ms,
            "speedup_vs_naive_fit": naive_ms / rows["fit"]["median_ms"]}


class LatenessTimer(QObject):
    """A 10 ms timer that records how late each of its ticks comes: the event loop's stalls."""

    def __init__(self, interval_ms: int = 10) -> None:
        super().__init__()
        self.interval = interval_ms / 1000
        self.lateness: list[float] = []
        self._timer = QTimer(self, interval=interval_ms)
        self._timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._timer.timeout.connect(self._tick)
        self._last = 0.0

    def start(self) -> None:
        self.lateness.clear()
        self._last = time.perf_counter()
        self._timer.start()

    def stop(self) -> dict:
        self._timer.stop()
        late = np.array(self.lateness) * 1000
        return {"ticks": len(late), "max_ms": float(late.max()), "p99_ms": float(np.percentile(late, 99)),
                "median_ms": float(np.median(late))}

    def _tick(self) -> None:
        now = time.perf_counter()
        self.lateness.append(max(0.0, now - self._last - self.interval))
        self._last = now


def training_stall(window: MainWindow, state: ProjectState, root: Path, epochs: int, idle_s: float) -> dict:
    from segcore.training import TrainConfig

    state.open(root)
    wait_until(window.view.is_settled)
    timer = LatenessTimer()
    timer.start()
    deadline = time.perf_counter() + idle_s
    wait_until(lambda: time.perf_counter() > deadline)
    idle = timer.stop()
    config = TrainConfig(model="unet", model_kwargs={"base_channels": 16}, epochs=epochs, batch_size=4, lr=1e-2,
                         augment={"hflip": 0.5}, val_fraction=0.25, seed=0)
    done: list[object] = []
    window.training.finished.connect(done.append)
    window.training.failed.connect(done.append)
    timer.start()
    start = time.perf_counter()
    window.training.start(config, name="stall benchmark")
    wait_until(lambda: bool(done), timeout_s=600)
    seconds = time.perf_counter() - start
    training = timer.stop()
    if not hasattr(done[0], "best_miou"):
        raise RuntimeError(f"the training run failed: {done[0]}")
    return {"idle": idle, "training": training, "train_seconds": seconds, "epochs": epochs,
            "best_miou": done[0].best_miou}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--moves", type=int, default=120)
    parser.add_argument("--epochs", type=int, default=8, help="epochs of the training run of part 3")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/out/bench_gui.json"))
    args = parser.parse_args()
    info = machine_info()
    print(f"{info.get('cpu')} ({info['cpus']} CPUs), Qt platform {os.environ['QT_QPA_PLATFORM']}")
    app = QApplication.instance() or QApplication([])
    with tempfile.TemporaryDirectory() as tmp:
        root = make_project(Path(tmp) / "proj")
        state = ProjectState()
        window = MainWindow(state)
        freeze_startup_objects()  # as the launcher does
        window.resize(1600, 1000)
        window.show()
        state.open(root)
        wait_until(window.view.is_settled)
        paint = first_paint(window, state, args.rounds)
        print(f"\n1. 3072x3072 16-bit: first paint {paint['first_paint_s'] * 1000:.0f} ms after selecting it "
              f"(median of {args.rounds}); the bare decode {paint['decode_s'] * 1000:.0f} ms -> "
              f"{paint['ratio_to_decode']:.2f}x the decode")
        brush = brush_updates(window, state, args.moves)
        print(f"2. brush stroke on the 3072x3072 mask ({brush['brush_px']} px): per mouse move incl. repaint "
              f"{brush['fit']['median_ms']:.1f} ms fitted (p95 {brush['fit']['p95_ms']:.1f}), "
              f"{brush['1:1']['median_ms']:.1f} ms at 1:1 (p95 {brush['1:1']['p95_ms']:.1f}); re-colouring the "
              f"whole overlay instead {brush['naive_full_update_ms']:.0f} ms -> {brush['speedup_vs_naive_fit']:.0f}x")
        stall = training_stall(window, state, make_train_project(Path(tmp) / "train"), args.epochs, idle_s=2.0)
        print(f"3. event loop while training ({stall['epochs']} epochs, {stall['train_seconds']:.0f} s, "
              f"mIoU {stall['best_miou']:.2f}): longest stall {stall['training']['max_ms']:.0f} ms "
              f"(p99 {stall['training']['p99_ms']:.1f} ms, target < 50 ms); idle loop: longest "
              f"{stall['idle']['max_ms']:.1f} ms (p99 {stall['idle']['p99_ms']:.1f} ms)")
        report = {"first_paint": paint, "brush": brush, "training_stall": stall}
        state.close()
        window.close()
    gc.unfreeze()
    app.quit()
    write_report(args.out, report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
