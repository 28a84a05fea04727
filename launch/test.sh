#!/usr/bin/env bash
# The test command (README, CI). Installs the dependencies, then builds and tests finch against
# both LibTorch builds it supports:
#   1. Debian's libtorch-dev 1.13.1 (CPU): build/, the whole suite;
#   2. the newest PyTorch 2.x wheel from PyPI (CUDA compiled and linked against this machine's CUDA
#      toolkit; no GPU needed): build-torch2/, the same suite on the CPU but for the tests labelled
#      `launcher` (their subject is not LibTorch; suite 1 runs them), the torchvision checks
#      against that wheel's torchvision, the timm import against the real timm, and the GPU-machine
#      rehearsal (launch/gpu-check.sh --cpu-rehearsal in a mount namespace), which builds against
#      the GPU machine's torch instead (2.11.0+cu130). launch/torch-versions.sh names both; their
#      venvs are cached in /var/cache/finch/torch2 and /var/cache/finch/torch-gpu-machine.
# FINCH_TEST_TORCH2=0 skips part 2 (quick local runs); extra arguments go to both ctest runs.
# Tests run in parallel, one per core (FINCH_TEST_JOBS overrides): most of the suite's time is
# processes waiting on each other (mpiexec, Slurm, the rehearsal's build), and run one at a time
# the two suites took ~50 of CI's 90 minutes.
set -euo pipefail
cd "$(dirname "$0")/.."
t0=$(date +%s)
jobs=${FINCH_TEST_JOBS:-$(nproc)}
# Tests run side by side, so cores are oversubscribed: with its default wait policy each OpenMP
# thread (LibTorch's intra-op pool) spins while it waits, stealing the other test's core. Measured
# here: two 2-thread training runs at once took 136 s by default, 20 s with PASSIVE (one alone 13 s).
# Only how idle threads wait changes; results do not.
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE}
bash launch/install-deps.sh --tests
# Tests and warnings on explicitly: build/ may have been configured by the quickstart without them.
bash launch/build.sh -DFINCH_BUILD_TESTS=ON -DFINCH_WARNINGS=ON
echo "== suite 1/2: Debian LibTorch 1.13 (build/) after $(( $(date +%s) - t0 )) s"
(cd "${FINCH_BUILD_DIR:-build}" && ctest --output-on-failure --parallel "$jobs" --timeout 900 "$@")
if [ "${FINCH_TEST_TORCH2:-1}" = 0 ]; then
  echo "FINCH_TEST_TORCH2=0: the PyPI PyTorch build was not tested"
  exit 0
fi
source launch/torch-versions.sh
venv=$(FINCH_TORCH2_VERSION=$finch_torch_newest bash launch/torch2-env.sh | tail -1)
gpu_venv=$(FINCH_TORCH2_VERSION=$finch_torch_gpu_machine FINCH_TORCHVISION_VERSION=$finch_torchvision_gpu_machine \
  bash launch/torch2-env.sh /var/cache/finch/torch-gpu-machine | tail -1)
torch_cmake=$("$venv/bin/python" -c 'import torch; print(torch.utils.cmake_prefix_path)')
FINCH_BUILD_DIR=build-torch2 bash launch/build.sh -DFINCH_CUDA=ON "-DCMAKE_PREFIX_PATH=$torch_cmake" \
  "-DFINCH_REFERENCE_PYTHON=$venv/bin/python" -DFINCH_REQUIRE_TIMM=ON -DFINCH_REHEARSAL=ON "-DFINCH_REHEARSAL_PYTHON=$gpu_venv/bin/python"
echo "== suite 2/2: PyPI PyTorch $("$venv/bin/python" -c 'import torch; print(torch.__version__)') with CUDA (build-torch2/) after $(( $(date +%s) - t0 )) s"
# Label `launcher` (Slurm, launch scripts, signals, process and disk faults: finch's own process and
# file handling, no LibTorch in question) ran in suite 1 and is left out here (tests/CMakeLists.txt).
(cd build-torch2 && ctest --output-on-failure --parallel "$jobs" --timeout 2700 -LE launcher "$@")
echo "test.sh: both suites passed in $(( $(date +%s) - t0 )) s"
