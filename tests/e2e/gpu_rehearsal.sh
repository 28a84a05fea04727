#!/usr/bin/env bash
# The GPU machine rehearsed on this CPU machine: in a private mount namespace the system's Open MPI
# (headers, libraries, mpirun/mpicc), OpenCV, cairo, pkg-config, ssh/rsh, protobuf (so no
# TensorBoard event files) and the -dev packages CLI11/nlohmann-json/spdlog/fmt are hidden, and the CUDA toolkit is moved off its usual path
# (named only by CUDACXX), as on the GPU machine. Then launch/gpu-check.sh --cpu-rehearsal
# builds finch against the GPU machine's PyTorch (torch 2.11.0+cu130 from PyPI, C++17, its fmt 12
# headers in the way, NCCL from the nvidia-nccl wheel through NCCL_ROOT; launch/torch-versions.sh),
# with Open MPI and the small -dev packages unpacked from .deb files into a prefix, and trains 1
# and 2 ranks (mpirun.openmpi) on a packed synthetic dataset, the stages in the check's order.
# Usage: gpu_rehearsal.sh PYTHON (a python with that torch and torchvision; launch/torch2-env.sh,
# as launch/test.sh makes it)
set -euo pipefail
python=${1:?usage: gpu_rehearsal.sh PYTHON}
repo=$(cd "$(dirname "$0")/../.." && pwd)
work=${WORK:-/tmp/finch-rehearsal}
# A fresh folder every time: a build folder kept from another run keeps its CMake cache (a CUDA
# toolkit found then), which would hide what this run must find by itself.
rm -rf "$work" && mkdir -p "$work"
source "$repo/launch/torch-versions.sh"
have=$("$python" -c 'import torch; print(torch.__version__.split("+")[0])')
[ "$have" = "$finch_torch_gpu_machine" ] || {
  echo "gpu_rehearsal: $python has torch $have; the rehearsal builds against the GPU machine's $finch_torch_gpu_machine (launch/torch-versions.sh)"
  exit 1
}
command -v unshare >/dev/null || { echo "gpu_rehearsal: needs unshare (util-linux)"; exit 77; }
unshare -m true 2>/dev/null || { echo "gpu_rehearsal: cannot create a mount namespace here (needs root / CAP_SYS_ADMIN)"; exit 77; }

bash "$repo/launch/fetch-gpu-debs.sh" "$work/debs"
cuda=$(readlink -f /usr/local/cuda)

