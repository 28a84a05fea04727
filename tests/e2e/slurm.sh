#!/usr/bin/env bash
# finch under SLURM: `srun --mpi=pmix -n 2 finch train` on a single-node Slurm started by
# cluster/single-node-slurm.sh. Exit 77 (CTest: skipped) when Slurm itself cannot be brought up
# here (not installed, not root, daemons refuse); any failure of finch's run fails the test.
set -uo pipefail
finch=$1
repo=$(cd "$(dirname "$0")/../.." && pwd)
work=${WORK:-$(mktemp -d)}
rm -rf "$work" && mkdir -p "$work"
command -v srun >/dev/null && command -v slurmd >/dev/null || { echo "slurm: not installed (launch/install-deps.sh --tests)"; exit 77; }
[ "$(id -u)" = 0 ] || { echo "slurm: the single-node setup needs root"; exit 77; }
bash "$repo/cluster/single-node-slurm.sh" || { echo "slurm: could not start a single-node Slurm here"; exit 77; }
set -e
"$finch" synth --out "$work/data" --classes 4 --per-class 10 --size 40 --seed 4 >/dev/null
cd "$work"
timeout 300 srun -N1 -n2 --mpi=pmix "$finch" train --config "$repo/tests/e2e/smoke.json" --set data.root="$work/data" \
  --set model.classes=4 --set output_dir="$work/runs" --name slurm --set train.epochs=1 --set train.max_steps=3
/usr/bin/python3 - "$work/runs/slurm/metrics.jsonl" <<'PY'
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
start = [r for r in recs if r["kind"] == "start"][0]
assert start["world_size"] == 2, start
assert any(r["kind"] == "end" for r in recs)
print("slurm: srun --mpi=pmix ran 2 ranks")
PY
