#!/usr/bin/env bash
# More worker threads than the system lets start (issue 25): under `ulimit -v 3000000`, 1000 workers
# of dataset, synth and pack give one line naming the option to lower, exit 1 (once std::terminate,
# exit 134). Label `launcher` (tests/CMakeLists.txt): the subject is finch's own threads, and under
# that limit a CUDA LibTorch's libraries (libgomp, OpenCV's GDAL) run out of address space first,
# outside finch.
# Usage: WORK=DIR hostile_workers.sh FINCH (uses the np2_data fixture's $WORK/data)
set -uo pipefail
finch=$(realpath "$1")
work=${WORK:?set WORK to the folder the e2e scenarios share}
dir=$work/hostile_workers
rm -rf "$dir" && mkdir -p "$dir"
failed=0
check() {  # check NAME CODE REGEX OUTFILE RC
  if [ "$5" != "$2" ] || ! grep -Eq "$3" "$4"; then echo "FAIL $1: exit $5 (want $2): $(tail -c 400 "$4")"; failed=1; else echo "ok   $1"; fi
}
for cmd in "dataset --root $work/data --deep" "synth --out $dir/synth" "pack --root $work/data --out $dir/w.finchpack"; do
  (ulimit -v 3000000; timeout -k 10 60 "$finch" $cmd --workers 1000) >"$dir/workers.out" 2>&1
  check "workers_${cmd%% *}" 1 "finch: error: cannot start 1000 worker threads \\([0-9]+ started: .*\\): lower --workers 1000" "$dir/workers.out" $?
done
exit $failed
