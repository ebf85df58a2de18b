"""Merge `bench_loop.py` reports run as separate processes (one training seed each) into one summary.

    python benchmarks/merge_loop.py benchmarks/out/bench_loop_phase_seed15_t*.json --out benchmarks/out/bench_loop_phase_seed15.json

Two cores run two training seeds side by side in half the time of one process running them in turn; the summary
(mean over the runs, spread between training seeds, the estimate's figures) is `bench_loop.summarise` over the rows
of every file, as one process would have printed.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from _common import write_report
from bench_loop import summarise


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("reports", type=Path, nargs="+")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    reports = [json.loads(path.read_text()) for path in args.reports]
    rows = [row for report in reports for row in report["runs"]]
    merged = {**reports[0], "merged_from": [str(path) for path in args.reports], "runs": rows}
    merged["args"] = {**reports[0]["args"], "train_seeds": sorted({row["train_seed"] for row in rows})}
    merged["summary"] = summarise(rows)
    write_report(args.out, merged)


if __name__ == "__main__":
    main()
