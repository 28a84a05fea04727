#!/usr/bin/env bash
# finch against eager PyTorch, side by side on this machine: `finch bench step` and
# tests/reference/eager_step.py (torchvision's EfficientNet, the same batch, size, optimizer and
# threads), run alternately for several rounds; prints every round, the medians and finch/PyTorch.
#   launch/compare.sh [--finch build/finch] [--python PY] [--rounds 5] [--batch-size 32]
#                     [--image-size 224] [--steps 10] [--warmup 3] [--threads N] [--device cpu|cuda]
# PY defaults to the Python whose torch is the LibTorch finch was built on: /usr/bin/python3
# (Debian's python3-torch 1.13) for build/, the venv of launch/torch2-env.sh for build-torch2/ —
# the same library on both sides, so the ratio measures finch, not the library.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
finch=$repo/build/finch python="" rounds=5 batch=32 size=224 steps=10 warmup=3 threads=$(nproc) device=cpu
while [ $# -gt 0 ]; do
  case "$1" in
    --finch) finch=$2 ;; --python) python=$2 ;; --rounds) rounds=$2 ;; --batch-size) batch=$2 ;;
    --image-size) size=$2 ;; --steps) steps=$2 ;; --warmup) warmup=$2 ;; --threads) threads=$2 ;; --device) device=$2 ;;
    *) echo "compare.sh: unknown option '$1'" >&2; exit 2 ;;
  esac
  shift 2
done
finch_torch=$("$finch" --version | sed -n 's/.*LibTorch \([0-9.]*\).*/\1/p' | head -1)
if [ -z "$python" ]; then
  case "$finch_torch" in
    1.13*) python=/usr/bin/python3 ;;
    *) python=$(bash "$repo/launch/torch2-env.sh" | tail -1)/bin/python ;;
  esac
fi
py_torch=$("$python" -c 'import torch; print(torch.__version__)')
echo "compare: finch (LibTorch $finch_torch) vs eager PyTorch $py_torch ($python); $device, batch $batch, ${size} px, $threads thread(s), $rounds rounds of $steps steps after $warmup"
[ "${py_torch%%[a-z+]*}" = "${finch_torch}" ] || [[ "$py_torch" == "$finch_torch"* ]] ||
  echo "compare: warning: not the same library version on both sides ($finch_torch vs $py_torch)" >&2
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
for r in $(seq "$rounds"); do
  # Alternate which side goes first, so neither always runs on a warmer machine.
  order=(finch pytorch)
  [ $((r % 2)) = 0 ] && order=(pytorch finch)
  for side in "${order[@]}"; do
    if [ "$side" = finch ]; then
      "$finch" bench step --batch-size "$batch" --image-size "$size" --steps "$steps" --warmup "$warmup" --threads "$threads" \
        --device "$device" --json "$out/finch-$r.json" >/dev/null
    else
      "$python" "$repo/tests/reference/eager_step.py" --device "$device" --batch "$batch" --size "$size" --steps "$steps" \
        --warmup "$warmup" --threads "$threads" --json "$out/pytorch-$r.json" >/dev/null
    fi
  done
done
"$python" - "$out" "$rounds" <<'PY'
import json, statistics, sys
out, rounds = sys.argv[1], int(sys.argv[2])
f = [json.load(open(f"{out}/finch-{r}.json"))["images_per_s"] for r in range(1, rounds + 1)]
p = [json.load(open(f"{out}/pytorch-{r}.json"))["images_per_s"] for r in range(1, rounds + 1)]
print(f"{'round':>5} {'finch img/s':>12} {'PyTorch img/s':>14} {'ratio':>7}")
for r, (a, b) in enumerate(zip(f, p), 1):
    print(f"{r:>5} {a:>12.2f} {b:>14.2f} {a / b:>7.3f}")
mf, mp = statistics.median(f), statistics.median(p)
print(f"{'median':>5} {mf:>12.2f} {mp:>14.2f} {mf / mp:>7.3f}   (finch/PyTorch; per-round ratios {min(a/b for a,b in zip(f,p)):.3f}-{max(a/b for a,b in zip(f,p)):.3f})")
PY
