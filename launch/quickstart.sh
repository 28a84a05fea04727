#!/usr/bin/env bash
# Installs, builds and runs finch's main job on this machine: EfficientNet-B0 fine-tuned on 2 MPI
# ranks on CPU. Uses the real CUB-200-2011 at data/CUB_200_2011 (or $FINCH_CUB_ROOT) when present,
# ImageNet weights from weights/efficientnet_b0.safetensors when present (see README).
set -euo pipefail
cd "$(dirname "$0")/.."
bash launch/install-deps.sh
bash launch/build.sh
finch=build/finch
mpirun=(mpirun --oversubscribe --bind-to none)
[ "$(id -u)" -eq 0 ] && mpirun+=(--allow-run-as-root)
"$finch" --version

cub=${FINCH_CUB_ROOT:-data/CUB_200_2011}
sets=()
name=quickstart
if [ -f "$cub/images.txt" ]; then
  echo "quickstart: using the real CUB-200-2011 at $cub"
  "$finch" dataset --root "$cub"
else
  cub=data/synthetic_cub
  name=quickstart_synthetic
  echo "#####################################################################################"
  echo "# quickstart: no CUB-200-2011 at ${FINCH_CUB_ROOT:-data/CUB_200_2011} (set FINCH_CUB_ROOT)."
  echo "# Using a GENERATED CUB-format dataset at $cub instead: 20 classes of drawn birds."
  echo "# Its numbers are NOT CUB results."
  echo "#####################################################################################"
  [ -f "$cub/images.txt" ] || "$finch" synth --out "$cub" --classes 20 --per-class 40 --size 96 --easy
  sets+=(--set model.classes=20 --set data.image_size=64 --set data.resize=72 --set train.epochs=4)
fi
if [ -f weights/efficientnet_b0.safetensors ]; then
  sets+=(--set model.pretrained=weights/efficientnet_b0.safetensors --set train.precise_bn_batches=0)
  echo "quickstart: starting from ImageNet weights weights/efficientnet_b0.safetensors"
fi
run=runs/$name
if [ -f "$run/config.json" ]; then
  mv "$run" "$run.$(date +%Y%m%d-%H%M%S)"  # keep the previous run, never overwrite it
fi
"${mpirun[@]}" -np 2 "$finch" train --config configs/quickstart.json --name "$name" --set data.root="$cub" "${sets[@]}"
if "$finch" report --help >/dev/null 2>&1; then "$finch" report --run-dir "$run"; fi
echo
echo "quickstart: done. Run directory: $run"
echo "  log:         $run/train.log"
echo "  metrics:     $run/metrics.jsonl"
echo "  checkpoints: $run/checkpoints/ (latest: $(cat "$run/checkpoints/latest" 2>/dev/null || echo none), best: $run/checkpoints/best)"
[ -d "$run/report" ] && ls "$run/report"/* >/dev/null 2>&1 && echo "  curves:      $run/report/"
