#!/usr/bin/env bash
# One-shot check of ganyard's GPU code paths on a machine with a CUDA GPU (benchmarks/device_check.py says what each check does).
#
#   bash benchmarks/device_check.sh          # on the GPU machine, from anywhere (it cds to the repository root)
#   bash benchmarks/device_check.sh cpu      # dry run of the same sequence on a machine without a GPU
#
# Missing packages (pydantic and its dependencies) come as wheels in .whl/: they are installed into
# /tmp/site when pydantic does not import, and /tmp/site and src are put on PYTHONPATH. Every check
# prints PASS/FAIL/WARN/INFO lines; a failed step does not stop the others. Exit status 1 when any step
# failed or ran out of time. The whole sequence keeps within DEVICE_CHECK_BUDGET seconds (default 450):
# each step's time limit is cut to what is left, and steps with too little left are not run (a failure).
# Environment: PYTHON (default python3), DEVICE_CHECK_OUT (default /tmp/ganyard_device_check),
# DEVICE_CHECK_BUDGET.
set -u
export PYTHONUNBUFFERED=1
cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 2
DEVICE="${1:-cuda}"
PY="${PYTHON:-python3}"
RESULTS="${DEVICE_CHECK_OUT:-/tmp/ganyard_device_check}"  # not $OUT: the device tool exports that name
BUDGET="${DEVICE_CHECK_BUDGET:-450}"
SITE=/tmp/site
CHECK=benchmarks/device_check.py
SECONDS=0
FAILED=()
rm -rf "$RESULTS"

echo "=== setup ($(date -u +%FT%TZ), device $DEVICE, budget ${BUDGET}s)"
if ! "$PY" -c 'import pydantic' 2>/dev/null && ls .whl/*.whl >/dev/null 2>&1; then
    echo "pydantic missing: installing .whl/ into $SITE"
    "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$SITE" .whl/*.whl || echo "pip install failed"
fi
case ":${PYTHONPATH:-}:" in *":$SITE:"*) ;; *) [ -d "$SITE" ] && export PYTHONPATH="$SITE${PYTHONPATH:+:$PYTHONPATH}" ;; esac
case ":${PYTHONPATH:-}:" in *":src:"* | *":$PWD/src:"*) ;; *) export PYTHONPATH="${PYTHONPATH:+$PYTHONPATH:}$PWD/src" ;; esac
echo "PYTHONPATH=$PYTHONPATH"
# tests/test_distributed.py starts processes with PYTHONPATH=src only: make /tmp/site visible to them by a .pth file.
if [ -d "$SITE" ] && ! PYTHONPATH="$PWD/src" "$PY" -c 'import pydantic' 2>/dev/null; then
    pth_dir=$("$PY" -c 'import site, sysconfig; print(site.getusersitepackages() if site.ENABLE_USER_SITE else sysconfig.get_paths()["purelib"])')
    if mkdir -p "$pth_dir" 2>/dev/null && printf 'import sys; sys.path.insert(0, "%s") if "%s" not in sys.path else None\n' "$SITE" "$SITE" >"$pth_dir/ganyard_device_check_site.pth" 2>/dev/null; then
        echo "wrote $pth_dir/ganyard_device_check_site.pth (puts $SITE first on every python's sys.path, for the tests' subprocesses)"
    else
        echo "could not write a .pth into $pth_dir: the tests' two-process runs are deselected (check c covers them)"
    fi
fi

echo "=== nvidia-smi -L"
nvidia-smi -L 2>&1 || echo "(nvidia-smi not available)"
nvidia-smi --query-gpu=name,driver_version,memory.total,memory.used --format=csv,noheader 2>/dev/null

# step NAME LIMIT_SECONDS COMMAND...: run with a time limit cut to the budget left; record a failure.
step() {
    local name=$1 limit=$2
    shift 2
    local left=$((BUDGET - SECONDS))
    echo
    echo "=== $name (t=${SECONDS}s)"
    if [ "$left" -lt 15 ]; then
        echo "FAIL $name: not run, ${left}s of the ${BUDGET}s budget left"
        FAILED+=("$name(not run)")
        return
    fi
    [ "$limit" -gt "$left" ] && limit=$left
    DEVICE_CHECK_STEP_LIMIT=$limit timeout -k 10 "$limit" "$@"
    local rc=$?
    if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
        echo "FAIL $name: killed at its ${limit}s time limit"
    fi
    [ "$rc" -ne 0 ] && FAILED+=("$name(rc=$rc)")
    echo "--- $name: rc=$rc, t=${SECONDS}s"
}

step "env" 60 "$PY" $CHECK env --device "$DEVICE"
step "a determinism" 120 "$PY" $CHECK determinism --device "$DEVICE" --out "$RESULTS"
step "b amp" 100 "$PY" $CHECK amp --device "$DEVICE" --out "$RESULTS"
if [ "$DEVICE" = cuda ]; then
    step "c1 torchrun cuda nccl nproc=1" 100 "$PY" $CHECK torchrun --device cuda --nproc 1 --timeout 90 --out "$RESULTS"
else
    step "c1 torchrun cpu gloo nproc=1" 100 "$PY" $CHECK torchrun --device cpu --nproc 1 --timeout 90 --out "$RESULTS"
fi
step "c2 torchrun cpu gloo nproc=2" 80 "$PY" $CHECK torchrun --device cpu --nproc 2 --timeout 70 --out "$RESULTS"
step "d unit tests" 160 "$PY" $CHECK tests --timeout 150
step "e mode cures" 120 "$PY" $CHECK cures --device "$DEVICE"
if [ "$DEVICE" = cuda ]; then  # informational: two processes on the one GPU through gloo's CUDA collectives
    step "c3 torchrun cuda gloo nproc=2 (informational)" 60 "$PY" $CHECK torchrun --device cuda --nproc 2 --backend gloo --informational --timeout 50 --out "$RESULTS"
fi

echo
echo "=== summary (${SECONDS}s)"
if [ "${#FAILED[@]}" -eq 0 ]; then
    echo "ALL STEPS PASSED"
    exit 0
fi
echo "FAILED STEPS: ${FAILED[*]}"
exit 1
