"""Run `python -m segcore ARGS` in child processes forked from one warm interpreter.

Importing torch costs seconds per process, too much for a corpus of a hundred runs on two cores.
The server (this file run as a script) imports segcore's commands once, then forks one child per
run, as torch's DataLoader forks its workers. Each child is a separate process that runs
segcore's `__main__` exactly as `python -m segcore` does, with its own argv, working folder,
stdout and stderr files and an address-space cap; the server reports its exit status and its
peak resident memory (from `wait4`).
"""

from __future__ import annotations

import importlib
import json
import os
import resource
import runpy
import signal
import subprocess
import sys
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

MEMORY_HEADROOM = 3 * 2**30
"""Address space a run may add to the server's: a bomb that gets decoded dies here instead of the machine."""

# What the commands import on first use; loaded once in the server, shared by every child.
_PRELOAD = ("segcore.cli", "segcore.cli.predict", "segcore.inference.folder", "segcore.inference.predictor",
            "segcore.training", "segcore.training.evaluate", "segcore.cli.progress", "segcore.project.transfer", "tqdm")


@dataclass(frozen=True)
class Run:
    """What one `segcore` run did."""

    code: int
    """Exit status; minus the signal number when a signal killed it."""
    stdout: str
    stderr: str
    peak_rss: int
    """Bytes of resident memory at the child's peak."""


class CliRunner:
    """A running fork server; `run(argv, cwd)` runs one `segcore` command line in a fresh child."""

    def __init__(self, env: dict[str, str] | None = None):
        # One OpenMP thread: starting a pool per child costs more than these tiny models compute.
        env = {**os.environ, "OMP_NUM_THREADS": "1", **(env or {})}
        self._server = subprocess.Popen([sys.executable, __file__], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        text=True, env=env)
        json.loads(self._server.stdout.readline())  # ready: everything imported

    def run(self, argv: list[str], cwd: Path, timeout: float = 60) -> Run:
        out, err = cwd / ".stdout", cwd / ".stderr"
        request = {"argv": argv, "cwd": str(cwd), "stdout": str(out), "stderr": str(err), "timeout": timeout}
        self._server.stdin.write(json.dumps(request) + "\n")
        self._server.stdin.flush()
        reply = json.loads(self._server.stdout.readline())
        return Run(reply["code"], out.read_text(errors="replace"), err.read_text(errors="replace"), reply["rss"])

    def close(self) -> None:
        self._server.stdin.close()
        self._server.wait(timeout=30)


def _serve() -> None:
    for name in _PRELOAD:
        importlib.import_module(name)
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        print(json.dumps(_run(json.loads(line))), flush=True)


def _address_space() -> int:
    return int(Path("/proc/self/statm").read_text().split()[0]) * os.sysconf("SC_PAGE_SIZE")


def _run(request: dict) -> dict:
    limit = _address_space() + MEMORY_HEADROOM
    pid = os.fork()
    if pid == 0:
        os._exit(_child(request, limit))
    deadline = time.monotonic() + request["timeout"]
    while True:
        done, status, usage = os.wait4(pid, os.WNOHANG)
        if done:
            break
        if time.monotonic() > deadline:
            os.killpg(pid, signal.SIGKILL)
        time.sleep(0.005)
    try:
        os.killpg(pid, signal.SIGKILL)  # anything the run left behind (worker processes)
    except ProcessLookupError:
        pass
    return {"code": os.waitstatus_to_exitcode(status), "rss": usage.ru_maxrss * 1024}  # ru_maxrss: KiB on Linux


def _child(request: dict, limit: int) -> int:
    """Become `python -m segcore ARGV` in the request's folder; returns the exit status."""
    try:
        os.setpgid(0, 0)
        os.chdir(request["cwd"])
        written = os.O_WRONLY | os.O_CREAT | os.O_TRUNC  # a second run in one folder starts empty files
        for fd, path, flags in ((0, os.devnull, os.O_RDONLY), (1, request["stdout"], written),
                                (2, request["stderr"], written)):
            os.dup2(os.open(path, flags, 0o644), fd)
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        sys.argv = ["segcore", *request["argv"]]
        try:
            runpy.run_module("segcore", run_name="__main__", alter_sys=True)
            code = 0
        except SystemExit as stop:
            code = stop.code if isinstance(stop.code, int) else (0 if stop.code is None else 1)
            if isinstance(stop.code, str):
                print(stop.code, file=sys.stderr)
        except BaseException:  # what the interpreter does with an uncaught exception
            traceback.print_exc()
            code = 1
        sys.stdout.flush()
        sys.stderr.flush()
        return code
    except BaseException:
        return 70


if __name__ == "__main__":
    _serve()
