#!/usr/bin/env bash
# timm parity: timm's own state dicts (timm.create_model, saved as safetensors) of efficientnet_b0/b2
# and the TF ports tf_efficientnet_b0 / tf_efficientnet_lite0 import into finch (import-weights
# --from timm / timm-tf) and give timm's eval logits.
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
"$python" "$here/timm_parity.py" list | while read -r name arch from; do
  "$finch" import-weights --from "$from" --arch "$arch" -i "$dir/$name.timm.safetensors" -o "$dir/$name.finch.safetensors"
  "$finch" forward --arch "$arch" -w "$dir/$name.finch.safetensors" -i "$dir/$name.input.safetensors" -o "$dir/$name.logits.safetensors"
done
"$python" "$here/timm_parity.py" compare "$dir"
