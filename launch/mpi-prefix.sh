#!/usr/bin/env bash
# Unpacks the Debian packages in DEBS (launch/fetch-gpu-debs.sh: Open MPI 4.1.4 and its runtime
# libraries, CLI11, nlohmann-json, spdlog/fmt) into PREFIX with `dpkg -x` (never into /), and
# writes PREFIX/finch-env.sh, which a script sources to build and launch finch from that prefix:
#   OPAL_PREFIX, PATH, LD_LIBRARY_PATH     Open MPI relocated into the prefix
#   FINCH_MPIRUN                           PREFIX/usr/bin/mpirun.openmpi (dpkg -x makes no `mpirun` link)
#   FINCH_PREFIX                           PREFIX/usr: add it to CMAKE_PREFIX_PATH (configs of spdlog, fmt, ...)
#   FINCH_PREFIX_CMAKE_ARGS                -DMPI_C_COMPILER=...mpicc.openmpi -DMPI_EXECUTABLE_SUFFIX=.openmpi
#   OMPI_MCA_*                             without ssh/rsh, Open MPI 4.1 refuses even -np 1 unless its
#                                          launcher is `isolated` (one node); shared-memory transport
#                                          without the single-copy (CMA) path, which sandboxes such
#                                          as gVisor do not offer; TCP for the rest.
# Usage: launch/mpi-prefix.sh DEBS PREFIX   (prints PREFIX/finch-env.sh)
set -euo pipefail
debs=${1:?usage: mpi-prefix.sh DEBS PREFIX}
prefix=${2:?usage: mpi-prefix.sh DEBS PREFIX}
compgen -G "$debs/*.deb" >/dev/null || { echo "mpi-prefix: no .deb files in $debs (run launch/fetch-gpu-debs.sh on a Debian 12 machine)" >&2; exit 1; }
mkdir -p "$prefix"
prefix=$(cd "$prefix" && pwd)
for d in "$debs"/*.deb; do dpkg -x "$d" "$prefix"; done
[ -x "$prefix/usr/bin/mpirun.openmpi" ] || { echo "mpi-prefix: $debs has no openmpi-bin (mpirun.openmpi)" >&2; exit 1; }
lib=$prefix/usr/lib/x86_64-linux-gnu
cat > "$prefix/finch-env.sh" <<ENV
# Written by launch/mpi-prefix.sh: Open MPI and the small -dev packages unpacked in $prefix.
export OPAL_PREFIX=$prefix/usr
export PATH=$prefix/usr/bin:\$PATH
export LD_LIBRARY_PATH=$lib:$lib/openmpi/lib:$lib/pmix2/lib\${LD_LIBRARY_PATH:+:\$LD_LIBRARY_PATH}
# PMIx (a library of its own) does not follow OPAL_PREFIX: point it at its plugins.
export PMIX_MCA_mca_base_component_path=$lib/pmix2/lib/pmix
export FINCH_MPIRUN=$prefix/usr/bin/mpirun.openmpi
export FINCH_PREFIX=$prefix/usr
export FINCH_PREFIX_CMAKE_ARGS="-DMPI_C_COMPILER=$prefix/usr/bin/mpicc.openmpi -DMPI_EXECUTABLE_SUFFIX=.openmpi"
finch_runnable() { local p; p=\$(command -v "\$1" 2>/dev/null) && [ -x "\$p" ]; }
if ! finch_runnable ssh && ! finch_runnable rsh; then export OMPI_MCA_plm=isolated; fi
export OMPI_MCA_pml=ob1 OMPI_MCA_btl=self,vader,tcp OMPI_MCA_btl_vader_single_copy_mechanism=none
ENV
echo "$prefix/finch-env.sh"
