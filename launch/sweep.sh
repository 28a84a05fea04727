#!/usr/bin/env bash
# Runs several configs one after another, each in its own run directory (runs/<config name>), then
# draws them on one figure with a comparison table (finch report --compare).
#   launch/sweep.sh configs/seed/*.json
#   MPIRUN="mpirun -np 4" launch/sweep.sh configs/seed/b0_*.json
#   SET="--set data.root=/scratch/cub256.pack" launch/sweep.sh configs/seed/*.json   # extra overrides
# A run that already finished is kept and reported, not repeated; an unfinished one is resumed.
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -ge 1 ] || { echo "usage: launch/sweep.sh CONFIG..." >&2; exit 2; }
finch=${FINCH:-build/finch}
read -r -a launcher <<< "${MPIRUN:-}"
read -r -a extra <<< "${SET:-}"
runs=()
for config in "$@"; do
  # Name and output folder as training will resolve them (overrides included).
  resolved=$("$finch" config --config "$config" "${extra[@]}")
  name=$(printf '%s' "$resolved" | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["name"])')
  outdir=$(printf '%s' "$resolved" | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["output_dir"])')
  dir=$outdir/$name
  runs+=("$dir")
  if [ -f "$dir/metrics.jsonl" ] && grep -q '"kind":"end"' "$dir/metrics.jsonl" && grep -q '"kind":"test"' "$dir/metrics.jsonl"; then
    echo "sweep: $name already finished, keeping it"
    continue
  fi
  resume=()
  [ -f "$dir/config.json" ] && resume=(--resume auto)
  echo "sweep: training $name ($config)"
  "${launcher[@]}" "$finch" train --config "$config" "${extra[@]}" "${resume[@]}"
  "$finch" report --run-dir "$dir" >/dev/null
done
out=$outdir/sweep-$(date +%Y%m%d-%H%M%S)
"$finch" report --run-dir "${runs[0]}" ${runs[1]:+--compare "${runs[@]:1}"} --out "$out"
echo "sweep: comparison in $out/comparison.md and $out/compare.png"