export REPO=$repo WORK_DIR=$work PY=$python CUDA_REAL=$cuda
unshare -m --propagation private bash -euo pipefail -c '
  hide_dir() { if [ -d "$1" ]; then mount -t tmpfs -o size=1m,mode=755 finch-hidden "$1"; fi; }
  # Files are covered by an empty, non-executable regular file (bash and Open MPI then agree that an
  # ssh or mpirun there cannot be run; a /dev/null bind would still be "found" by bash).
  : >"$WORK_DIR/hidden" && chmod 644 "$WORK_DIR/hidden"
  hide_file() { for f in "$@"; do if [ -e "$f" ]; then mount --bind "$WORK_DIR/hidden" "$f"; fi; done; }
  # The CUDA toolkit, reachable only under another name.
  mkdir -p "$WORK_DIR/cuda" && mount --bind "$CUDA_REAL" "$WORK_DIR/cuda"
  hide_dir "$CUDA_REAL"
  for f in /usr/local/bin/*; do  # wrapper scripts into the toolkit (this machine has nvcc, ptxas... there)
    if [ -f "$f" ] && [ "$(head -c 2 "$f")" = "#!" ] && grep -q "$CUDA_REAL\|/usr/local/cuda" "$f"; then hide_file "$f"; fi
  done
  lib=/usr/lib/x86_64-linux-gnu
  for d in $lib/openmpi $lib/pmix2 /usr/share/openmpi /etc/openmpi /usr/include/opencv4 /usr/include/cairo \
           $lib/pkgconfig /usr/share/pkgconfig /usr/include/fmt /usr/include/spdlog /usr/include/nlohmann /usr/include/CLI /usr/include/google/protobuf \
           $lib/cmake/fmt $lib/cmake/spdlog /usr/share/cmake/nlohmann_json /usr/share/cmake/CLI11; do hide_dir "$d"; done
  hide_file /usr/bin/mpirun /usr/bin/mpiexec /usr/bin/mpicc /usr/bin/orterun /usr/bin/ssh /usr/bin/rsh /usr/bin/pkg-config /usr/bin/protoc \
            $lib/libmpi.so* $lib/libopen-rte.so* $lib/libopen-pal.so* $lib/libpmix.so* $lib/libopencv_*.so* $lib/libcairo.so*
  export PATH=$(echo "$PATH" | tr : "\n" | grep -v "^/usr/local/cuda" | paste -sd:)
  # Only CUDACXX names the toolkit: Torch config alone does not find it then (CI showed it), the
  # CMakeLists must derive the toolkit root from the compiler. (No apostrophes in this block.)
  unset CUDA_PATH CUDA_HOME
  export CUDACXX=$WORK_DIR/cuda/bin/nvcc LD_LIBRARY_PATH=$WORK_DIR/cuda/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
  # The hiding holds (else this is no rehearsal).
  for t in mpirun mpicc mpirun.openmpi ssh rsh pkg-config nvcc; do
    if p=$(command -v $t) && [ -x "$p" ]; then echo "rehearsal: $t is still reachable ($p)" >&2; exit 1; fi
  done
  for f in /usr/include/opencv4/opencv2/core.hpp /usr/include/cairo/cairo.h /usr/include/fmt/core.h $lib/openmpi/include/mpi.h; do
    if [ -e "$f" ]; then echo "rehearsal: $f is still visible" >&2; exit 1; fi
  done
  echo "rehearsal: system Open MPI, OpenCV, cairo, pkg-config, ssh and the -dev packages hidden; CUDA only as CUDACXX=$CUDACXX"
  # Without .debs (the likeliest first mistake) the check stops at the prefix stage, in seconds,
  # saying what to bring, with every later stage listed as not run.
  mkdir -p "$WORK_DIR/no-debs"
  if FINCH_CHECK_WORK=$WORK_DIR/check-no-debs bash "$REPO/launch/gpu-check.sh" --cpu-rehearsal --out "$WORK_DIR/out-no-debs" \
       --python "$PY" --debs "$WORK_DIR/no-debs" >"$WORK_DIR/no-debs.log" 2>&1; then
    echo "rehearsal: the check without .debs passed" >&2; exit 1
  fi
  grep -q "stopping at the first failed stage, prefix: bring the Debian packages along: run launch/fetch-gpu-debs.sh" "$WORK_DIR/no-debs.log" ||
    { tail -20 "$WORK_DIR/no-debs.log" >&2; echo "rehearsal: no stop with the .debs hint" >&2; exit 1; }
  grep -q "| build | skipped: not run: prefix failed" "$WORK_DIR/out-no-debs/summary.md" ||
    { echo "rehearsal: the build was not skipped after the prefix failed" >&2; exit 1; }
  if grep -q "^== build (limit" "$WORK_DIR/no-debs.log"; then echo "rehearsal: the build ran after the prefix failed" >&2; exit 1; fi
  echo "rehearsal: without .debs the check stopped at the prefix stage"
  FINCH_CHECK_WORK=$WORK_DIR/check exec bash "$REPO/launch/gpu-check.sh" --cpu-rehearsal --out "$WORK_DIR/out" --python "$PY" --debs "$WORK_DIR/debs"
'
s=$work/out/summary.md
for want in "| build | ok" "| data | ok" "| correctness | ok" "| train_fp32 | ok" "| np2_mpi_syncbn | ok"; do
  grep -qF "$want" "$s" || { echo "gpu_rehearsal: no '$want' in $s"; exit 1; }
done
grep -q "| np2_mpi_syncbn | ok .*world 2" "$s" || { echo "gpu_rehearsal: the 2-rank run did not run as a world of 2"; exit 1; }
# Built against the GPU machine's Torch, with its language standard (C++17 before PyTorch 2.13).
line=$(grep -m1 "finch: Torch " "$work/check/build.log") || { echo "gpu_rehearsal: no 'finch: Torch' line in build.log"; exit 1; }
grep -q "Torch $finch_torch_gpu_machine.*C++17\$" <<<"$line" || { echo "gpu_rehearsal: expected Torch $finch_torch_gpu_machine, C++17: $line"; exit 1; }
# Without protobuf, as on the GPU machine: no TensorBoard, said by --version.
grep -q "^TensorBoard: no" "$work/check/build.log" || { echo "gpu_rehearsal: the build found protobuf (TensorBoard), which the GPU machine lacks"; exit 1; }
# The stages in the check's order (Note [The check's order]): the build before anything timed, the
# two-rank run before the correctness and the precisions, the PyTorch reference after the build.
got=$(sed -n 's/^| \([a-z0-9_]*\) | .*/\1/p' "$s" | grep -v '^stage$' | paste -sd' ')
want="probe prefix build data train_fp32 np2_mpi_syncbn np2_nccl_experimental correctness train_bf16_cl train_fp16 reference train_recipe"
[ "$got" = "$want" ] || { echo "gpu_rehearsal: stages in the order '$got', expected '$want'"; exit 1; }
echo "gpu_rehearsal: passed"
