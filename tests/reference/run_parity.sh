#!/usr/bin/env bash
# torchvision parity: import torchvision weights three ways (.pth, torchvision-named safetensors,
# timm-named safetensors), run finch forward, and compare with torchvision's own outputs.
# Usage: run_parity.sh FINCH WORKDIR
set -euo pipefail
finch=$1 dir=$2
here=$(cd "$(dirname "$0")" && pwd)
python=${FINCH_REFERENCE_PYTHON:-/usr/bin/python3}
"$python" -c 'import torch, torchvision; print(f"reference: torch {torch.__version__}, torchvision {torchvision.__version__}")' 
rm -rf "$dir" && mkdir -p "$dir"
"$python" "$here/torchvision_parity.py" generate "$dir"
for arch in efficientnet_b0 efficientnet_b2; do
  "$finch" import-weights --from torchvision --arch $arch -i "$dir/$arch.pth" -o "$dir/${arch}_pth.safetensors"
  "$finch" import-weights --from torchvision --arch $arch -i "$dir/$arch.tv.safetensors" -o "$dir/${arch}_tv.safetensors"
  "$finch" import-weights --from timm --arch $arch -i "$dir/$arch.timm.safetensors" -o "$dir/${arch}_timm.safetensors"
  for size in 224 160; do
    for src in pth tv timm; do
      "$finch" forward --arch $arch -w "$dir/${arch}_${src}.safetensors" -i "$dir/input_$size.safetensors" \
        -o "$dir/${arch}_${src}_${size}.logits.safetensors"
    done
    "$finch" forward --arch $arch --train --stochastic-depth 0 -w "$dir/${arch}_pth.safetensors" -i "$dir/input_$size.safetensors" \
      -o "$dir/${arch}_train_${size}.logits.safetensors" --state-out "$dir/${arch}_${size}.train_state.safetensors"
  done
done
"$python" "$here/torchvision_parity.py" compare "$dir"
