#!/usr/bin/env bash
# launch/sweep.sh on one machine (issue 29): two seed configs planned and run in sequence; then a
# 2-value grid plan run 2 at a time, where each index must train the run the plan gives it; the
# comparison tables the runs with the varied keys; running a plan again trains nothing.
set -euo pipefail
finch=$(realpath "$1")
repo=$(cd "$(dirname "$0")/../.." && pwd)
work=${WORK:-$(mktemp -d)}
rm -rf "$work" && mkdir -p "$work"
cd "$work"
fail() { echo "sweep: $*"; exit 1; }
"$finch" synth --out "$work/data" --classes 5 --per-class 10 --size 40 --seed 2 >/dev/null
export FINCH=$finch
tiny="--set data.root=$work/data --set model.classes=5 --set model.pretrained= --set output_dir=$work/runs --set train.max_steps=2 --set data.image_size=32 --set data.resize=32 --set train.batch_size=4 --set data.workers=1 --set logging.progress=off --set logging.tensorboard=false"

echo "== configs: planned, run one after another, compared"
SET=$tiny bash "$repo/launch/sweep.sh" "$repo/configs/seed/b0_full_finetune.json" "$repo/configs/seed/b0_last_block_bn_relu_head.json" >"$work/out" 2>&1 ||
  { tail -20 "$work/out"; fail "launch/sweep.sh over two configs failed"; }
for run in seed_b0_full_finetune seed_b0_last_block_bn_relu_head; do
  [ -f "$work/runs/$run/report/curves.png" ] || fail "no report for $run"
done
table=$(ls "$work"/runs/sweep-configs-*/comparison.md)
grep -q "^| run | model.freeze | model.head.hidden | arch |" "$table" || { cat "$table"; fail "the varied keys are not the columns"; }
grep -q "seed_b0_full_finetune (synthetic data) | none | 0 | efficientnet_b0 | none |" "$table" || { cat "$table"; fail "no row for seed_b0_full_finetune"; }
grep -q "seed_b0_last_block_bn_relu_head (synthetic data) | last_blocks:1+bn | 512 | efficientnet_b0 |" "$table" || { cat "$table"; fail "no row for the relu head run"; }

echo "== the seed's study as one plan: every configs/seed file validates"
# shellcheck disable=SC2086
"$finch" sweep plan --config "$repo"/configs/seed/*.json $tiny --out seed.json >/dev/null
[ "$("$finch" sweep list seed.json | grep -cE "^ +[0-9]+  (pending|done) ")" = "$(ls "$repo"/configs/seed/*.json | wc -l)" ] || fail "the seed plan does not hold one run per config"

echo "== a grid plan, 2 at a time: each index trains its own run"
# shellcheck disable=SC2086
"$finch" sweep plan --config "$repo/tests/e2e/smoke.json" $tiny --grid optimizer.lr=2e-3,5e-4 --grid model.dropout=0.1,0.3 --out grid.json >/dev/null
bash "$repo/launch/sweep.sh" grid.json -j 2 >"$work/out2" 2>&1 || { tail -20 "$work/out2"; fail "launch/sweep.sh -j 2 failed"; }
python3 - grid.json <<'PY' || fail "a run's config is not the plan's"
import json, sys
plan = json.load(open(sys.argv[1]))
for run in plan["runs"]:
    cfg = json.load(open(plan["workdir"] + "/" + run["run_dir"] + "/config.json") if not run["run_dir"].startswith("/") else open(run["run_dir"] + "/config.json"))
    assert cfg["name"] == run["name"], (cfg["name"], run["name"])
    assert abs(cfg["optimizer"]["lr"] - float(run["values"]["optimizer.lr"])) < 1e-12, (run["name"], cfg["optimizer"]["lr"])
    assert abs(cfg["model"]["dropout"] - float(run["values"]["model.dropout"])) < 1e-12, (run["name"], cfg["model"]["dropout"])
PY
for i in 0 1 2 3; do
  name=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["runs"][int(sys.argv[2])]["name"])' grid.json $i)
  grep -q "^sweep: run $i: .*--set name=$name --resume auto" "$work/out2" || fail "run $i was not trained as $name"
done
grid_table=$work/runs/sweep-grid/comparison.md
grep -q "^| run | model.dropout | optimizer.lr | arch |" "$grid_table" || { cat "$grid_table"; fail "the grid's keys are not the columns"; }
[ "$(grep -c '^| .*smoke_lr' "$grid_table")" = 4 ] || fail "the grid's table does not have 4 rows"
"$finch" sweep list grid.json | grep -q "^4 done$" || fail "sweep list does not say 4 done"

echo "== again: nothing trains"
before=$(md5sum "$work"/runs/*/metrics.jsonl)
again=$(bash "$repo/launch/sweep.sh" grid.json -j 2 2>&1) || fail "the second run of the plan failed: $again"
! grep -q "^sweep: run " <<<"$again" || fail "the second run of the plan trained something"
[ "$(md5sum "$work"/runs/*/metrics.jsonl)" = "$before" ] || fail "metrics changed on the second run"
echo "== one trainer per run directory: a second finch train on a running run is refused"
# shellcheck disable=SC2086
# Long enough to be running still (smoke.json's 6 epochs of this data end within seconds): SIGTERM ends it.
"$finch" train --config "$repo/tests/e2e/smoke.json" $tiny --set train.max_steps=400 --set train.epochs=1000 \
  --set early_stopping.enabled=false --set logging.every_steps=1 --name locked >"$work/locked.out" 2>&1 &
first=$!
for _ in $(seq 200); do grep -q '"kind":"step"' "$work/runs/locked/metrics.jsonl" 2>/dev/null && break; sleep 0.2; done
kill -0 "$first" 2>/dev/null || fail "the first trainer ended before the second started: $(tail -3 "$work/locked.out")"
# shellcheck disable=SC2086
if second=$("$finch" train --config "$repo/tests/e2e/smoke.json" $tiny --name locked --resume auto 2>&1); then fail "a second trainer ran on a running run"; fi
kill -TERM "$first"; wait "$first" || true
grep -q "run directory '$work/runs/locked' is in use by host .* pid $first" <<<"$second" || fail "the refusal does not name the holder: $second"
echo "sweep: all checks passed"
