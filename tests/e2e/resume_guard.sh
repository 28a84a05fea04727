#!/usr/bin/env bash
# A resume never replaces a newer checkpoint (Note [A resume never replaces a newer checkpoint]):
#   1. a run on 2 ranks leaves ckpt-2, -4, -6 and best (step 6);
#   2. `--resume .../ckpt-0000000002` is refused on every rank (exit 2, naming the newer ones) and
#      touches nothing;
#   2b. the same with --resume-into-new-run NAME continues in a new run NAME, the source untouched
#      (and onto an existing run it is refused);
#   3. the same with --force trains on, the newer ones moved to checkpoints/set-aside-*/ intact, and
#      the log says so;
#   4. a damaged latest is passed over by --resume auto (as before) and now set aside with `best`
#      instead of being overwritten, the log saying so.
# Usage: WORK=DIR resume_guard.sh FINCH MPIEXEC... (uses the np2_data fixture's $WORK/data)
set -euo pipefail
finch=$1
shift
mpiexec=("$@")
here=$(cd "$(dirname "$0")" && pwd)
work=${WORK:?set WORK to the folder the e2e scenarios share}
run=(--config "$here/smoke.json" --set data.root="$work/data" --set output_dir="$work/runs" --name guard
     --set checkpoint.every_steps=2 --set checkpoint.keep_last=10)
dir=$work/runs/guard
ck=$dir/checkpoints
fail() { echo "resume_guard: $*"; exit 1; }
snapshot() { (cd "$ck" && find . -type f ! -path './set-aside*' -print0 | sort -z | xargs -0 md5sum); }

rm -rf "$dir"
"${mpiexec[@]}" -n 2 "$finch" train "${run[@]}" --set train.max_steps=6 >"$work/guard.1.out" 2>&1 || { tail "$work/guard.1.out"; fail "first run"; }
for d in ckpt-0000000002 ckpt-0000000004 ckpt-0000000006 best; do [ -f "$ck/$d/state.json" ] || fail "no $d after the first run"; done
before=$(snapshot)

# 2. An older checkpoint of a run with newer ones: refused, nothing touched.
set +e
"${mpiexec[@]}" -n 2 "$finch" train "${run[@]}" --set train.max_steps=6 --resume "$ck/ckpt-0000000002" >"$work/guard.2.out" 2>&1
rc=$?
set -e
[ "$rc" = 2 ] || { tail "$work/guard.2.out"; fail "resuming an older checkpoint: expected exit 2, got $rc"; }
grep -q "finch: error: .*ckpt-0000000002.* is step 2, but .*newer.*ckpt-0000000004.*--force" "$work/guard.2.out" \
  || { cat "$work/guard.2.out"; fail "the refusal does not name the newer checkpoints and the way on"; }
[ "$(snapshot)" = "$before" ] || fail "a refused resume changed the checkpoints"
ls -d "$ck"/set-aside* >/dev/null 2>&1 && fail "a refused resume set checkpoints aside"

# 2b. The same checkpoint continued in a run of its own (--resume-into-new-run): the source run is
#     only read, the new run starts at step 2 and writes its own checkpoints.
rm -rf "$work/runs/guard_fork"
"${mpiexec[@]}" -n 2 "$finch" train "${run[@]:0:6}" "${run[@]:8}" --set train.max_steps=6 --resume "$ck/ckpt-0000000002" \
  --resume-into-new-run guard_fork >"$work/guard.2b.out" 2>&1 || { tail "$work/guard.2b.out"; fail "--resume-into-new-run"; }
[ "$(snapshot)" = "$before" ] || fail "--resume-into-new-run changed the source run's checkpoints"
fork=$work/runs/guard_fork
grep -q "resumed from .*guard/checkpoints/ckpt-0000000002" "$fork/train.log" || fail "the new run did not resume from ckpt-2"
grep -q "a new run continuing from .*ckpt-0000000002 (that run is only read)" "$fork/train.log" || fail "the new run's log does not say where it came from"
for d in ckpt-0000000004 ckpt-0000000006; do [ -f "$fork/checkpoints/$d/state.json" ] || fail "the new run has no $d"; done
[ ! -e "$fork/checkpoints/ckpt-0000000002" ] || fail "the new run wrote a checkpoint at the resume point"
set +e
"${mpiexec[@]}" -n 2 "$finch" train "${run[@]:0:6}" "${run[@]:8}" --resume "$ck/ckpt-0000000002" --resume-into-new-run guard_fork >"$work/guard.2c.out" 2>&1
rc=$?
set -e
[ "$rc" = 2 ] && grep -q "already holds a run" "$work/guard.2c.out" || fail "--resume-into-new-run onto an existing run: exit $rc, wanted 2 (already holds a run)"

# 3. With --force: the newer ones moved aside intact, the run trains on from step 2.
"${mpiexec[@]}" -n 2 "$finch" train "${run[@]}" --set train.max_steps=6 --resume "$ck/ckpt-0000000002" --force >"$work/guard.3.out" 2>&1 \
  || { tail "$work/guard.3.out"; fail "--force"; }
aside=$(ls -d "$ck"/set-aside-* | head -1)
[ -n "$aside" ] || fail "--force set nothing aside"
for d in ckpt-0000000004 ckpt-0000000006 best; do
  [ -f "$aside/$d/state.json" ] || fail "$d was not set aside"
  [ "$(cd "$aside" && md5sum "$d/model.safetensors" | cut -d' ' -f1)" = "$(grep " ./$d/model.safetensors" <<<"$before" | cut -d' ' -f1)" ] \
    || fail "$d changed on its way aside"
done
grep -q "set aside .*ckpt-0000000004.*newer than the resume point" "$dir/train.log" || fail "train.log does not say what was set aside"
grep -q "resumed from .*ckpt-0000000002" "$dir/train.log" || fail "did not resume from ckpt-2"

# 4. A damaged latest: --resume auto passes it over and sets it (and the newer best) aside.
latest=$(cat "$ck/latest")
[ "$latest" = ckpt-0000000006 ] || fail "latest is $latest, not ckpt-0000000006"
printf '\xff' | dd of="$ck/$latest/model.safetensors" bs=1 seek=100 conv=notrunc status=none
"${mpiexec[@]}" -n 2 "$finch" train "${run[@]}" --set train.max_steps=8 --resume auto >"$work/guard.4.out" 2>&1 \
  || { tail "$work/guard.4.out"; fail "--resume auto over a damaged latest"; }
grep -q "resumed from .*ckpt-0000000004" "$dir/train.log" || fail "--resume auto did not fall back to ckpt-4"
grep -q "set aside .*ckpt-0000000006 (step 6, damaged: " "$dir/train.log" || fail "the damaged checkpoint was not set aside with a word"
n=$(ls -d "$ck"/set-aside-*/ckpt-0000000006 | wc -l)
[ "$n" = 2 ] || fail "expected the damaged ckpt-6 in a second set-aside folder, found $n"
echo "resume_guard: refused (exit 2, nothing touched), --force set 3 aside intact, a damaged latest set aside by --resume auto"
