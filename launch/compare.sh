#!/usr/bin/env bash
# finch against PyTorch, side by side on this machine, alternately for several rounds; prints every
# round, the medians and finch/PyTorch.
#   step: `finch bench step` vs tests/reference/eager_step.py (torchvision's EfficientNet, the same
#         resident batch, size, optimizer and threads)
#   e2e:  `finch bench e2e` vs tests/reference/eager_e2e.py (the same packed file through finch's
#         loader / a torch DataLoader with torchvision's PIL transforms)
# With --ranks N > 1 both sides run under mpiexec: finch's ranks against DistributedDataParallel
# (gloo on the CPU, NCCL on GPUs).
#   launch/compare.sh [--bench step|e2e] [--ranks 1] [--finch build/finch] [--python PY] [--rounds 5]
#                     [--batch-size 32] [--image-size 224] [--steps 10] [--warmup 3] [--threads N]
#                     [--workers 4] [--data FILE] [--device cpu|cuda] [--mpiexec "mpiexec ..."]
# PY defaults to the Python whose torch is the LibTorch finch was built on: /usr/bin/python3
# (Debian's python3-torch 1.13) for build/, the venv of launch/torch2-env.sh for build-torch2/ —
# the same library on both sides, so the ratio measures finch, not the library. --threads is per
# rank (default: cores / ranks). e2e without --data packs 200 x 8 synthetic images (never CUB) at
# the size's resize side into .finch-bench/ once.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
finch=$repo/build/finch python="" rounds=5 batch=32 size=224 steps=10 warmup=3 threads="" device=cpu
bench=step ranks=1 workers=4 data="" mpiexec="mpiexec --allow-run-as-root --oversubscribe --bind-to none"
while [ $# -gt 0 ]; do
  case "$1" in
    --finch) finch=$2 ;; --python) python=$2 ;; --rounds) rounds=$2 ;; --batch-size) batch=$2 ;;
    --image-size) size=$2 ;; --steps) steps=$2 ;; --warmup) warmup=$2 ;; --threads) threads=$2 ;; --device) device=$2 ;;
    --bench) bench=$2 ;; --ranks) ranks=$2 ;; --workers) workers=$2 ;; --data) data=$2 ;; --mpiexec) mpiexec=$2 ;;
    *) echo "compare.sh: unknown option '$1'" >&2; exit 2 ;;
  esac
  shift 2
done
case "$bench" in step|e2e) ;; *) echo "compare.sh: --bench is step or e2e, not '$bench'" >&2; exit 2 ;; esac
[ -n "$threads" ] || threads=$(( $(nproc) / ranks > 0 ? $(nproc) / ranks : 1 ))
finch_torch=$("$finch" --version | sed -n 's/.*LibTorch \([0-9.]*\).*/\1/p' | head -1)
if [ -z "$python" ]; then
  case "$finch_torch" in
    1.13*) python=/usr/bin/python3 ;;
    *) python=$(bash "$repo/launch/torch2-env.sh" | tail -1)/bin/python ;;
  esac
fi
py_torch=$("$python" -c 'import torch; print(torch.__version__)')
launch=()
[ "$ranks" -gt 1 ] && read -r -a launch <<< "$mpiexec -n $ranks"
if [ "$bench" = e2e ] && [ -z "$data" ]; then
  mkdir -p "$repo/.finch-bench"
  data=$repo/.finch-bench/compare-200x8-$((size * 256 / 224))px.finchpack
  [ -f "$data" ] || "$finch" synth --packed "$data" --classes 200 --per-class 8 --size $((size * 256 / 224)) >/dev/null
fi
echo "compare $bench: finch (LibTorch $finch_torch) vs PyTorch $py_torch ($python); $ranks rank(s), $device, batch $batch per rank," \
     "${size} px, $threads thread(s) per rank${data:+, $workers loader worker(s) per rank}, $rounds rounds of $steps steps after $warmup"
[ "${py_torch%%[a-z+]*}" = "${finch_torch}" ] || [[ "$py_torch" == "$finch_torch"* ]] ||
  echo "compare: warning: not the same library version on both sides ($finch_torch vs $py_torch)" >&2
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
common=(--steps "$steps" --warmup "$warmup" --threads "$threads" --device "$device")
for r in $(seq "$rounds"); do
  # Alternate which side goes first, so neither always runs on a warmer machine.
  order=(finch pytorch)
  [ $((r % 2)) = 0 ] && order=(pytorch finch)
  for side in "${order[@]}"; do
    if [ "$side" = finch ] && [ "$bench" = step ]; then
      "${launch[@]}" "$finch" bench step --batch-size "$batch" --image-size "$size" "${common[@]}" --json "$out/finch-$r.json" >/dev/null
    elif [ "$side" = finch ]; then
      "${launch[@]}" "$finch" bench e2e --data "$data" --batch-size "$batch" --image-size "$size" --workers "$workers" "${common[@]}" \
        --json "$out/finch-$r.json" >/dev/null
    elif [ "$bench" = step ]; then
      "${launch[@]}" "$python" "$repo/tests/reference/eager_step.py" --batch "$batch" --size "$size" "${common[@]}" \
        --json "$out/pytorch-$r.json" >/dev/null
    else
      "${launch[@]}" "$python" "$repo/tests/reference/eager_e2e.py" --data "$data" --batch "$batch" --size "$size" --workers "$workers" \
        "${common[@]}" --json "$out/pytorch-$r.json" >/dev/null
    fi
  done
done
"$python" - "$out" "$rounds" <<'PY'
import json, statistics, sys
out, rounds = sys.argv[1], int(sys.argv[2])
f = [json.load(open(f"{out}/finch-{r}.json")) for r in range(1, rounds + 1)]
p = [json.load(open(f"{out}/pytorch-{r}.json")) for r in range(1, rounds + 1)]
wait = "data_wait_fraction" in f[0]
print(f"{'round':>5} {'finch img/s':>12} {'PyTorch img/s':>14} {'ratio':>7}" + (f" {'finch wait':>11} {'PyTorch wait':>13}" if wait else ""))
for r, (a, b) in enumerate(zip(f, p), 1):
    line = f"{r:>5} {a['images_per_s']:>12.2f} {b['images_per_s']:>14.2f} {a['images_per_s'] / b['images_per_s']:>7.3f}"
    if wait:
        line += f" {100 * a['data_wait_fraction']:>10.1f}% {100 * b['data_wait_fraction']:>12.1f}%"
    print(line)
fi, pi = [x["images_per_s"] for x in f], [x["images_per_s"] for x in p]
mf, mp = statistics.median(fi), statistics.median(pi)
ratios = [a / b for a, b in zip(fi, pi)]
line = f"{'median':>5} {mf:>12.2f} {mp:>14.2f} {mf / mp:>7.3f}"
if wait:
    line += f" {100 * statistics.median(x['data_wait_fraction'] for x in f):>10.1f}% {100 * statistics.median(x['data_wait_fraction'] for x in p):>12.1f}%"
print(line + f"   (finch/PyTorch; per-round ratios {min(ratios):.3f}-{max(ratios):.3f})")
PY
