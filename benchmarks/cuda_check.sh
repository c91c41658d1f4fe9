#!/usr/bin/env bash
# The CUDA checks, in one go, on a machine with an NVIDIA GPU (none in CI):
#
#     bash benchmarks/cuda_check.sh            # from anywhere; runs in the repository root
#     QUICK=1 bash benchmarks/cuda_check.sh    # fewer rounds and sizes (about 3 minutes)
#
# 1. the CUDA-marked tests (`pytest -m cuda`: audit, watch, and NCCL DDP when 2 GPUs are visible),
#    listing every skip with its reason;
# 2. benchmarks/audit_overhead.py and benchmarks/watch_overhead.py on cuda (resnet50);
# 3. benchmarks/watch_overhead.py on the CPU as well (an idle many-core host, for comparison).
# A failing test does not stop the benchmarks (GPU time is scarce: one run should say everything);
# the script exits non-zero at the end if any part failed. ROUNDS=N overrides the rounds.
set -uo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
PY="${PYTHON:-python3}"

"$PY" - <<'PYEOF'
import sys
import torch
if not torch.cuda.is_available():
    sys.exit(f"cuda_check: torch {torch.__version__} sees no CUDA device")
names = ", ".join(torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count()))
print(f"torch {torch.__version__}, CUDA {torch.version.cuda}, {torch.cuda.device_count()} device(s): {names}")
PYEOF
[[ $? == 0 ]] || exit 1

# The CPU fingerprint kernel (optional: without a compiler the torch path gives the same sums).
if "$PY" setup.py -q build_ext --inplace >/dev/null 2>&1 && "$PY" -c 'from freezelint.runtime import _fold' 2>/dev/null; then
    echo "fingerprint kernel: built"
else
    echo "fingerprint kernel: not built (CPU fingerprints use torch reductions)"
fi

if [[ -n "${QUICK:-}" ]]; then
    ROUNDS=${ROUNDS:-3}; SIZES=(64 224); BATCHES=(8)
else
    ROUNDS=${ROUNDS:-7}; SIZES=(64 224); BATCHES=(8 32)
fi
failed=()
part() {  # part NAME COMMAND...: run one part, note a failure, go on
    local name=$1; shift
    echo; echo "== $name"
    local t=$SECONDS
    "$@" || failed+=("$name")
    echo "   ($name: $((SECONDS - t)) s)"
}

part "CUDA-marked tests" "$PY" -m pytest -q -m cuda -rs -p no:cacheprovider tests/
part "audit overhead, cuda" "$PY" benchmarks/audit_overhead.py --device cuda --rounds "$ROUNDS" \
    --sizes "${SIZES[@]}" --batches "${BATCHES[@]}"
for b in "${BATCHES[@]}"; do
    part "watch overhead, cuda, batch $b" "$PY" benchmarks/watch_overhead.py --device cuda --rounds "$ROUNDS" \
        --sizes "${SIZES[@]}" --batch "$b" --own --after
done
part "watch overhead, cpu ($("$PY" -c 'import torch; print(torch.get_num_threads())') threads)" \
    "$PY" benchmarks/watch_overhead.py --device cpu --rounds "$ROUNDS" --sizes "${SIZES[@]}" --batch 8 --own --after

echo
if ((${#failed[@]})); then
    echo "cuda_check: FAILED: ${failed[*]}"
    exit 1
fi
echo "cuda_check: all parts passed"
