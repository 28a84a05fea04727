# The body of cluster/slurm/finch-sweep.sbatch (sourced by it; not a job script itself): asks the
# plan for this array task's run (`finch sweep args`: its working directory, config and overrides,
# after checking that they still resolve to what the plan validated), then trains it through
# finch-step.sh (srun, signal forwarding, requeue on exit 75).
#   $1: the plan file (relative paths start at the submit directory).
set -uo pipefail
if [ $# -ne 1 ] || [ -z "${SLURM_ARRAY_TASK_ID:-}" ]; then
  echo "usage: sbatch --array=0-N%K cluster/slurm/finch-sweep.sbatch PLAN.json (cluster/slurm/submit-sweep.sh does it for you)" >&2
  exit 2
fi
plan=$(realpath "$1")
if [ -z "${FINCH:-}" ]; then
  FINCH=$(command -v finch || true)
  [ -n "$FINCH" ] || FINCH=$FINCH_REPO/build/finch
fi
export FINCH
echo "finch sweep task $SLURM_ARRAY_TASK_ID of $plan (job ${SLURM_ARRAY_JOB_ID:-?}_$SLURM_ARRAY_TASK_ID = ${SLURM_JOB_ID:-?})"
run=$("$FINCH" sweep args "$plan" --index "$SLURM_ARRAY_TASK_ID") || exit $?
if [ -z "$run" ]; then
  echo "finch sweep task $SLURM_ARRAY_TASK_ID: its run is done; nothing to train"
  exit 0
fi
mapfile -t lines <<<"$run"
cd "${lines[0]}" || exit 2
set -- "${lines[@]:1}"
source "$FINCH_REPO/cluster/slurm/finch-step.sh"
