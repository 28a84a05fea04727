#!/usr/bin/env bash
# Run HERE (Debian 12, with network to Debian's mirrors): downloads into .debs/ (git-ignored) the
# small Debian packages that a GPU machine without them needs to build finch (CLI11, nlohmann-json,
# spdlog/fmt, Open MPI 4.1.4 and its runtime libraries: ~10 MB). launch/mpi-prefix.sh (called by
# launch/gpu-check.sh) unpacks them into a prefix there (never into /). Pass `.debs` in the device
# tool's `carry`. Usage: launch/fetch-gpu-debs.sh [DIR]   (default: .debs in the repository)
set -euo pipefail
dir=${1:-$(cd "$(dirname "$0")/.." && pwd)/.debs}
mkdir -p "$dir"
cd "$dir"
want=(libcli11-dev nlohmann-json3-dev libspdlog-dev libspdlog1.10 libfmt-dev libfmt9
      libopenmpi-dev libopenmpi3 openmpi-bin openmpi-common libpmix2 libhwloc15 libevent-core-2.1-7
      libevent-pthreads-2.1-7 libnl-3-200 libnl-route-3-200 libibverbs1 librdmacm1 libfabric1 libpsm2-2
      libpsm-infinipath1 libucx0 libnuma1 libltdl7 libmunge2 libxnvctrl0 libevent-2.1-7)
# apt-get download needs the package lists: refresh them once if a name is unknown.
if ! apt-get download "${want[@]}" >download.log 2>&1; then
  apt-get update -q >/dev/null
  apt-get download "${want[@]}" >download.log 2>&1 || { cat download.log >&2; exit 1; }
fi
rm -f download.log
echo "fetch-gpu-debs: $(ls ./*.deb | wc -l) packages, $(du -sh . | cut -f1) in $dir"
