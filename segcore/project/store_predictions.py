"""The predictions part of `ProjectStore`: each image's latest prediction, its files, origin and estimated IoU."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence

import numpy as np

from segcore.data.masks import read_index_mask, write_palette_png
from segcore.errors import MaskError, ProjectError, SegcoreError
from segcore.io.images import read_image, write_image
from segcore.project.records import ImageStatus, PredictionRecord, StoredPrediction

PREDICTIONS_DIR = "predictions"


class PredictionStore:
    """Mixed into `ProjectStore` (which has the connection, transactions, images and the class table)."""

    def save_prediction(
        self,
        image_id: int,
        labels: np.ndarray,
        uncertainty: np.ndarray | None = None,
        *,
        score: float | None = None,
        checkpoint: str,
        run_id: int | None = None,
        method: Sequence[str] = (),
        quality: float | None = None,
    ) -> None:
        """Keep `labels` (and the per-pixel uncertainty) as the image's latest prediction.

        `method`: what the predictor added to the network (`Predictor.method`), shown where the prediction is.
        `quality`: its estimated IoU (`segcore.inference.quality`), what the review queue sorts by.
        An unlabelled image becomes 'predicted'; labelled and reviewed ones keep their status.
        """
        record = self.image(image_id)
        if labels.shape != (record.height, record.width):
            raise MaskError(f"prediction size {labels.shape[::-1]} differs from image {record.name} "
                            f"({record.width}x{record.height})")
        if uncertainty is not None and uncertainty.shape != labels.shape:
            raise MaskError(f"uncertainty shape {uncertainty.shape} differs from the labels' {labels.shape}")
        table = self.class_table()
        stamp = time.time_ns()
        with self.transaction() as conn:  # files written inside it go again if it fails (a full disk)
            labels_rel = f"{PREDICTIONS_DIR}/{image_id}-{stamp}.png"
            write_palette_png(self._new_file(self.root / labels_rel), labels, table)
            uncertainty_rel = None
            if uncertainty is not None:  # 16-bit PNG: lossless to 1.5e-5, a quarter of a float32 .npy
                uncertainty_rel = f"{PREDICTIONS_DIR}/{image_id}-{stamp}-uncertainty.png"
                scaled = np.rint(np.clip(uncertainty, 0.0, 1.0) * 65535).astype(np.uint16)
                write_image(self._new_file(self.root / uncertainty_rel), scaled)
            old = conn.execute("SELECT labels_file, uncertainty_file FROM predictions WHERE image_id = ?",
                               (image_id,)).fetchall()
            conn.execute(
                "INSERT OR REPLACE INTO predictions(image_id, labels_file, uncertainty_file, score, checkpoint, run_id, "
                "method, quality) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (image_id, labels_rel, uncertainty_rel, score, str(checkpoint), run_id, json.dumps(list(method)), quality),
            )
            if record.status is ImageStatus.UNLABELLED:
                conn.execute("UPDATE images SET status = ? WHERE id = ?", (ImageStatus.PREDICTED.value, image_id))
        for row in old:  # superseded files go only after the new row is committed
            for rel in (row["labels_file"], row["uncertainty_file"]):
                if rel:
                    (self.root / rel).unlink(missing_ok=True)

    def load_prediction(self, image_id: int) -> StoredPrediction | None:
        """The image's latest prediction, or None."""
        rows = self._query("SELECT * FROM predictions WHERE image_id = ?", (image_id,))
        if not rows:
            return None
        row = rows[0]
        try:
            labels = read_index_mask(self.root / row["labels_file"])
            uncertainty = None
            if row["uncertainty_file"]:
                uncertainty = read_image(self.root / row["uncertainty_file"]).astype(np.float32) / 65535
        except SegcoreError as exc:
            raise ProjectError(f"the stored prediction of image {image_id} cannot be read: {exc}") from exc
        return StoredPrediction(image_id, labels, uncertainty, row["score"], row["checkpoint"], row["run_id"],
                                row["created_at"], _method(row["method"]), row["quality"])

    def prediction_scores(self) -> dict[int, float | None]:
        """{image id: mean uncertainty} of every image that has a prediction."""
        return {image_id: record.score for image_id, record in self.prediction_records().items()}

    def prediction_records(self) -> dict[int, PredictionRecord]:
        """{image id: where its prediction came from} of every image that has a prediction."""
        rows = self._query("SELECT image_id, score, checkpoint, run_id, created_at, method, quality FROM predictions")
        return {r["image_id"]: PredictionRecord(r["image_id"], r["score"], r["checkpoint"], r["run_id"], r["created_at"],
                                                _method(r["method"]), r["quality"])
                for r in rows}

    def prediction_quality(self, image_id: int) -> float | None:
        """The estimated IoU of the image's prediction (None: no prediction, or one not estimated)."""
        rows = self._query("SELECT quality FROM predictions WHERE image_id = ?", (image_id,))
        return rows[0]["quality"] if rows else None

    def prediction_qualities(self) -> dict[int, float | None]:
        """{image id: estimated IoU} of every image that has a prediction (None: not estimated)."""
        return {image_id: record.quality for image_id, record in self.prediction_records().items()}


def _method(stored: str | None) -> tuple[str, ...] | None:
    """A prediction's recorded method (a JSON list); None for predictions made before it was recorded."""
    return None if stored is None else tuple(json.loads(stored))
