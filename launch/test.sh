#!/usr/bin/env bash
# Installs the dependencies, builds finch with its tests, and runs the whole suite (unit tests,
# 2-rank MPI tests, CLI checks, torchvision reference checks) through CTest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash launch/install-deps.sh --tests
bash launch/build.sh
cd "${FINCH_BUILD_DIR:-build}"
ctest --output-on-failure --timeout 900 "$@"
