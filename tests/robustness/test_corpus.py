"""Every input of the corpus through every `segcore` command that takes it, each in its own process.

Each run must end in the exit code its case expects (0 handled, 3 skipped and reported, 1 refused; 2 is
argparse's, for usage errors),
with no traceback, at most one error line on stderr (exactly one when refused), the skipped input
named on stdout, and its peak memory far below the cap that a decoded bomb would hit.
"""

from __future__ import annotations

from pathlib import Path

import corpus
import pytest
from corpus import REFUSED, RUNS, SKIPPED, Case, command_line, outcome_counts
from runner import CliRunner

PEAK_MEMORY = 2**30
"""Resident memory no run may reach: fine runs of these tiny inputs peak near 0.5 GiB (torch and
OpenCV loaded); decoding the 30000 x 30000 bomb takes them past 2 GiB."""


@pytest.mark.parametrize(("case", "command"), RUNS, ids=[f"{case.name}-{command}" for case, command in RUNS])
def test_every_input_gets_one_clear_outcome(case: Case, command: str, corpus_dir: Path, checkpoint: Path,
                                            cli: CliRunner, tmp_path: Path):
    argv = command_line(case, command, corpus_dir, checkpoint, tmp_path)
    run = cli.run(argv, tmp_path)
    assert "Traceback" not in run.stderr, run.stderr
    errors = [line for line in run.stderr.splitlines() if line.startswith("segcore")]
    noise = [line for line in run.stderr.splitlines()
             if line.strip() and not line.startswith(("segcore ", "WARNING segcore.")) and "%|" not in line]
    assert noise == [], run.stderr  # no library's own log lines or warnings (tqdm's progress bar aside)
    assert run.code == case.expect[command], f"exit {run.code}\nstdout:\n{run.stdout}\nstderr:\n{run.stderr}"
    if run.code == REFUSED:
        assert len(errors) == 1 and errors[0].startswith(f"segcore {argv[0]}: error: "), run.stderr
        if case.kind in ("image", "labelme", "checkpoint"):
            assert Path(case.file).stem in errors[0]
    else:
        assert errors == [], run.stderr
    if run.code == SKIPPED:
        skipped = [line for line in run.stdout.splitlines() if line.startswith("skipped ")]
        assert len(skipped) == 1 and Path(case.file).stem in skipped[0], run.stdout
    assert case.says in run.stdout + run.stderr
    assert run.peak_rss < PEAK_MEMORY


def test_the_documented_counts_are_the_corpus_counts():
    table = corpus.__doc__.split("outcome            runs")[1].split("\n\n")[0].split()
    documented = {int(table[i]): int(table[i + 2]) for i in range(0, 9, 3)}
    assert documented == outcome_counts() and int(table[-1]) == len(RUNS) and "the 39 cases" in corpus.__doc__
    assert len(corpus.CASES) == 39
