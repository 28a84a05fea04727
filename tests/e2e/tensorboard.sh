#!/usr/bin/env bash
# TensorBoard's own reader on finch's event files across a resume on 2 ranks (issue 28): a run
# with every step logged stops on a NaN in its third epoch (rank 1, train.on_nan=stop: steps after
# the epoch's checkpoint were logged and are orphaned), `--resume auto` finishes it, and
# tensorboard_check.py finds every scalar equal to metrics.jsonl, the orphaned steps dropped, and a
# planted bad CRC seen. Skips (77) without the tensorboard package.
# Usage: WORK=DIR tensorboard.sh PYTHON FINCH MPIEXEC...
set -euo pipefail
python=$1 finch=$2
shift 2
mpiexec=("$@")
here=$(cd "$(dirname "$0")" && pwd)
work=${WORK:?set WORK}
"$python" -c "import tensorboard" 2>/dev/null || { echo "tensorboard: no tensorboard package for $python"; exit 77; }
"$finch" --version | grep -q "TensorBoard: yes" || { echo "tensorboard: this finch has no TensorBoard support"; exit 77; }
rm -rf "$work" && mkdir -p "$work"
"$finch" synth --out "$work/data" --classes 10 --per-class 40 --size 40 --seed 3 --easy >/dev/null
run=(--config "$here/smoke.json" --set data.root="$work/data" --set output_dir="$work/runs" --name tb
     --set train.epochs=3 --set logging.every_steps=1 --set train.on_nan=stop)
# 10 steps an epoch (160 training images, 8 per rank): the NaN at global step 25 stops the run
# after steps 21-24 were logged past the epoch-1 checkpoint.
set +e
FINCH_FAULT_NAN=1:25 "${mpiexec[@]}" -n 2 "$finch" train "${run[@]}" >"$work/first.out" 2>&1
rc=$?
set -e
[ "$rc" = 1 ] || { echo "tensorboard: the NaN stop exited $rc, expected 1"; tail "$work/first.out"; exit 1; }
grep -q '"kind":"step","epoch":2,"step":24' "$work/runs/tb/metrics.jsonl" || { echo "tensorboard: step 24 was not logged before the stop"; exit 1; }
"${mpiexec[@]}" -n 2 "$finch" train "${run[@]}" --resume auto >"$work/resume.out" 2>&1 || { tail "$work/resume.out"; exit 1; }
[ "$(ls "$work/runs/tb/tensorboard" | grep -c tfevents)" = 2 ] || { echo "tensorboard: expected one event file per session"; exit 1; }
"$python" "$here/tensorboard_check.py" "$work/runs/tb"
