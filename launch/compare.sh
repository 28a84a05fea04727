#!/usr/bin/env bash
# finch against PyTorch, side by side on this machine, alternately for several rounds, each in both
# memory formats (NCHW and channels_last): four figures a round, their medians, and the ratios that
# matter — finch's default (train.channels_last=auto) against eager PyTorch's default (NCHW) and
# each layout against the same layout.
#   step: `finch bench step` vs tests/reference/eager_step.py (torchvision's EfficientNet, the same
#         resident batch, size, optimizer and threads)
#   e2e:  `finch bench e2e` vs tests/reference/eager_e2e.py (the same packed file through finch's
#         loader / a torch DataLoader with torchvision's PIL transforms)
# With --ranks N > 1 both sides run under mpiexec: finch's ranks against DistributedDataParallel
# (gloo on the CPU, NCCL on GPUs).
#   launch/compare.sh [--bench step|e2e] [--ranks 1] [--finch build/finch] [--python PY] [--rounds 5] [--arch efficientnet_b0]
#                     [--batch-size 32] [--image-size 224] [--steps 10] [--warmup 3] [--threads N]
#                     [--workers 4] [--data FILE] [--device cpu|cuda] [--mpiexec "mpiexec ..."]
# PY defaults to the Python whose torch is the LibTorch finch was built on: /usr/bin/python3
# (Debian's python3-torch 1.13) for build/, the venv of launch/torch2-env.sh for build-torch2/ —
# the same library on both sides, so the ratio measures finch, not the library. --threads is per
# rank (default: cores / ranks). e2e without --data packs 200 x 8 synthetic images (never CUB) at
# the size's resize side into .finch-bench/ once.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
finch=$repo/build/finch python="" rounds=5 batch=32 size=224 steps=10 warmup=3 threads="" device=cpu arch=efficientnet_b0
bench=step ranks=1 workers=4 data="" mpiexec="mpiexec --allow-run-as-root --oversubscribe --bind-to none"
while [ $# -gt 0 ]; do
  case "$1" in
    --finch) finch=$2 ;; --python) python=$2 ;; --rounds) rounds=$2 ;; --batch-size) batch=$2 ;;
    --image-size) size=$2 ;; --arch) arch=$2 ;; --steps) steps=$2 ;; --warmup) warmup=$2 ;; --threads) threads=$2 ;; --device) device=$2 ;;
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
echo "compare $bench: finch (LibTorch $finch_torch) vs PyTorch $py_torch ($python); $arch, $ranks rank(s), $device, batch $batch per rank," \
     "${size} px, $threads thread(s) per rank${data:+, $workers loader worker(s) per rank}, $rounds rounds of $steps steps after $warmup"
[ "${py_torch%%[a-z+]*}" = "${finch_torch}" ] || [[ "$py_torch" == "$finch_torch"* ]] ||
  echo "compare: warning: not the same library version on both sides ($finch_torch vs $py_torch)" >&2
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
common=(--steps "$steps" --warmup "$warmup" --threads "$threads" --device "$device" --arch "$arch")
# What finch's default (train.channels_last=auto) chooses here: one tiny step says.
auto_nhwc=$("$finch" bench step --batch-size 1 --image-size 32 --steps 1 --warmup 0 --threads 1 --device "$device" --json "$out/auto.json" >/dev/null &&
  "$python" -c 'import json,sys; print(int(json.load(open(sys.argv[1]))["channels_last"]))' "$out/auto.json")
sides=(finch:nchw pytorch:nchw finch:nhwc pytorch:nhwc)
for r in $(seq "$rounds"); do
  # Rotate which side goes first, so none always runs on a warmer (or hotter) machine.
  for k in 0 1 2 3; do
    side=${sides[$(((k + r) % 4))]}
    impl=${side%%:*} layout=${side#*:}
    if [ "$impl" = finch ]; then flag=--no-channels-last; else flag=""; fi
    [ "$layout" = nhwc ] && flag=--channels-last
    json=$out/$impl-$layout-$r.json
    if [ "$impl" = finch ] && [ "$bench" = step ]; then
      "${launch[@]}" "$finch" bench step --batch-size "$batch" --image-size "$size" "${common[@]}" $flag --json "$json" >/dev/null
    elif [ "$impl" = finch ]; then
      "${launch[@]}" "$finch" bench e2e --data "$data" --batch-size "$batch" --image-size "$size" --workers "$workers" "${common[@]}" $flag \
        --json "$json" >/dev/null
    elif [ "$bench" = step ]; then
      "${launch[@]}" "$python" "$repo/tests/reference/eager_step.py" --batch "$batch" --size "$size" "${common[@]}" $flag --json "$json" >/dev/null
    else
      "${launch[@]}" "$python" "$repo/tests/reference/eager_e2e.py" --data "$data" --batch "$batch" --size "$size" --workers "$workers" \
        "${common[@]}" $flag --json "$json" >/dev/null
    fi
  done
done
"$python" - "$out" "$rounds" "$auto_nhwc" <<'PY'
import json, statistics, sys
out, rounds, auto_nhwc = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "1"
cols = [("finch", "nchw"), ("finch", "nhwc"), ("pytorch", "nchw"), ("pytorch", "nhwc")]
runs = {c: [json.load(open(f"{out}/{c[0]}-{c[1]}-{r}.json")) for r in range(1, rounds + 1)] for c in cols}
ips = {c: [x["images_per_s"] for x in runs[c]] for c in cols}
wait = "data_wait_fraction" in runs[cols[0]][0]
names = {("finch", "nchw"): "finch NCHW", ("finch", "nhwc"): "finch NHWC", ("pytorch", "nchw"): "PyTorch NCHW", ("pytorch", "nhwc"): "PyTorch NHWC"}
print(f"{'round':>6}" + "".join(f" {names[c]:>13}" for c in cols) + "   img/s" + ("   (data wait: finch / PyTorch, default layouts)" if wait else ""))
for r in range(rounds):
    line = f"{r + 1:>6}" + "".join(f" {ips[c][r]:>13.2f}" for c in cols)
    if wait:
        line += f"   {100 * runs[('finch', 'nhwc' if auto_nhwc else 'nchw')][r]['data_wait_fraction']:.1f}% / {100 * runs[('pytorch', 'nchw')][r]['data_wait_fraction']:.1f}%"
    print(line)
med = {c: statistics.median(ips[c]) for c in cols}
print(f"{'median':>6}" + "".join(f" {med[c]:>13.2f}" for c in cols))
default = ("finch", "nhwc" if auto_nhwc else "nchw")
def ratio(a, b):
    per = [x / y for x, y in zip(ips[a], ips[b])]
    return f"{med[a] / med[b]:.3f} (rounds {min(per):.3f}-{max(per):.3f})"
print(f"finch default ({'NHWC' if auto_nhwc else 'NCHW'}, train.channels_last=auto) / PyTorch default (NCHW): {ratio(default, ('pytorch', 'nchw'))}")
print(f"finch NHWC / PyTorch NHWC: {ratio(('finch', 'nhwc'), ('pytorch', 'nhwc'))}")
print(f"finch NCHW / PyTorch NCHW: {ratio(('finch', 'nchw'), ('pytorch', 'nchw'))}")
PY
