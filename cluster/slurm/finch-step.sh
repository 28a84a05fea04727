# The body of cluster/slurm/finch.sbatch and finch-multinode.sbatch (sourced by them; not a job
# script itself): runs `finch train --resume auto` as one srun step, forwards Slurm's warning signal
# to it, and requeues the job when finch stopped for it with a checkpoint (exit 75).
#   $1: the config file; the rest: finch train arguments (--name, --set ...).
# Uses the site variables of the script that sources it: FINCH, FINCH_REPO, FINCH_GPU_BIND,
# FINCH_SRUN_ARGS, FINCH_CONTAINER.
set -uo pipefail
finch_preempted=75  # finch's exit code after a stop signal, once its checkpoint is written

if [ $# -lt 1 ]; then
  echo "usage: sbatch [sbatch options] cluster/slurm/finch.sbatch CONFIG [finch train args...]" >&2
  exit 2
fi
config=$1
shift
# finch: $FINCH, else `finch` on PATH, else the repository's build.
if [ -z "${FINCH:-}" ]; then
  FINCH=$(command -v finch || true)
  [ -n "$FINCH" ] || FINCH=$FINCH_REPO/build/finch
fi
if [ ! -x "$FINCH" ]; then
  echo "finch job: no finch at '$FINCH': set FINCH=/path/to/finch, put finch on PATH, or build it (launch/build.sh in $FINCH_REPO)" >&2
  exit 2
fi
[ -f "$config" ] || { echo "finch job: config '$config' not found (relative paths start at $PWD)" >&2; exit 2; }

# One intra-op thread per allocated CPU of the task (finch would otherwise split the node's cores).
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-${SLURM_CPUS_PER_TASK:-1}}
if [ -n "${SLURM_CPUS_PER_TASK:-}" ]; then export SRUN_CPUS_PER_TASK=${SRUN_CPUS_PER_TASK:-$SLURM_CPUS_PER_TASK}; fi  # srun 23.11+ no longer reads it from sbatch

# --resume auto: the first start trains from the beginning, a requeued start continues from the
# run's latest intact checkpoint; the run directory is found by finch itself (config name, --name).
# No --kill-on-bad-exit: to Slurm, finch's exit 75 after a stop is a "bad exit", and a rank leaving
# first would have the others killed while they finish. A rank that dies still ends the step (PMIx
# does, within seconds; finch's own errors call MPI_Abort).
cmd=(srun --mpi=pmix --gpu-bind="${FINCH_GPU_BIND:-none}" ${FINCH_SRUN_ARGS:-} ${FINCH_CONTAINER:-}
     "$FINCH" train --config "$config" --resume auto "$@")
echo "finch job ${SLURM_JOB_ID:-?} (start $((${SLURM_RESTART_COUNT:-0} + 1))) on ${SLURM_JOB_NODELIST:-?}, $(date -Is):"
echo "  ${cmd[*]}"
"${cmd[@]}" &
step=$!
# sbatch --signal=B:USR1@120 signals only this shell: pass it on to every rank (srun forwards USR1
# to its tasks). finch finishes the step in flight, checkpoints, and exits 75.
trap 'echo "finch job: SIGUSR1 (time limit or preemption ahead): asking finch to checkpoint and stop"; kill -USR1 "$step" 2>/dev/null' USR1
trap 'echo "finch job: SIGTERM: passing it on"; kill -TERM "$step" 2>/dev/null' TERM
while :; do
  wait "$step"
  rc=$?
  kill -0 "$step" 2>/dev/null || break  # else a trapped signal cut the wait short
done
wait "$step"  # the step's own status (the last wait may have been cut short just as it ended)
rc=$?
if [ "$rc" = "$finch_preempted" ] && [ -n "${SLURM_JOB_ID:-}" ]; then
  echo "finch job: stopped with a checkpoint (exit $rc): requeueing job $SLURM_JOB_ID; it will continue with --resume auto"
  scontrol requeue "$SLURM_JOB_ID" || echo "finch job: scontrol requeue failed: resubmit this job to continue" >&2
fi
echo "finch job: exit $rc, $(date -Is)"
exit "$rc"
