#!/usr/bin/env bash
# finch inspect --checkpoint on the checkpoints of runs that are odd but real: a run without a
# validation split (its metrics are null: once "type must be number, but is null", exit 1) and a
# state.json whose time no calendar holds (2^63 - 1: once a segmentation fault), and one whose
# versions are null (once a JSON type error). All print, exit 0.
# Usage: WORK=DIR inspect_odd_states.sh FINCH (uses the np2_data fixture's $WORK/data)
set -euo pipefail
finch=$1
here=$(cd "$(dirname "$0")" && pwd)
work=${WORK:?set WORK to the folder the e2e scenarios share}
out=$work/runs/odd
rm -rf "$out"
"$finch" train --config "$here/smoke.json" --set data.root="$work/data" --set output_dir="$out" --name noval --set data.val_fraction=0 \
  --set train.epochs=1 --set early_stopping.enabled=false >"$work/odd.train.out" 2>&1 || { tail "$work/odd.train.out"; exit 1; }
"$finch" inspect --checkpoint "$out/noval" >"$work/odd.1.out" 2>&1 || { cat "$work/odd.1.out"; echo "inspect failed on a run without validation"; exit 1; }
grep -q "val loss n/a, val acc n/a" "$work/odd.1.out" || { cat "$work/odd.1.out"; exit 1; }
ck=$out/noval/checkpoints/$(cat "$out/noval/checkpoints/latest")
/usr/bin/python3 - "$ck/state.json" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
s["time"] = 2**63 - 1
json.dump(s, open(sys.argv[1], "w"))
PY
"$finch" inspect --checkpoint "$ck" >"$work/odd.2.out" 2>&1 || { cat "$work/odd.2.out"; echo "inspect failed on a time of 2^63 - 1"; exit 1; }
grep -q "time unknown" "$work/odd.2.out" || { cat "$work/odd.2.out"; exit 1; }
# versions: null (found by fuzz.readers: "cannot use value() with null", the error above the report)
/usr/bin/python3 - "$ck/state.json" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
s["versions"] = None
json.dump(s, open(sys.argv[1], "w"))
PY
"$finch" inspect --checkpoint "$ck" >"$work/odd.3.out" 2>&1 || { cat "$work/odd.3.out"; echo "inspect failed on versions: null"; exit 1; }
grep -q "finch ?, LibTorch ?" "$work/odd.3.out" || { cat "$work/odd.3.out"; exit 1; }
echo "inspect_odd_states: a run without validation, a time of 2^63 - 1 and null versions all inspect (exit 0)"
