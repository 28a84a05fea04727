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

source "$repo/tests/e2e/procs.sh"  # rank_pid
# Starts `srun -n2 finch train` as job NAME in the background and waits for its 6th step.
start_run() {
  local name=$1
  shift
  srun -N1 -n2 --mpi=pmix -J "$name" "$finch" train --config "$repo/tests/e2e/smoke.json" --set data.root="$work/data" \
    --set model.classes=4 --set output_dir="$work/runs" --name "$name" --set logging.every_steps=1 --set train.epochs=20 \
    --set checkpoint.every_steps=4 "$@" >"$work/$name.out" 2>&1 &
  launcher=$!
  for _ in $(seq 1 600); do
    [ -f "$work/runs/$name/metrics.jsonl" ] && [ "$(grep -c '"kind":"step"' "$work/runs/$name/metrics.jsonl")" -ge 6 ] && return
    sleep 0.2
  done
  echo "slurm: $name did not start"; exit 1
}
# Waits (at most 120 s) for the srun started last; sets rc and took (seconds since $1).
wait_run() {
  set +e
  timeout 120 tail --pid="$launcher" -f /dev/null
  wait "$launcher"
  rc=$?
  set -e
  took=$(( $(date +%s) - $1 ))
}

echo "== srun: scancel --signal=USR1 (what sbatch --signal=USR1@120 sends): exit 75 with a checkpoint, then --resume auto"
start_run srun_preempt
t0=$(date +%s)
scancel --signal=USR1 "$(squeue -h -n srun_preempt -o %i | head -1)"
wait_run "$t0"
[ "$rc" = 75 ] || { echo "slurm: preemption: expected exit 75, got $rc"; tail -20 "$work/srun_preempt.out"; exit 1; }
grep -q "SIGUSR1 on rank [01]: stopping at epoch [0-9]* step [0-9]* with a checkpoint; exit 75" "$work/runs/srun_preempt/train.log"
step=$("$finch" inspect --checkpoint "$work/runs/srun_preempt" --json | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["global_step"])')
srun -N1 -n2 --mpi=pmix "$finch" train --config "$repo/tests/e2e/smoke.json" --set data.root="$work/data" --set model.classes=4 \
  --set output_dir="$work/runs" --name srun_preempt --set train.epochs=20 --set train.max_steps=$((step + 2)) --resume auto >"$work/srun_preempt.resume.out" 2>&1 \
  || { echo "slurm: the resume must finish"; tail "$work/srun_preempt.resume.out"; exit 1; }
grep -q "resumed from .*global step $step, saved by 2 rank(s), now 2" "$work/runs/srun_preempt/train.log"

echo "== srun: kill -9 of task 1 mid-step: a non-zero exit within 60 s naming task 1, the last checkpoint intact, --resume auto"
start_run srun_kill9 --set dist.timeout_s=30
victim=$(rank_pid srun_kill9 1)
[ -n "$victim" ] || { echo "slurm: task 1 not found"; exit 1; }
t0=$(date +%s)
kill -9 "$victim"
wait_run "$t0"
echo "slurm: the job ended $took s after kill -9 of task 1, exit $rc"
[ "$rc" != 0 ] && [ "$took" -le 60 ] || { echo "slurm: expected a non-zero exit within 60 s"; tail -20 "$work/srun_kill9.out"; exit 1; }
grep -Eq "task 1: Killed|rank 1" "$work/srun_kill9.out" || { echo "slurm: the lost task is not named"; tail -20 "$work/srun_kill9.out"; exit 1; }
! pgrep -f "$finch train .*--name srun_kill9" >/dev/null || { echo "slurm: tasks left running"; exit 1; }
step=$("$finch" inspect --checkpoint "$work/runs/srun_kill9" --json | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["global_step"])')
[ "$step" -ge 4 ]
srun -N1 -n2 --mpi=pmix "$finch" train --config "$repo/tests/e2e/smoke.json" --set data.root="$work/data" --set model.classes=4 \
  --set output_dir="$work/runs" --name srun_kill9 --set train.epochs=20 --set train.max_steps=$((step + 2)) --resume auto >"$work/srun_kill9.resume.out" 2>&1 \
  || { echo "slurm: the resume must finish"; tail "$work/srun_kill9.resume.out"; exit 1; }
grep -q "resumed from .*global step $step, saved by 2 rank(s), now 2" "$work/runs/srun_kill9/train.log"
echo "slurm: preemption and a killed task handled"
