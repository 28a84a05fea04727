#!/usr/bin/env bash
# Makes (or reuses) a Python virtual environment with the newest PyPI PyTorch 2.x (a CUDA wheel),
# torchvision, timm, safetensors and tensorboard (whose reader checks finch's event files), for
# finch's second LibTorch build: the CUDA and NCCL code compiles and links for real against it
# here, and the CPU suite runs against it.
#
# The machine's CUDA toolkit already has cudart, cuBLAS, cuDNN, cuFFT, cuSPARSE, NVRTC, CUPTI and
# NCCL, so torch is installed without its dependency list and only the nvidia-* wheels whose
# libraries the toolkit lacks are added (cuSPARSELt, NVSHMEM, cuFile), plus the nvidia-nccl wheel
# that the GPU machine's build links (NCCL_ROOT, the layout of a wheel: libnccl.so.2 only).
#
# Usage: launch/torch2-env.sh [VENV]   (default $FINCH_TORCH2_VENV, else /var/cache/finch/torch2)
# Prints the venv's path on its last line. Pin a version with FINCH_TORCH2_VERSION=2.15.0 (and its
# torchvision with FINCH_TORCHVISION_VERSION); launch/torch-versions.sh names the versions tested.
set -euo pipefail
venv=${1:-${FINCH_TORCH2_VENV:-/var/cache/finch/torch2}}
version=${FINCH_TORCH2_VERSION:-}
tv_version=${FINCH_TORCHVISION_VERSION:-}
stamp="$venv/.finch-ready"

python=${FINCH_TORCH2_PYTHON:-}
if [ -z "$python" ]; then
  # Any CPython 3.10+ with venv; Debian's needs python3-venv, pyenv's has it.
  for p in python3 /usr/bin/python3; do
    if command -v "$p" >/dev/null && "$p" -c 'import sys, venv, ensurepip; sys.exit(sys.version_info < (3, 10))' 2>/dev/null; then
      python=$p
      break
    fi
  done
fi
[ -n "$python" ] || { echo "torch2-env: no python3 (3.10+) with venv/ensurepip found (apt-get install python3-venv)" >&2; exit 1; }

# Packages added to the list after a venv was made are installed into it when it is reused.
extras=(tensorboard)
if [ -f "$stamp" ] && { [ -z "$version" ] || grep -qx "torch==$version" "$stamp"; }; then
  echo "torch2-env: reusing $venv ($(head -1 "$stamp"))" >&2
  for p in "${extras[@]}"; do
    "$venv/bin/python" -c "import $p" 2>/dev/null || "$venv/bin/python" -m pip install -q --disable-pip-version-check "$p" >&2
  done
  echo "$venv"
  exit 0
fi

rm -rf "$venv"
mkdir -p "$(dirname "$venv")"
"$python" -m venv "$venv"
pip=("$venv/bin/python" -m pip install -q --disable-pip-version-check)
torch_spec=torch${version:+==$version}
"${pip[@]}" --no-deps "$torch_spec"
tv=$("$venv/bin/python" -c 'import importlib.metadata as m; print(m.version("torch").split("+")[0])')
# torch's own Python requirements, without the cuda-toolkit / nvidia-* / triton ones the toolkit covers.
mapfile -t reqs < <("$venv/bin/python" - <<'EOF'
import importlib.metadata as m, re
for r in m.requires("torch") or []:
    name = re.split(r"[ ;<>=!~\[(]", r, maxsplit=1)[0]
    if "extra ==" in r or name.startswith(("nvidia-", "cuda-", "triton")):
        continue
    print(r.split(";")[0].strip())
EOF
)
# The nvidia-* wheels the toolkit lacks, at the versions torch names.
mapfile -t nv < <("$venv/bin/python" - <<'EOF'
import importlib.metadata as m, re
for r in m.requires("torch") or []:
    spec = r.split(";")[0].strip()
    if spec.startswith(("nvidia-cusparselt", "nvidia-nvshmem", "nvidia-nccl")):
        print(spec.replace(" ", ""))
EOF
)
"${pip[@]}" "${reqs[@]}" "${nv[@]}" nvidia-cufile numpy pillow safetensors
# torchvision and timm without letting pip swap torch for another build.
"${pip[@]}" --no-deps "torchvision${tv_version:+==$tv_version}" timm
"${pip[@]}" pyyaml huggingface_hub "${extras[@]}"
"$venv/bin/python" - <<'EOF'
import torch, torchvision, timm, safetensors
print(f"torch {torch.__version__} (CUDA {torch.version.cuda}), torchvision {torchvision.__version__}, timm {timm.__version__}")
m = torchvision.models.efficientnet_b0()
assert m(torch.zeros(1, 3, 64, 64)).shape == (1, 1000)
EOF
{ echo "torch==$tv"; date -u +%FT%TZ; } > "$stamp"
echo "$venv"
