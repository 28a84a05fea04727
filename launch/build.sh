#!/usr/bin/env bash
# Configures and builds finch into build/ (or $FINCH_BUILD_DIR). Extra arguments go to CMake,
# e.g. launch/build.sh -DFINCH_WITH_OPENCV=OFF -DCMAKE_PREFIX_PATH=/path/to/libtorch
# FINCH_TARGET=finch builds that target only (the quickstart: no test suite).
set -euo pipefail
cd "$(dirname "$0")/.."
build=${FINCH_BUILD_DIR:-build}
generator=()
command -v ninja >/dev/null && generator=(-G Ninja)
if [ ! -f "$build/CMakeCache.txt" ] || [ $# -gt 0 ]; then
  cmake -S . -B "$build" "${generator[@]}" -DCMAKE_BUILD_TYPE="${CMAKE_BUILD_TYPE:-Release}" "$@"
fi
# LibTorch translation units need ~1.5 GB of RAM each: cap the parallelism by memory as well as cores.
mem_gb=$(awk '/MemAvailable/ {print int($2 / 1048576)}' /proc/meminfo)
jobs=$(nproc)
[ "$mem_gb" -lt $((jobs * 2)) ] && jobs=$(( mem_gb / 2 > 0 ? mem_gb / 2 : 1 ))
cmake --build "$build" --parallel "$jobs" ${FINCH_TARGET:+--target "$FINCH_TARGET"}
echo "build: $build/finch"
