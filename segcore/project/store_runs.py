"""The training-runs part of `ProjectStore`: a run's record, its per-epoch metrics and its split."""

from __future__ import annotations

import json

from segcore.errors import ProjectError
from segcore.project.records import RunRecord


class RunStore:
    """Mixed into `ProjectStore` (which has the connection and the transactions)."""

    def add_run(self, name: str, config: dict, *, checkpoint_dir: str | None = None) -> int:
        with self.transaction() as conn:
            cur = conn.execute(
                "INSERT INTO runs(name, config, checkpoint_dir) VALUES (?, ?, ?)", (name, json.dumps(config), checkpoint_dir)
            )
            return int(cur.lastrowid)

    def log_metrics(self, run_id: int, epoch: int, metrics: dict[str, float]) -> None:
        with self.transaction() as conn:
            conn.executemany(
                "INSERT OR REPLACE INTO run_metrics(run_id, epoch, key, value) VALUES (?, ?, ?, ?)",
                [(run_id, epoch, k, float(v)) for k, v in metrics.items()],
            )

    def set_run_checkpoint_dir(self, run_id: int, checkpoint_dir: str) -> None:
        with self.transaction() as conn:
            conn.execute("UPDATE runs SET checkpoint_dir = ? WHERE id = ?", (checkpoint_dir, run_id))

    def set_run_split(self, run_id: int, split: dict[str, list[str]]) -> None:
        """Record the sample names a run trains on and holds out (`TrainingData.split_names`)."""
        with self.transaction() as conn:
            conn.execute("UPDATE runs SET split = ? WHERE id = ?", (json.dumps(split), run_id))

    def reopen_run(self, run_id: int) -> None:
        """Mark a run as running again (it is being resumed)."""
        with self.transaction() as conn:
            conn.execute("UPDATE runs SET status = 'running', finished_at = NULL WHERE id = ?", (run_id,))

    def run(self, run_id: int) -> RunRecord:
        for record in self.runs():
            if record.id == run_id:
                return record
        raise ProjectError(f"no run with id {run_id} in project {self.root}")

    def finish_run(self, run_id: int, status: str, *, best_score: float | None = None) -> None:
        with self.transaction() as conn:
            conn.execute(
                "UPDATE runs SET status = ?, best_score = COALESCE(?, best_score), "
                "finished_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE id = ?",
                (status, best_score, run_id),
            )

    def runs(self) -> list[RunRecord]:
        return [
            RunRecord(
                r["id"], r["name"], json.loads(r["config"]), r["status"], r["checkpoint_dir"],
                r["best_score"], r["created_at"], r["finished_at"], json.loads(r["split"]) if r["split"] else None,
            )
            for r in self._query("SELECT * FROM runs ORDER BY id")
        ]

    def run_metrics(self, run_id: int) -> dict[int, dict[str, float]]:
        """Per-epoch metrics of a run: {epoch: {key: value}}."""
        out: dict[int, dict[str, float]] = {}
        for r in self._query("SELECT epoch, key, value FROM run_metrics WHERE run_id = ? ORDER BY epoch", (run_id,)):
            out.setdefault(r["epoch"], {})[r["key"]] = r["value"]
        return out
