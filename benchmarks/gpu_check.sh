#!/usr/bin/env bash
# The GPU check, for the day a CUDA machine is at hand: install, then every step of
# benchmarks/gpu_check.py (CUDA-only tests, AMP training step, folder prediction with workers,
# ICNet / DeepLabV3+ fps at 1024x1024), ONE JSON file, all within 8 minutes.
#
#   benchmarks/gpu_check.sh [--dry-run] [--out FILE]    (default FILE: benchmarks/out/gpu_check.json)
#
# --dry-run: no install, the same steps at tiny sizes on the CPU (tests/test_gpu_check.py runs it).
# PYTHON: the interpreter to build the venv from (default python3); SEGDESK_VENV: the venv (default .venv).
# Exit status: 0 when every step passed, 1 otherwise; the JSON says which step failed and why.
set -uo pipefail  # no -e: a failed step or install is recorded and the check goes on
cd "$(dirname "$0")/.."
deadline=$(($(date +%s) + 480))
venv=${SEGDESK_VENV:-.venv}
base=${PYTHON:-python3}
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"  # the checkout's segcore even where the install failed

dry_run=0
for arg in "$@"; do
    [ "$arg" = --dry-run ] && dry_run=1
done

purelib() { "$1" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])'; }

install() {
    # Prints one line for the report; never stops the check.
    if [ ! -x "$venv/bin/python" ]; then
        # System packages: a CUDA torch already there is reused, not downloaded again (GBs).
        "$base" -m venv --system-site-packages "$venv" || { echo "failed: could not create $venv with $base"; return; }
        # A venv made from a venv's python sees the base interpreter's packages only: add the parent venv's.
        if [ "$("$base" -c 'import sys; print(sys.prefix != sys.base_prefix)')" = True ]; then
            purelib "$base" >"$(purelib "$venv/bin/python")/parent-venv.pth"
        fi
    fi
    local log="$venv/gpu_check_pip.log"
    if timeout 150 "$venv/bin/python" -m pip install -q --disable-pip-version-check --retries 0 --timeout 15 \
        -e ".[test]" >"$log" 2>&1; then
        echo "ok: pip install -e .[test] into $venv"
    elif timeout 60 "$venv/bin/python" -m pip install -q --disable-pip-version-check --no-index --no-deps \
        --no-build-isolation -e . >>"$log" 2>&1; then
        echo "partial: pip install -e .[test] failed (offline? $log), installed segdesk alone with what $venv has"
    else
        echo "failed: pip install -e .[test] failed (offline? $log); running from the checkout with what $venv has"
    fi
}

# The venv's python when it has torch, else the base one (which may hold the machine's CUDA torch).
pick_python() {
    for candidate in "$venv/bin/python" "$base"; do
        if [ -x "$(command -v "$candidate")" ] && "$candidate" -c 'import torch' 2>/dev/null; then
            echo "$candidate"
            return
        fi
    done
    echo "$base"
}

if [ "$dry_run" = 1 ]; then
    status="skipped (dry run)"
    python=$([ -n "${PYTHON:-}" ] && echo "$base" || pick_python)
else
    echo "gpu_check: installing into $venv"
    status=$(install)
    echo "gpu_check: install $status"
    python=$(pick_python)
fi
echo "gpu_check: steps with $python"
exec "$python" benchmarks/gpu_check.py --install "$status" --deadline "$deadline" "$@"
