# The PyTorch builds finch is tested against besides Debian's libtorch-dev 1.13.1, named in one
# place (sourced by launch/test.sh and launch/torch2-env.sh).
#
# The GPU machine's: torch 2.11.0+cu130 (Python 3.12 at /opt/torch/.venv there, no network). PyPI's
# torch==2.11.0 for Linux x86-64 *is* that CUDA 13.0 build (it requires cuda-toolkit==13.0.2 and
# nvidia-nccl-cu13==2.28.9), so the rehearsal (launch/gpu-check.sh --cpu-rehearsal, CI) builds finch
# against the same headers, the same C++ standard (C++17 before 2.13) and the same NCCL as the card.
finch_torch_gpu_machine=2.11.0
finch_torchvision_gpu_machine=0.26.0
# Suite 2: the newest torch on PyPI when its venv is made (empty: unpinned; 2.15.0+cu132 when this
# was written), with the newest torchvision; it keeps finch building on what comes next (C++20).
finch_torch_newest=${FINCH_TORCH2_VERSION:-}
