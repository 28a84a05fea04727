#!/usr/bin/env bash
# timm parity: timm's own efficientnet_b0/b2 state dicts (timm.create_model, saved as safetensors)
# import into finch (import-weights --from timm) and give timm's eval logits.
# Usage: run_timm_parity.sh FINCH WORKDIR   (FINCH_REFERENCE_PYTHON: a Python with torch and timm;
# exit 77 when it has no timm, unless FINCH_REQUIRE_TIMM=1)
set -euo pipefail
finch=$1 dir=$2
here=$(cd "$(dirname "$0")" && pwd)
python=${FINCH_REFERENCE_PYTHON:-/usr/bin/python3}
rm -rf "$dir" && mkdir -p "$dir"
set +e
"$python" "$here/timm_parity.py" generate "$dir"
rc=$?
set -e
if [ "$rc" = 77 ] && [ "${FINCH_REQUIRE_TIMM:-0}" = 1 ]; then echo "FINCH_REQUIRE_TIMM=1 but $python has no timm"; exit 1; fi
[ "$rc" = 0 ] || exit "$rc"
for arch in efficientnet_b0 efficientnet_b2; do
  "$finch" import-weights --from timm --arch $arch -i "$dir/$arch.timm.safetensors" -o "$dir/$arch.finch.safetensors"
  "$finch" forward --arch $arch -w "$dir/$arch.finch.safetensors" -i "$dir/input.safetensors" -o "$dir/$arch.logits.safetensors"
done
"$python" "$here/timm_parity.py" compare "$dir"
