#!/usr/bin/env bash
# finch's .pth reader on good and bad torch.save files (tests/io/hostile_pth.py writes them): both
# formats import bit for bit; each bad file is refused by import-weights with exit 1 and one line
# naming the file and what is wrong, and nothing in a hostile pickle runs.
# Usage: hostile_pth.sh FINCH WORK   (FINCH_REFERENCE_PYTHON: a Python with torch and torchvision)
set -euo pipefail
finch=$1 dir=$2
here=$(cd "$(dirname "$0")" && pwd)
python=${FINCH_REFERENCE_PYTHON:-/usr/bin/python3}
rm -rf "$dir" && mkdir -p "$dir"
"$python" "$here/hostile_pth.py" generate "$dir"
for good in good_zip good_legacy; do
  "$finch" import-weights --from torchvision --arch b0 -i "$dir/$good.pth" -o "$dir/$good.safetensors"
done
"$python" "$here/hostile_pth.py" compare "$dir"
fails=0
while IFS=$'\t' read -r file fragment; do
  set +e
  out=$("$finch" import-weights --from torchvision --arch b0 -i "$dir/$file" -o "$dir/$file.safetensors" 2>&1)
  rc=$?
  set -e
  lines=$(printf '%s\n' "$out" | wc -l)
  if [ "$rc" = 1 ] && [ "$lines" = 1 ] && [[ "$out" == "finch: error: "*"$dir/$file"* ]] && [[ "$out" == *"$fragment"* ]] &&
     [ ! -e "$dir/$file.safetensors" ]; then
    echo "ok    $file: $out"
  else
    echo "FAIL  $file: exit $rc, $lines line(s), wanted exit 1 and one line naming the file with '$fragment':"
    printf '%s\n' "$out" | head -5
    fails=$((fails + 1))
  fi
done < "$dir/bad.txt"
if [ -e "$dir/pwned" ]; then echo "FAIL: a hostile pickle ran code ($dir/pwned exists)"; fails=$((fails + 1)); fi
[ "$fails" = 0 ] && echo "hostile_pth: 2 good files bit for bit, $(wc -l < "$dir/bad.txt") bad ones refused" || exit 1
