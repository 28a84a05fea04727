#!/usr/bin/env bash
# A sweep as a Slurm job array on the single-node Slurm (issue 29): a 2x2 grid planned and submitted
# with cluster/slurm/submit-sweep.sh, 2 tasks at a time; one task signalled mid-run as preemption
# would (scancel --signal=USR1 --batch) checkpoints, is requeued and resumes; the comparison job
# starts after the last task ended and tabulates four runs with the varied keys; each array index
# trained the run the plan gives it; submitting the plan again trains nothing. A plan with an
# invalid value stops before anything is written or submitted.
test_name=slurm_sweep
source "$(dirname "$0")/slurm_setup.sh"
ended() { case "$(field "$1" JobState)" in COMPLETED | FAILED | CANCELLED | TIMEOUT | NODE_FAIL | OUT_OF_MEMORY | PREEMPTED) return 0 ;; esac; return 1; }
epoch_s() { date -d "$1" +%s; }
common=(--config "$repo/tests/e2e/smoke.json" --set data.root="$work/cub.pack" --set model.classes=4 --set output_dir="$work/runs"
        --set train.epochs=4 --set checkpoint.every_steps=3 --set logging.every_steps=1 --set early_stopping.enabled=false
        --set logging.tensorboard=false)

echo "== a plan with one invalid value stops before anything is written, naming the run and the key"
if out=$("$finch" sweep plan "${common[@]}" --grid optimizer.lr=2e-3,0 --grid model.dropout=0.0,0.5 --out "$work/bad.json" 2>&1); then
  fail "the invalid plan was accepted: $out"
fi
grep -q "run 2 'smoke_lr0_dropout0.0'" <<<"$out" && grep -q "key 'optimizer.lr'" <<<"$out" || fail "the error does not name the run and key: $out"
[ ! -e "$work/bad.json" ] || fail "the invalid plan was written"
if bash "$repo/cluster/slurm/submit-sweep.sh" "$work/bad.json" >/dev/null 2>&1; then fail "submit-sweep.sh submitted a plan that does not exist"; fi

