# Sourced by the sbatch tests (slurm_batch.sh, slurm_sweep.sh): the single-node Slurm up, a packed
# synthetic data set in $work/cub.pack, and the helpers both use. $1 of the sourcing script is
# finch; $test_name names the test in its failures. Exits 77 (CTest: skipped) only when Slurm itself
# cannot be brought up here.
set -uo pipefail
finch=$(realpath "$1")
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
work=${WORK:-$(mktemp -d)}
rm -rf "$work" && mkdir -p "$work"
command -v sbatch >/dev/null && command -v slurmd >/dev/null || { echo "slurm: not installed (launch/install-deps.sh --tests)"; exit 77; }
[ "$(id -u)" = 0 ] || { echo "slurm: the single-node setup needs root"; exit 77; }
bash "$repo/cluster/single-node-slurm.sh" >/dev/null || { echo "slurm: could not start a single-node Slurm here"; exit 77; }
set -e
"$finch" synth --out "$work/cub" --classes 4 --per-class 40 --size 40 --seed 4 >/dev/null
"$finch" pack --root "$work/cub" --out "$work/cub.pack" --size 40 --workers 2 >/dev/null
cd "$work"

fail() { echo "$test_name: $*"; exit 1; }
field() { scontrol show job "$1" 2>/dev/null | grep -o "$2=[^ ]*" | head -1 | cut -d= -f2; }
