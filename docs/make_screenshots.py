"""Make the README's screenshots of the train panel mid-run and of the review triptych, offscreen.

    python docs/make_screenshots.py [--out docs/images] [--epochs N]

Works on a fresh copy of the demo project (the user's own demo project is left alone): trains
with the train panel's defaults for a few epochs (grabbing the window mid-run), predicts every
image with the best checkpoint, then shows the labelled image the model gets most wrong in the
review view. The workspace screenshot is made by the app itself:
`python main.py --demo --image interferogram_large_00 --screenshot docs/images/workspace.jpg`.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

os.environ["QT_QPA_PLATFORM"] = "offscreen"
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from PySide6.QtWidgets import QApplication  # noqa: E402

from app.main_window import MainWindow  # noqa: E402
from app.state.project_state import ProjectState  # noqa: E402
from app.workers import stop_all_workers, wait_until  # noqa: E402
from segcore.demo import ensure_demo_project  # noqa: E402
from segcore.project.review import review_queue  # noqa: E402
from segcore.project.runs import run_checkpoints  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("docs/images"))
    parser.add_argument("--epochs", type=int, help="override the train panel's default number of epochs")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    app = QApplication.instance() or QApplication([])
    with tempfile.TemporaryDirectory() as tmp:
        root = ensure_demo_project(Path(tmp) / "demo")
        state = ProjectState()
        window = MainWindow(state)
        window.resize(1500, 900)
        window.show()
        loaded: list[bool] = []
        window.train_panel.defaults_loaded.connect(lambda: loaded.append(True))
        state.open(root)
        state.select(state.find("interferogram_02").id)
        wait_until(window.view.is_settled)
        panel = window.train_panel
        wait_until(lambda: bool(loaded) and panel.train_button.isEnabled(), timeout_s=120)
        config = panel.config_from_form()
        if args.epochs:
            config.epochs = args.epochs
            panel.set_form(config)
        epochs: list[int] = []
        window.training.epoch.connect(lambda event: epochs.append(event.epoch))
        done: list[object] = []
        window.training.finished.connect(done.append)
        window.training.failed.connect(done.append)
        panel.raise_()
        panel.train()
        wait_until(lambda: len(epochs) >= max(2, int(config.epochs * 0.6)) or done, timeout_s=3600)
        window.grab().save(str(args.out / "train.jpg"))
        print(f"wrote {args.out / 'train.jpg'} after {len(epochs)} epochs")
        wait_until(lambda: bool(done), timeout_s=3600)

        preview = window.live_preview  # let the last live preview end first
        wait_until(lambda: not window.predictions.is_running and preview.pending is None, timeout_s=600)
        best = run_checkpoints(state.store, state.store.runs()[-1].id)["best"]
        finished: list[object] = []
        window.predictions.finished.connect(lambda *a: finished.append(a))
        window.predictions.predict(best, "all")
        wait_until(lambda: bool(finished), timeout_s=3600)
        worst = review_queue(state.store, "worst_iou")
        target = worst[0][0] if worst else state.current_id
        state.select(target)
        window.review_view.reveal()
        window.review_view.refresh(target)
        wait_until(lambda: window.review_view.is_settled() and window.review_view.has_prediction, timeout_s=120)
        window.review_panel.raise_()
        window.review_panel.refresh()
        wait_until(lambda: not window.review_panel.is_computing, timeout_s=120)
        window.grab().save(str(args.out / "review.jpg"))
        print(f"wrote {args.out / 'review.jpg'} ({state.record(target).name})")
        state.close()
        window.close()
        stop_all_workers()
    app.quit()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
