"""What a long prediction has finished, so that a killed run resumes where it stopped.

`<out>/predict-progress.jsonl` holds a first line with the run's signature (checkpoint, input, options) and
then one line per finished frame (its score, estimated IoU and measurements), appended and flushed to disk
after the frame's files are written. A run with the same signature skips the frames listed and ends with
the same CSV and JSON files as one run would have written; a run with another signature starts over. Under
torchrun each process keeps its own file (`predict-progress.rank<N>.jsonl`) and every file counts, so a run
resumes whatever the number of processes. The files are removed once the run has written its summaries.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path

from segcore.inference.measure import Measurement
from segcore.io.atomic import atomic_write_bytes

log = logging.getLogger(__name__)

JOURNAL_NAME = "predict-progress.jsonl"
RANK_JOURNAL = "predict-progress.rank{rank}.jsonl"


class PredictJournal:
    """The finished frames of one prediction run in `out_dir`, by name, as recorded by earlier tries of it."""

    def __init__(self, out_dir: str | Path, signature: dict, *, rank: int = 0):
        self.out_dir = Path(out_dir)
        self.path = self.out_dir / (JOURNAL_NAME if rank == 0 else RANK_JOURNAL.format(rank=rank))
        self.signature = json.loads(json.dumps(signature))  # as it reads back: tuples are lists
        self.done: dict[str, dict] = {}
        self._own: dict[str, dict] = {}
        self._handle = None
        self.reload()

    def reload(self) -> None:
        """Read every process's journal again (after the others have finished)."""
        self.done = {}
        for path in self._files():
            entries = self._read(path)
            self.done.update(entries)
            if path == self.path:
                self._own = entries

    def _files(self) -> list[Path]:
        return sorted(self.out_dir.glob("predict-progress*.jsonl")) if self.out_dir.is_dir() else []

    def _read(self, path: Path) -> dict[str, dict]:
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            return {}
        records = list(_parsed(lines))
        if not records or records[0].get("signature") != self.signature:
            log.info("%s is from a run with other options or another checkpoint: not resumed", path)
            return {}
        return {record["name"]: record for record in records[1:] if "name" in record}

    def record(self, name: str, *, score: float | None, quality: float | None,
               measurements: list[Measurement]) -> None:
        """Note frame `name` as finished (its files are written): one line, flushed and synced."""
        if self._handle is None:
            # Written afresh (atomically) with what it holds: a line a kill cut short must not run into the next.
            entries = [{"signature": self.signature}, *self._own.values()]
            self.path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_bytes(self.path, "".join(json.dumps(e) + "\n" for e in entries).encode("utf-8"))
            self._handle = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 - held until close()
        entry = {"name": name, "score": score, "quality": quality, "measurements": [asdict(m) for m in measurements]}
        self._handle.write(json.dumps(entry) + "\n")
        self._handle.flush()
        os.fsync(self._handle.fileno())
        self.done[name] = self._own[name] = entry

    def measurements(self, name: str) -> list[Measurement]:
        return [Measurement(**{**m, "bbox": m["bbox"] and tuple(m["bbox"])}) for m in self.done[name]["measurements"]]

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None

    def finish(self) -> None:
        """The run wrote its summaries: every process's journal goes."""
        self.close()
        for path in self._files():
            path.unlink(missing_ok=True)


def _parsed(lines: list[str]) -> Iterator[dict]:
    """The journal's entries; a last line cut short by a kill is dropped (that frame is predicted again)."""
    for line in lines:
        try:
            yield json.loads(line)
        except json.JSONDecodeError:
            log.info("a journal line cut short by an interrupted run was dropped")
