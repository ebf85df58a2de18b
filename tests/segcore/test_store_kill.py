"""A process SIGKILLed while it writes to a project loses nothing that was committed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from segcore.data.classes import ClassTable
from segcore.project.store import ProjectStore

REPO = Path(__file__).resolve().parents[2]

# The writer reports each commit on stdout only after save_mask/add_box returned (= committed).
WRITER = textwrap.dedent(
    """
    import sys
    import numpy as np
    from segcore.data.boxes import Box
    from segcore.project.store import ProjectStore

    store = ProjectStore.open(sys.argv[1])
    image_id = store.images()[0].id
    rev = 0
    while True:
        mask = np.zeros((512, 512), np.uint8)
        mask[: (rev % 500) + 1] = 1  # the content of each revision is known from its number
        rev = store.save_mask(image_id, mask, source=f"r{rev + 1}")
        store.add_box(image_id, Box(rev % 400, 0, 10, 10, 1))
        print(rev, flush=True)
    """
)


@pytest.mark.skipif(os.name != "posix", reason="SIGKILL is POSIX-only")
def test_sigkill_mid_write_keeps_committed_state(tmp_path):
    root = tmp_path / "proj"
    with ProjectStore.create(root, ClassTable.from_names(["background", "sample"])) as store:
        store.add_image_array("frame", np.zeros((512, 512), np.uint16))
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    for round_ in range(3):  # kill at different moments: after ~5, ~15 and ~30 commits
        proc = subprocess.Popen(
            [sys.executable, "-c", WRITER, str(root)], stdout=subprocess.PIPE, text=True, env=env
        )
        committed = 0
        deadline = time.monotonic() + 60
        while committed < 5 * (round_ + 1) ** 2 and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            committed = int(line)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        proc.stdout.close()
        assert proc.returncode == -signal.SIGKILL
        assert committed > 0, "the writer never committed anything"

        with ProjectStore.open(root) as store:
            assert store.integrity_check() == []
            image_id = store.images()[0].id
            revisions = store.mask_revisions(image_id)
            # Everything reported as committed is there (one more may have committed after the report).
            assert revisions[-1].revision >= committed
            assert [r.revision for r in revisions] == list(range(1, len(revisions) + 1))
            for rev in (1, committed, revisions[-1].revision):
                mask = store.load_mask(image_id, rev)
                rows = ((rev - 1) % 500) + 1
                assert mask[:rows].all() and not mask[rows:].any(), f"revision {rev} is damaged"
            assert len(store.annotations(image_id)) >= committed
