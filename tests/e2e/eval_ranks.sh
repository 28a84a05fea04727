#!/usr/bin/env bash
# finch eval counts every test image exactly once on 1, 2 and 3 ranks (a test split of 55 images,
# which divides by neither 2 nor 3), with the same accuracy, and writes counts as integers; predict
# names classes and refuses a corrupt image clearly; a run without a validation split says so
# (no zeros for a validation it did not run) and its progress bars show elapsed<remaining, also
# while it evaluates. Usage: eval_ranks.sh FINCH MPIEXEC...
set -euo pipefail
finch=$1; shift
mpiexec=("$@")
here=$(cd "$(dirname "$0")" && pwd)
work=${WORK:-$(mktemp -d)}
rm -rf "$work" && mkdir -p "$work"
"$finch" synth --out "$work/data" --classes 5 --per-class 23 --size 40 --seed 5 >/dev/null
"$finch" train --config "$here/smoke.json" --set data.root="$work/data" --set model.classes=5 --set output_dir="$work/runs" \
  --name tiny --set train.max_steps=2 --set data.val_fraction=0.1 >/dev/null 2>&1
results=()
for n in 1 2 3; do
  json=$("${mpiexec[@]}" -n $n "$finch" eval --checkpoint "$work/runs/tiny" --json --out "$work/eval$n")
  results+=("$(printf '%s' "$json" | /usr/bin/python3 -c 'import json,sys; j=json.load(sys.stdin); assert isinstance(j["images"], int), j; print(j["images"], round(j["top1"], 9), format(j["loss"], ".4g"))  # loss: float sums in rank order')")
  echo "ranks $n: ${results[-1]}"
done
[ "${results[0]%% *}" = 55 ] || { echo "expected 55 test images, got ${results[0]}"; exit 1; }
[ "${results[0]}" = "${results[1]}" ] && [ "${results[0]}" = "${results[2]}" ] || { echo "eval differs across world sizes"; exit 1; }
/usr/bin/python3 - "$work/eval3/confusion.csv" <<'PY'
import csv, sys
rows = list(csv.reader(open(sys.argv[1])))
assert rows[0][0] == "true\\predicted" and len(rows) == 6, rows[0]
assert sum(int(v) for r in rows[1:] for v in r[1:]) == 55
PY
imgs=("$work"/data/images/*/*.jpg)
img=${imgs[0]}
predicted=$("$finch" predict --checkpoint "$work/runs/tiny" --image "$img" --topk 2)
grep -q "Synthetic_bird_" <<<"$predicted"
echo "not an image" > "$work/corrupt.jpg"
if "$finch" predict --checkpoint "$work/runs/tiny" --image "$work/corrupt.jpg" 2>"$work/err"; then echo "corrupt image accepted"; exit 1; fi
grep -q "cannot decode image '$work/corrupt.jpg'" "$work/err"

# No validation split, progress bars on.
"$finch" train --config "$here/smoke.json" --set data.root="$work/data" --set model.classes=5 --set output_dir="$work/runs" \
  --name noval --set train.epochs=2 --set train.max_steps=0 --set data.val_fraction=0 --set early_stopping.enabled=false \
  --set logging.progress=on >"$work/noval.out" 2>&1 || { cat "$work/noval.out"; exit 1; }
grep -q "epoch 1 done in .*train loss [0-9.]* acc [0-9.]* | no validation split (data.val_fraction=0) | lr" "$work/runs/noval/train.log"
grep -q "plan: [0-9]* steps per epoch x 2 epochs = [0-9]* steps" "$work/runs/noval/train.log"
tr '\r' '\n' <"$work/noval.out" | grep -Eq "^epoch 1 \[#+\] [0-9]+/[0-9]+ [0-9]{2}:[0-9]{2}<[0-9]{2}:[0-9]{2} loss"
tr '\r' '\n' <"$work/noval.out" | grep -Eq "^test \[#+\] [0-9]+/[0-9]+ [0-9]{2}:[0-9]{2}<[0-9]{2}:[0-9]{2}"
/usr/bin/python3 - "$work/runs/noval/metrics.jsonl" <<'PY'
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
epochs = [r for r in recs if r["kind"] == "epoch"]
assert len(epochs) == 2 and all(r["val_loss"] is None and r["val_acc"] is None for r in epochs), epochs
assert all(isinstance(r["skipped"], int) for r in epochs), epochs
test = [r for r in recs if r["kind"] == "test"][0]
assert isinstance(test["test_images"], int) and test["test_images"] == 55, test
start = [r for r in recs if r["kind"] == "start"][0]
assert start["epochs"] == 2 and start["steps_per_epoch"] > 0, start
PY
echo "eval/predict: all checks passed"
