#!/usr/bin/env bash
# The per-rank timelines (Note [The step timeline]) on 2 ranks:
#   bench   `finch bench step --trace`: valid trace-event files, the gradient buckets' all-reduce on
#           the MPI reduce thread, and their share hidden behind backward as bench step measures it
#   train   `finch train --set logging.trace_steps=3:5` with a checkpoint at step 4: a file per
#           rank with every span of the step and the checkpoint write; `finch report` names them
# Usage: WORK=DIR timeline.sh MODE FINCH MPIEXEC...
set -euo pipefail
mode=$1 finch=$2
shift 2
mpiexec=("$@")
here=$(cd "$(dirname "$0")" && pwd)
work=${WORK:?set WORK}
rm -rf "$work" && mkdir -p "$work"
case $mode in
bench)
  "${mpiexec[@]}" -n 2 "$finch" bench step --batch-size 8 --image-size 64 --steps 6 --warmup 2 --bucket-mb 2 \
    --trace "$work/trace" --json "$work/bench.json"
  python3 "$here/trace_check.py" bench "$work/trace" "$work/bench.json"
  ;;
train)
  "$finch" synth --out "$work/data" --classes 10 --per-class 40 --size 40 --seed 3 --easy >/dev/null
  "${mpiexec[@]}" -n 2 "$finch" train --config "$here/smoke.json" --set data.root="$work/data" --set output_dir="$work/runs" --name timeline \
    --set train.max_steps=6 --set logging.trace_steps=3:5 --set checkpoint.every_steps=4 >"$work/train.out" 2>&1 || { tail "$work/train.out"; exit 1; }
  grep -q "timeline of steps 3-5: .*trace-rank\*.json" "$work/runs/timeline/train.log" || { echo "timeline: train.log does not say where"; exit 1; }
  python3 "$here/trace_check.py" train "$work/runs/timeline" 2
  if "$finch" report --run-dir "$work/runs/timeline" >"$work/report.out" 2>&1; then
    grep -q "timeline (logging.trace_steps): 2 file(s)" "$work/report.out" || { cat "$work/report.out"; echo "timeline: finch report does not name them"; exit 1; }
  else
    grep -qi "cairo" "$work/report.out" || { cat "$work/report.out"; echo "timeline: finch report failed"; exit 1; }  # a build without curves
  fi
  ;;
*) echo "timeline: unknown mode $mode"; exit 2 ;;
esac
echo "timeline $mode: passed"
