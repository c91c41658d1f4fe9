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
# It stops at the first failure and prints the figures for benchmarks/README.md.
set -euo pipefail
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

# The CPU fingerprint kernel (optional: without a compiler the torch path gives the same sums).
if "$PY" setup.py -q build_ext --inplace >/dev/null 2>&1; then
    echo "fingerprint kernel: built"
else
    echo "fingerprint kernel: not built (CPU fingerprints use torch reductions)"
fi

if [[ -n "${QUICK:-}" ]]; then
    ROUNDS=3; SIZES=(64 224); BATCHES=(8)
else
    ROUNDS=7; SIZES=(64 224); BATCHES=(8 32)
fi

echo
echo "== CUDA-marked tests"
"$PY" -m pytest -q -m cuda -rs -p no:cacheprovider tests/

echo
echo "== audit overhead, cuda"
"$PY" benchmarks/audit_overhead.py --device cuda --rounds "$ROUNDS" --sizes "${SIZES[@]}" --batches "${BATCHES[@]}"

echo
echo "== watch overhead, cuda"
for b in "${BATCHES[@]}"; do
    "$PY" benchmarks/watch_overhead.py --device cuda --rounds "$ROUNDS" --sizes "${SIZES[@]}" --batch "$b"
done

echo
echo "== watch overhead, cpu ($("$PY" -c 'import torch; print(torch.get_num_threads())') threads)"
"$PY" benchmarks/watch_overhead.py --device cpu --rounds "$ROUNDS" --sizes "${SIZES[@]}" --batch 8
