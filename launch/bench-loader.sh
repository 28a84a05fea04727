#!/usr/bin/env bash
# Input-pipeline throughput on this machine: finch's loader (raw JPEG tree and packed file) next to
# torchvision's ImageFolder + the same transforms (Debian's python3-torchvision), on the same images,
# in the same run. Uses a synthetic CUB-format tree with CUB-like image sizes (~375 x 500) unless a
# tree is given. Usage: launch/bench-loader.sh [CUB_ROOT] (env: THREADS="1 2", BATCHES=20)
set -euo pipefail
cd "$(dirname "$0")/.."
finch=${FINCH:-build/finch}
threads=${THREADS:-"1 2"}
batches=${BATCHES:-20}
work=${BENCH_DIR:-build/bench}
root=${1:-}
mkdir -p "$work"
if [ -z "$root" ]; then
  root=$work/synth375
  [ -f "$root/images.txt" ] || "$finch" synth --out "$root" --classes 20 --per-class 40 --size 375 >/dev/null
  echo "bench-loader: SYNTHETIC images (CUB-like sizes), not CUB-200-2011"
fi
packed=$work/$(basename "$root").packed
[ -f "$packed" ] || "$finch" pack --root "$root" --out "$packed" --size 256 >/dev/null
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
# shellcheck disable=SC2086
"$finch" bench loader --root "$root" --root "$packed" --threads $threads --batches "$batches" --batch-size 32 --image-size 224
/usr/bin/python3 - "$root" "$batches" $threads <<'PY'
import sys, time, torch, torchvision
from torchvision import transforms as T
root, batches, threads = sys.argv[1], int(sys.argv[2]), [int(t) for t in sys.argv[3:]]
tf = T.Compose([T.RandomResizedCrop(224), T.RandomHorizontalFlip(), T.ToTensor(),
                T.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])])
ds = torchvision.datasets.ImageFolder(root + "/images", transform=tf)
torch.set_num_threads(1)
for t in threads:
    # num_workers=t worker processes, like finch's t loader threads
    dl = torch.utils.data.DataLoader(ds, batch_size=32, shuffle=True, num_workers=t, persistent_workers=False)
    it = iter(dl); next(it)  # start the workers
    start, n = time.perf_counter(), 0
    for k, (x, y) in enumerate(it):
        n += x.shape[0]
        if k + 1 >= batches - 1: break
    s = time.perf_counter() - start
    label = f"torchvision {torchvision.__version__} ImageFolder + DataLoader (PIL)"
    print(f"{label:<70} threads {t:>2}  {n / s:>8.1f} images/s")
PY
