"""Make the README's screenshots: the train panel mid-run with the live preview, the review triptych
with the review queue, and a prediction drawn over a label on the canvas; offscreen.

    python docs/make_screenshots.py [--out docs/images] [--epochs N]

Works on a fresh copy of the demo project (the user's own demo project is left alone): trains
with the train panel's defaults (grabbing the window mid-run, the live preview on an unlabelled
frame), predicts the labelled frames from the review queue's button and the unlabelled ones with
the best checkpoint, then shows the labelled frame the model gets most wrong in the review view
and on the canvas. The workspace screenshot is made by the app itself:
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
from segcore.project.runs import latest_checkpoint  # noqa: E402


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
        state.select(state.find("interferogram_05").id)  # unlabelled: the live preview shows on it
        wait_until(window.view.is_settled)
        window.view_toolbar.prediction_action.setChecked(True)
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

        wait_until(lambda: not window.live_preview.is_running, timeout_s=600)  # the last preview first
        finished: list[object] = []
        window.predictions.finished.connect(lambda *a: finished.append(a))
        queue = window.review_panel
        queue.raise_()
        queue.refresh()
        wait_until(lambda: not queue.is_computing, timeout_s=120)
        queue.predict_button.click()  # the labelled frames, with the newest run
        wait_until(lambda: bool(finished), timeout_s=3600)
        window.predictions.predict(latest_checkpoint(state.store), "unlabelled")
        wait_until(lambda: len(finished) == 2, timeout_s=3600)
        queue.refresh()
        wait_until(lambda: not queue.is_computing, timeout_s=120)
        target = queue.queue[0].image_id if queue.queue else state.current_id
        state.select(target)
        window.review_view.reveal()
        window.review_view.refresh(target)
        wait_until(lambda: window.review_view.is_settled() and window.review_view.has_prediction, timeout_s=120)
        window.grab().save(str(args.out / "review.jpg"))
        print(f"wrote {args.out / 'review.jpg'} ({state.record(target).name})")
        window.tabs.setCurrentWidget(window.view)
        wait_until(lambda: window.view.is_settled() and not window.view.prediction_item.is_empty, timeout_s=120)
        window.grab().save(str(args.out / "prediction.jpg"))
        print(f"wrote {args.out / 'prediction.jpg'} ({state.record(target).name})")
        state.close()
        window.close()
        stop_all_workers()
    app.quit()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
