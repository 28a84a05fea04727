#!/usr/bin/env bash
# Bad ImageFolder trees and CSV manifests through `finch train` (2 ranks) and `finch dataset`: each is
# one line naming the path (and the manifest's line), exit 2, and no run directory is created.
# Usage: bad_layouts.sh FINCH WORK MPIEXEC...
set -euo pipefail
finch=$1 work=$2
shift 2
mpiexec=("$@")
conf=$(cd "$(dirname "$0")" && pwd)/configs/ok.json
rm -rf "$work" && mkdir -p "$work" && cd "$work"
img() { mkdir -p "$(dirname "$1")" && : > "$1"; }
two() { img "$1/train/a/1.jpg"; img "$1/train/b/1.jpg"; }

img empty_class/train/a/1.jpg; mkdir -p empty_class/train/b
two not_image; img not_image/train/a/notes.txt
two val_class; img val_class/val/c/1.jpg
two test_class; img test_class/test/zz/1.jpg
img m/1.jpg; img m/2.jpg; img m/3.jpg
printf 'path,label\n1.jpg,a\n2.jpg,b\n1.jpg,a\n' > m/duplicate.csv
printf '1.jpg,a\nmissing.jpg,b\n' > m/missing.csv
printf '1.jpg,a,train\n2.jpg,b,train\n3.jpg,c,val\n' > m/outside.csv
cases=(
  "empty_class|class folder '$work/empty_class/train/b' holds no images"
  "not_image|'$work/not_image/train/a/notes.txt' is not an image file"
  "val_class|class folder '$work/val_class/val/c' has no counterpart in train/"
  "test_class|class folder '$work/test_class/test/zz' has no counterpart in train/"
  "m/duplicate.csv|m/duplicate.csv:4: '$work/m/1.jpg' is listed twice (line 2 and line 4)"
  "m/missing.csv|m/missing.csv:2: no image file '$work/m/missing.jpg'"
  "m/outside.csv|m/outside.csv:3: label 'c' is outside the classes"
)
fails=0
for c in "${cases[@]}"; do
  root=${c%%|*} want=${c#*|}
  for cmd in train dataset; do
    if [ $cmd = train ]; then
      args=("${mpiexec[@]}" -n 2 "$finch" train --config "$conf" --set data.root="$work/$root" --set output_dir="$work/runs" --name x)
    else
      args=("$finch" dataset --root "$work/$root")
    fi
    set +e
    out=$("${args[@]}" 2>&1)
    rc=$?
    set -e
    lines=$(printf '%s\n' "$out" | grep -c 'finch: error' || true)
    if [ "$rc" = 2 ] && [ "$lines" = 1 ] && [[ "$out" == *"$want"* ]] && [ ! -e runs ]; then
      echo "ok    $cmd $root: $(printf '%s\n' "$out" | grep 'finch: error')"
    else
      echo "FAIL  $cmd $root: exit $rc, $lines error line(s), run directory $([ -e runs ] && echo created || echo absent); wanted exit 2, one line with: $want"
      printf '%s\n' "$out" | tail -5
      fails=$((fails + 1))
    fi
  done
done
[ "$fails" = 0 ] && echo "bad_layouts: ${#cases[@]} layouts refused by train and dataset, nothing created" || exit 1