echo "== the 2x2 grid as a job array, 2 at a time"
"$finch" sweep plan "${common[@]}" --grid optimizer.lr=2e-3,1e-3 --grid model.dropout=0.0,0.5 --out "$work/grid.json" >/dev/null
mapfile -t names < <(python3 -c 'import json,sys; [print(r["name"]) for r in json.load(open(sys.argv[1]))["runs"]]' "$work/grid.json")
[ ${#names[@]} = 4 ] || fail "expected 4 runs in the plan, got ${#names[@]}"
submitted=$(FINCH="$finch" bash "$repo/cluster/slurm/submit-sweep.sh" "$work/grid.json" --concurrent 2 --ntasks-per-node=1 --cpus-per-task=1 \
  -o "$work/task-%A_%a.out")
echo "$submitted"
array=$(grep -o "as job array [0-9]*" <<<"$submitted" | grep -o "[0-9]*$")
compare=$(grep -o "comparison job [0-9]*" <<<"$submitted" | grep -o "[0-9]*$")
[ -n "$array" ] && [ -n "$compare" ] || fail "submit-sweep.sh did not report its jobs"
records() { grep -c "\"kind\":\"$2\"" "$work/runs/$1/metrics.jsonl" 2>/dev/null || true; }
most=0
signalled=0
for _ in $(seq 1200); do
  running=$(squeue -h -r -j "$array" -t RUNNING 2>/dev/null | wc -l)
  [ "$running" -gt "$most" ] && most=$running
  if [ "$signalled" = 0 ] && [ "$(records "${names[0]}" step)" -ge 6 ]; then
    # scancel retries while the job is "in a transitional state", which a task that requeues itself
    # within a second of the signal is: left alone, it signals the task's next start too (seen
    # here: Restarts=2). The first attempt delivers it; the retries are cut off.
    timeout 4 scancel --signal=USR1 --batch "${array}_0" || true
    signalled=1
  fi
  ended "$compare" && break
  sleep 0.5
done
ended "$compare" || fail "the comparison job $compare has not ended: $(field "$compare" JobState)"
[ "$signalled" = 1 ] || fail "run 0 never reached step 6"
[ "$most" -le 2 ] || fail "$most tasks ran at once (--concurrent 2)"
[ "$most" = 2 ] || fail "never 2 tasks at once (at most $most)"
cat "$work"/task-"${array}"_0.out
cat "$work"/finch-sweep-compare-"$compare".out

echo "== each index trained its own run, to the end"
last_end=0
for i in 0 1 2 3; do
  task=${array}_$i
  [ "$(field "$task" JobState)" = COMPLETED ] && [ "$(field "$task" ExitCode)" = 0:0 ] || fail "task $task: $(field "$task" JobState) $(field "$task" ExitCode)"
  log=$work/task-${array}_$i.out
  grep -q -- "--set name=${names[$i]}$" "$log" || fail "task $i did not train run ${names[$i]}: $(grep -- '--resume auto' "$log")"
  python3 - "$work/grid.json" "$i" "$work/runs/${names[$i]}/config.json" <<'PY' || fail "run $i's config is not the plan's run $i"
import json, sys
plan = json.load(open(sys.argv[1])); run = plan["runs"][int(sys.argv[2])]; cfg = json.load(open(sys.argv[3]))
assert cfg["name"] == run["name"], (cfg["name"], run["name"])
assert abs(cfg["optimizer"]["lr"] - float(run["values"]["optimizer.lr"])) < 1e-12, cfg["optimizer"]["lr"]
assert abs(cfg["model"]["dropout"] - float(run["values"]["model.dropout"])) < 1e-12, cfg["model"]["dropout"]
PY
  [ "$(records "${names[$i]}" epoch)" = 4 ] || fail "run $i has $(records "${names[$i]}" epoch) epoch records, expected 4"
  end=$(epoch_s "$(field "$task" EndTime)")
  [ "$end" -gt "$last_end" ] && last_end=$end
done
[ "$(field "${array}_0" Restarts)" = 1 ] || fail "task 0 restarted $(field "${array}_0" Restarts) times, expected 1"
grep -q "exit 75): requeueing job" "$work/task-${array}_0.out" || fail "task 0 did not requeue itself"
grep -q "resumed from .*global step" "$work/runs/${names[0]}/train.log" || fail "run 0 did not resume from its checkpoint"
start=$(epoch_s "$(field "$compare" StartTime)")
[ "$start" -ge "$last_end" ] || fail "the comparison started at $start, before the last task ended at $last_end"
[ "$(field "$compare" ExitCode)" = 0:0 ] || fail "the comparison job exited $(field "$compare" ExitCode)"

echo "== the comparison: four rows, the varied keys as columns, the best marked"
table=$work/runs/sweep-grid/comparison.md
cat "$table"
grep -q "^| run | model.dropout | optimizer.lr | arch |" "$table" || fail "the varied keys are not the table's columns"
[ "$(grep -c "^| .*smoke_lr.*_dropout" "$table")" = 4 ] || fail "the table does not have four rows"
[ "$(grep -c "^| \*\*best\*\* " "$table")" = 1 ] || fail "no run (or more than one) is marked best"
[ -f "$work/runs/sweep-grid/compare.png" ] || fail "no overlaid curves"

echo "== submitting the plan again trains nothing"
before=$(md5sum "$work"/runs/*/metrics.jsonl)
again=$(FINCH="$finch" bash "$repo/cluster/slurm/submit-sweep.sh" "$work/grid.json" --concurrent 2 --ntasks-per-node=1 --cpus-per-task=1 \
  -o "$work/again-%A_%a.out")
echo "$again"
grep -q "nothing to train" <<<"$again" || fail "the second submission queued runs"
! grep -q "as job array" <<<"$again" || fail "the second submission queued an array"
compare2=$(grep -o "comparison job [0-9]*" <<<"$again" | grep -o "[0-9]*$")
# An array submitted by hand over the finished plan: its task exits at once.
direct=$(FINCH="$finch" FINCH_REPO="$repo" sbatch --parsable --array=1 --ntasks-per-node=1 --cpus-per-task=1 -o "$work/direct-%A_%a.out" \
  "$repo/cluster/slurm/finch-sweep.sbatch" "$work/grid.json")
for _ in $(seq 240); do ended "$compare2" && ended "${direct}_1" && break; sleep 0.5; done
[ "$(field "$compare2" JobState)" = COMPLETED ] || fail "the second comparison: $(field "$compare2" JobState)"
[ "$(field "${direct}_1" JobState)" = COMPLETED ] || fail "the hand-submitted task: $(field "${direct}_1" JobState)"
grep -q "its run is done; nothing to train" "$work/direct-${direct}_1.out" || fail "the hand-submitted task did not skip its finished run"
[ "$(md5sum "$work"/runs/*/metrics.jsonl)" = "$before" ] || fail "a run's metrics changed: something trained again"
echo "slurm_sweep: 4 runs as an array (at most $most at once), run 0 requeued and resumed, comparison after the last task; resubmission trained nothing"
