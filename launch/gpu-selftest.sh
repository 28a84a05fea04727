#!/usr/bin/env bash
# GPU self-test, bounded (< 8 minutes including the build) on one machine with NVIDIA GPUs:
#   1. builds finch against the PyTorch 2.x + CUDA found there (LibTorch via
#      torch.utils.cmake_prefix_path), NCCL from the nvidia-nccl wheel, no OpenCV;
#   2. writes a packed synthetic dataset (no JPEG codec needed);
#   3. trains EfficientNet-B0 for a few hundred steps on a world of all visible GPUs (NCCL), in
#      fp32, then in AMP bf16 + channels_last;
#   4. prints one table: images/s and peak GPU memory per run, with the card's name.
# Packages the machine may lack come from .debs/ (launch/fetch-gpu-debs.sh), unpacked into a prefix.
# Env: STEPS (default 300), BATCH (per GPU, default 64), SIZE (default 224).
set -euo pipefail
cd "$(dirname "$0")/.."
t0=$(date +%s)
steps=${STEPS:-300}; batch=${BATCH:-64}; size=${SIZE:-224}
out=${OUT:-/tmp/finch-gpu}
mkdir -p "$out"
prefix=/tmp/finch-prefix
if compgen -G ".debs/*.deb" >/dev/null; then
  for d in .debs/*.deb; do dpkg -x "$d" "$prefix"; done
  export OPAL_PREFIX=$prefix/usr
  export PATH=$prefix/usr/bin:$PATH
  export LD_LIBRARY_PATH=$prefix/usr/lib/x86_64-linux-gnu:$prefix/usr/lib/x86_64-linux-gnu/openmpi/lib:${LD_LIBRARY_PATH:-}
fi
torch_cmake=$(python3 -c 'import torch; print(torch.utils.cmake_prefix_path)')
nccl_root=$(python3 -c 'import nvidia.nccl, os; print(os.path.dirname(nvidia.nccl.__file__))' 2>/dev/null || echo "")
torch_lib=$(python3 -c 'import torch, os; print(os.path.join(os.path.dirname(torch.__file__), "lib"))')
export LD_LIBRARY_PATH=$torch_lib:${nccl_root:+$nccl_root/lib:}${LD_LIBRARY_PATH:-}
echo "== build ($(python3 -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda)'))"
cmake -S . -B build-gpu -G Ninja -DCMAKE_BUILD_TYPE=Release -DFINCH_CUDA=ON -DFINCH_WITH_OPENCV=OFF -DFINCH_BUILD_TESTS=OFF \
  -DCMAKE_PREFIX_PATH="$torch_cmake;$prefix/usr" ${nccl_root:+-DNCCL_ROOT=$nccl_root} >"$out/cmake.log" 2>&1 || { tail -30 "$out/cmake.log"; exit 1; }
cmake --build build-gpu --parallel "$(nproc)" >"$out/build.log" 2>&1 || { grep -m5 -B2 -A8 "error" "$out/build.log"; exit 1; }
finch=build-gpu/finch
"$finch" --version
gpus=$(nvidia-smi -L | wc -l)
mapfile -t cards < <(nvidia-smi --query-gpu=name --format=csv,noheader)
card=${cards[0]}
echo "== data: packed synthetic (NOT CUB), $(( 200 * 16 )) images"
[ -f "$out/synth.pack" ] || "$finch" synth --packed "$out/synth.pack" --classes 200 --per-class 16 --size 256 --workers "$(nproc)"
mpirun=(mpirun --allow-run-as-root --oversubscribe --bind-to none -np "$gpus")
run() {  # name, extra --set...
  local name=$1; shift
  rm -rf "$out/runs/$name"
  nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits -lms 200 >"$out/$name.mem" &
  local smi=$!
  "${mpirun[@]}" "$finch" train --config configs/quickstart.json --name "$name" --set output_dir="$out/runs" \
    --set data.root="$out/synth.pack" --set data.image_size="$size" --set data.resize="$size" --set data.workers=6 \
    --set train.batch_size="$batch" --set train.max_steps="$steps" --set train.epochs=1000 --set data.val_fraction=0.05 \
    --set early_stopping.enabled=false --set logging.every_steps=20 --set logging.progress=off "$@" >"$out/$name.log" 2>&1 \
    || { kill $smi; tail -30 "$out/$name.log"; exit 1; }
  kill $smi
}
run fp32
run bf16_cl --set train.amp=bf16 --set train.channels_last=true
echo "== results: $card x $gpus, EfficientNet-B0, ${size}px, batch $batch/GPU, $steps steps (synthetic data)"
python3 - "$out" "$card" "$gpus" <<'PY'
import json, sys, statistics
out, card, gpus = sys.argv[1], sys.argv[2], sys.argv[3]
print(f"| run | backend | images/s (all GPUs) | peak GPU memory (nvidia-smi, MiB) |")
print(f"|---|---|---:|---:|")
for name in ["fp32", "bf16_cl"]:
    recs = [json.loads(l) for l in open(f"{out}/runs/{name}/metrics.jsonl")]
    ips = [r["images_per_s"] for r in recs if r["kind"] == "step"]
    ips = ips[len(ips) // 3:]  # past warm-up
    mem = max(int(x) for x in open(f"{out}/{name}.mem").read().split() if x.strip().isdigit())
    backend = "nccl" if "backend nccl" in open(f"{out}/runs/{name}/train.log").read() else "?"
    print(f"| {name} | {backend} | {statistics.median(ips):.0f} | {mem} |")
PY
echo "gpu-selftest: done in $(( $(date +%s) - t0 )) s"
