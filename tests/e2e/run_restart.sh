#!/usr/bin/env bash
# launch/run.sh --max-restarts: a crash injected once (kill -9 of rank 1 in the middle of training)
# is followed by a restart from the latest checkpoint, logged, and the run ends as an uninterrupted
# one would (same final step and epoch count); a config error (exit 2) is never restarted.
set -uo pipefail
finch=$(realpath "$1")
repo=$(cd "$(dirname "$0")/../.." && pwd)
work=${WORK:-$(mktemp -d)}
rm -rf "$work" && mkdir -p "$work"
fail() { echo "run_restart: $*"; exit 1; }
"$finch" synth --out "$work/data" --classes 4 --per-class 40 --size 40 --seed 4 >/dev/null || fail "synth"
cd "$work"
args=(train --config "$repo/tests/e2e/smoke.json" --set data.root="$work/data" --set model.classes=4 --set output_dir="$work/runs"
      --set train.epochs=4 --set checkpoint.every_steps=3 --set logging.every_steps=1 --set early_stopping.enabled=false)

echo "== a config error is not restarted"
bash "$repo/launch/run.sh" -n 2 --max-restarts 3 --backoff 0 -- "$finch" "${args[@]}" --name bad --set train.epochs=-1 >bad.out 2>&1
rc=$?
cat bad.out
[ "$rc" = 2 ] || fail "expected exit 2, got $rc"
grep -q "not restarting" bad.out && [ "$(grep -c 'run.sh: start' bad.out)" = 1 ] || fail "the config error was restarted"

echo "== kill -9 of rank 1 at step 6: restarted once from the latest checkpoint"
bash "$repo/launch/run.sh" -n 2 --max-restarts 2 --backoff 1 -- "$finch" "${args[@]}" --name crash >crash.out 2>&1 &
runner=$!
for _ in $(seq 600); do
  [ -f runs/crash/metrics.jsonl ] && [ "$(grep -c '"kind":"step"' runs/crash/metrics.jsonl)" -ge 6 ] && break
  sleep 0.2
done
source "$repo/tests/e2e/procs.sh"
victim=$(rank_pid crash 1)
[ -n "$victim" ] || { kill "$runner"; cat crash.out; fail "rank 1 not found"; }
kill -9 "$victim"
timeout 300 tail --pid="$runner" -f /dev/null
wait "$runner"
rc=$?
cat crash.out
[ "$rc" = 0 ] || fail "run.sh: expected exit 0 after the restart, got $rc"
grep -q "exit 137 (a rank killed by SIGKILL) after [0-9]* s; restart 1 of 2 in 1 s from the latest checkpoint" crash.out \
  || fail "the restart was not logged"
[ "$(grep -c 'run.sh: start' crash.out)" = 2 ] || fail "expected exactly one restart"
grep -q "finished after 1 restart(s)" crash.out || fail "no summary"
resumed=$(grep -o "resumed from [^ ]*: .*global step [0-9]*" runs/crash/train.log || true)
step=$(grep -o "global step [0-9]*" <<<"$resumed" | grep -o "[0-9]*$" || true)
[ -n "$step" ] && [ "$step" -ge 3 ] || fail "the restart did not resume from a step checkpoint: '$resumed'"
[ "$(grep -c '"kind":"epoch"' runs/crash/metrics.jsonl)" -ge 4 ] || fail "not all epochs ran"
final=$("$finch" inspect --checkpoint runs/crash --json | /usr/bin/python3 -c 'import json,sys; s=json.load(sys.stdin); print(s["global_step"], s["epoch"])')
[ "$final" = "16 3" ] || fail "final checkpoint at step/epoch '$final', expected '16 3' (4 epochs of 4 steps)"
echo "run_restart: killed at step >= 6, restarted once, resumed at global step $step, finished at step 16"
