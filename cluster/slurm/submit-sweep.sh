#!/usr/bin/env bash
# Submits a sweep's plan to Slurm: a job array of its unfinished runs (cluster/slurm/finch-sweep.sbatch,
# K at a time), then the comparison (finch-sweep-compare.sbatch) once every task has ended.
# Job logs go to the directory it is called from.
#   cluster/slurm/submit-sweep.sh PLAN.json [--concurrent K] [sbatch options for each task...]
#   cluster/slurm/submit-sweep.sh runs/seed-sweep.json --concurrent 4 --partition=gpu --time=02:00:00
# Submitting the plan again queues only what has not finished (done runs are skipped, preempted or
# failed ones resume); runs still running are left to the job that runs them.
set -euo pipefail
[ $# -ge 1 ] && [ -f "$1" ] || { echo "usage: cluster/slurm/submit-sweep.sh PLAN.json [--concurrent K] [sbatch options...]" >&2; exit 2; }
plan=$1
shift
concurrent=0
if [ "${1:-}" = "--concurrent" ]; then
  concurrent=${2:?--concurrent needs a number}
  shift 2
fi
[[ "$concurrent" =~ ^[0-9]+$ ]] || { echo "submit-sweep: --concurrent takes a number, got '$concurrent'" >&2; exit 2; }
repo=$(cd "$(dirname "$0")/../.." && pwd)
if [ -z "${FINCH:-}" ]; then
  FINCH=$(command -v finch || true)
  [ -n "$FINCH" ] || FINCH=$repo/build/finch
fi
FINCH=$(realpath "$FINCH")
"$FINCH" sweep list "$plan"
todo=$("$FINCH" sweep list "$plan" --unfinished)
dependency=()
if [ -n "$todo" ]; then
  limit=""
  [ "$concurrent" -gt 0 ] && limit="%$concurrent"
  array=$(FINCH_REPO=$repo FINCH=$FINCH sbatch --parsable --array="$todo$limit" "$@" "$repo/cluster/slurm/finch-sweep.sbatch" "$(realpath "$plan")")
  array=${array%%;*}
  echo "submit-sweep: runs $todo as job array $array${limit:+ ($concurrent at a time)}"
  dependency=(--dependency="afterany:$array")
else
  echo "submit-sweep: every run of $plan is done or running: nothing to train"
fi
compare=$(FINCH_REPO=$repo FINCH=$FINCH sbatch --parsable "${dependency[@]}" "$repo/cluster/slurm/finch-sweep-compare.sbatch" "$(realpath "$plan")")
compare=${compare%%;*}
echo "submit-sweep: comparison job $compare${dependency:+ (after array $array ends)}"
echo "submit-sweep: follow it with: squeue -u \$USER; $FINCH sweep list $plan"
