#!/usr/bin/env bash
# cluster/slurm/finch.sbatch, submitted with sbatch to the single-node Slurm (2 CPU ranks, packed
# synthetic data): a job that completes with its checkpoint; then the same job signalled mid-run as
# its time limit would (scancel --signal=USR1 --batch, what --signal=B:USR1@120 sends), which must
# checkpoint, requeue itself, resume from its step checkpoint and end as the uninterrupted job did.
test_name=slurm_batch
source "$(dirname "$0")/slurm_setup.sh"
# Waits (at most $2 s) until job $1 has ended; prints its final state.
wait_job() {
  local s
  for _ in $(seq "$2"); do
    s=$(field "$1" JobState)
    case "$s" in COMPLETED | FAILED | CANCELLED | TIMEOUT | NODE_FAIL | OUT_OF_MEMORY | PREEMPTED) echo "$s"; return ;; esac
    sleep 1
  done
  echo "still $(field "$1" JobState) after $2 s"
}
# sbatch exactly as a user would (from the repository, the script's own #SBATCH lines), with the
# task count of this 2-core machine; the run goes to $work/runs.
submit() {
  local name=$1
  shift
  (cd "$repo" && FINCH="$finch" sbatch --parsable --ntasks-per-node=2 --cpus-per-task=1 -J "$name" -o "$work/$name-%j.out" \
    cluster/slurm/finch.sbatch tests/e2e/smoke.json --set data.root="$work/cub.pack" --set model.classes=4 \
    --set output_dir="$work/runs" --name "$name" --set train.epochs=4 --set checkpoint.every_steps=3 \
    --set logging.every_steps=1 --set early_stopping.enabled=false "$@")
}
records() { grep -c "\"kind\":\"$2\"" "$work/runs/$1/metrics.jsonl" || true; }

echo "== sbatch cluster/slurm/finch.sbatch: runs to the end"
id=$(submit batch_whole)
state=$(wait_job "$id" 400)
cat "$work"/batch_whole-*.out
[ "$state" = COMPLETED ] && [ "$(field "$id" ExitCode)" = 0:0 ] || fail "job $id: $state, exit $(field "$id" ExitCode)"
grep -q "holds no run yet: starting it" "$work/runs/batch_whole/train.log" || fail "the first start did not say it starts the run"
"$finch" inspect --checkpoint "$work/runs/batch_whole" >/dev/null || fail "the final checkpoint does not verify"
whole_epochs=$(records batch_whole epoch)
whole_steps=$("$finch" inspect --checkpoint "$work/runs/batch_whole" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["global_step"])')
[ "$whole_epochs" = 4 ] || fail "expected 4 epoch records, got $whole_epochs"

echo "== the same job, signalled mid-run: checkpoint, requeue, resume from its step, same end"
id=$(submit batch_requeue)
for _ in $(seq 300); do
  [ -f "$work/runs/batch_requeue/metrics.jsonl" ] && [ "$(records batch_requeue step)" -ge 6 ] && break
  sleep 0.5
done
[ "$(records batch_requeue step)" -ge 6 ] || fail "job $id did not reach step 6: $(field "$id" JobState)"
scancel --signal=USR1 --batch "$id"
state=$(wait_job "$id" 400)
cat "$work"/batch_requeue-*.out
[ "$state" = COMPLETED ] && [ "$(field "$id" ExitCode)" = 0:0 ] || fail "job $id: $state, exit $(field "$id" ExitCode)"
[ "$(field "$id" Restarts)" = 1 ] || fail "job $id restarted $(field "$id" Restarts) times, expected 1"
out=$(cat "$work"/batch_requeue-*.out)
grep -q "SIGUSR1 (time limit or preemption ahead)" <<<"$out" || fail "the batch script did not see the signal"
grep -q "exit 75): requeueing job $id" <<<"$out" || fail "the job did not requeue itself on exit 75"
grep -q "(start 2)" <<<"$out" || fail "the job did not start a second time"
resumed=$(grep -o "resumed from [^ ]*: epoch [0-9]*.*global step [0-9]*" "$work/runs/batch_requeue/train.log" || true)
step=$(grep -o "global step [0-9]*" <<<"$resumed" | grep -o "[0-9]*$" || true)
[ -n "$step" ] && [ "$step" -ge 6 ] || fail "the requeued job did not resume from the step it stopped at: '$resumed'"
[ "$(records batch_requeue epoch)" = "$whole_epochs" ] || fail "epoch records: $(records batch_requeue epoch), uninterrupted $whole_epochs"
steps=$("$finch" inspect --checkpoint "$work/runs/batch_requeue" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["global_step"])')
[ "$steps" = "$whole_steps" ] || fail "final global step $steps, uninterrupted $whole_steps"
echo "slurm_batch: completed; requeued after the signal, resumed at global step $step, ended at step $steps of $whole_steps with $whole_epochs epochs as uninterrupted"
