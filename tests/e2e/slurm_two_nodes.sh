#!/usr/bin/env bash
# finch on two Slurm nodes: `srun -N2 -n2 --mpi=pmix finch train` on the two-node Slurm that
# cluster/two-node-slurm.sh brings up on this machine (two slurmd, each in its own network, UTS and
# /tmp namespace: own hostname, own IP, own node-local /tmp). Checks: one rank per node, each with
# node-local rank 0, a world of 2; the ranks cannot reach each other through shared memory (so they
# really talk over the network); only rank 0 writes the run directory (put on rank 0's node-local
# /tmp here, so a write by rank 1 would land on the other node); and the trained weights and epoch
# records equal those of the same run with 2 ranks on one node (mpiexec). Then the multi-node batch
# script, cluster/slurm/finch-multinode.sbatch, submitted with sbatch, runs to the end on both nodes.
# Exit 77 (CTest: skipped) only where Slurm or the namespaces cannot be brought up here.
set -uo pipefail
finch=$(realpath "$1")
shift
mpiexec=("$@")  # the launcher for the one-node run, with its options
[ ${#mpiexec[@]} -gt 0 ] || mpiexec=(mpiexec)
repo=$(cd "$(dirname "$0")/../.." && pwd)
work=${WORK:?WORK: a directory on a filesystem both nodes see (not /tmp)}
# Each node has its own /tmp: a checkout (so a finch binary) or WORK under /tmp does not exist there.
for p in "$finch" "$work"; do
  case $p in /tmp/*) echo "two nodes: $p is under /tmp, which each node has its own of; clone elsewhere to run this test"; exit 77 ;; esac
done
rm -rf "$work" && mkdir -p "$work"
command -v srun >/dev/null && command -v slurmd >/dev/null || { echo "slurm: not installed (launch/install-deps.sh --tests)"; exit 77; }
command -v ip >/dev/null && command -v nsenter >/dev/null || { echo "two nodes: ip/nsenter missing (iproute2, util-linux)"; exit 77; }
[ "$(id -u)" = 0 ] || { echo "two nodes: the setup needs root"; exit 77; }
conf=$(bash "$repo/cluster/two-node-slurm.sh" | tail -1) || { echo "two nodes: could not start the two-node Slurm here"; exit 77; }
eval "$conf"  # export SLURM_CONF=...
set -e
fail() { echo "slurm_two_nodes: $*"; exit 1; }
"$finch" synth --out "$work/data" --classes 4 --per-class 20 --size 40 --seed 4 >/dev/null
cd "$work"
# One intra-op thread everywhere: CPU kernels may sum in another order with another thread count,
# and the comparison below is bitwise.
export OMP_NUM_THREADS=1
args=(train --config "$repo/tests/e2e/smoke.json" --set data.root="$work/data" --set model.classes=4 --set train.epochs=2
      --set train.precise_bn_batches=0 --set early_stopping.enabled=false)
node_pid() { cat "/run/slurmd-$1.pid"; }
on_node() { local n=$1; shift; nsenter -t "$(node_pid "$n")" -m -u -n "$@"; }  # a command as seen on node $n

echo "== without a network transport (shared memory only) two nodes cannot talk: MPI must fail"
if OMPI_MCA_btl=self,vader timeout 120 srun -N2 -n2 --mpi=pmix "$finch" "${args[@]}" --set output_dir=/tmp/finch-two-nodes/runs \
    --name shm_only >"$work/shm_only.out" 2>&1; then
  fail "2 ranks on two nodes ran over shared memory alone: they are not on two hosts"
fi
on_node finch-n1 rm -rf /tmp/finch-two-nodes

echo "== srun -N2 -n2 --mpi=pmix finch train"
timeout 300 srun -N2 -n2 --mpi=pmix "$finch" "${args[@]}" --set output_dir=/tmp/finch-two-nodes/runs --name two_nodes \
  >"$work/two_nodes.out" 2>&1 || { tail -30 "$work/two_nodes.out"; fail "the two-node run failed"; }
run=/tmp/finch-two-nodes/runs/two_nodes
on_node finch-n1 test -f "$run/config.json" || fail "rank 0's node has no run directory"
if on_node finch-n2 test -e /tmp/finch-two-nodes; then fail "rank 1 wrote to its node's /tmp: $(on_node finch-n2 find /tmp/finch-two-nodes)"; fi
mkdir -p "$work/two_nodes/checkpoints"
on_node finch-n1 cat "$run/metrics.jsonl" >"$work/two_nodes/metrics.jsonl"
on_node finch-n1 cat "$run/train.log" >"$work/two_nodes/train.log"
latest=$(on_node finch-n1 cat "$run/checkpoints/latest")
on_node finch-n1 cat "$run/checkpoints/$latest/model.safetensors" >"$work/two_nodes/model.safetensors"
on_node finch-n1 rm -rf /tmp/finch-two-nodes
grep "placement:" "$work/two_nodes/train.log"

echo "== the same run, 2 ranks on one node (${mpiexec[*]})"
"${mpiexec[@]}" -n 2 "$finch" "${args[@]}" --set output_dir="$work/runs" --name one_node >"$work/one_node.out" 2>&1 \
  || { tail -30 "$work/one_node.out"; fail "the one-node run failed"; }
one="$work/runs/one_node"
PYTHONPATH="$repo/tests/e2e" /usr/bin/python3 - "$work/two_nodes" "$one" "$one/checkpoints/$(cat "$one/checkpoints/latest")/model.safetensors" <<'PY'
import json, sys
from safetensors_raw import tensors
two, one, one_model = sys.argv[1:4]
recs = lambda d: [json.loads(l) for l in open(d + "/metrics.jsonl")]
start = [r for r in recs(two) if r["kind"] == "start"][0]
assert start["world_size"] == 2 and start["nodes"] == 2, start
assert start["hosts"] == ["finch-n1", "finch-n2"], start["hosts"]
assert start["local_ranks"] == [0, 0], start["local_ranks"]
one_start = [r for r in recs(one) if r["kind"] == "start"][0]
assert one_start["nodes"] == 1 and one_start["local_ranks"] == [0, 1], one_start
a, b = tensors(two + "/model.safetensors"), tensors(one_model)
assert a.keys() == b.keys()
differ = [k for k in a if a[k] != b[k]]
assert not differ, f"{len(differ)} of {len(a)} tensors differ between two nodes and one, e.g. {differ[:3]}"
clock = {"epoch_time_s", "images_per_s", "data_wait_frac", "time", "seconds", "wall_s"}
ep = lambda d: [{k: v for k, v in r.items() if k not in clock} for r in recs(d) if r["kind"] in ("epoch", "test")]
assert ep(two) == ep(one), f"epoch records differ:\n{ep(two)}\n{ep(one)}"
print(f"slurm_two_nodes: ranks on {start['hosts']} with local ranks {start['local_ranks']}; "
      f"{len(a)} tensors and {len(ep(two))} epoch/test records equal to the one-node run")
PY

echo "== sbatch cluster/slurm/finch-multinode.sbatch on the two nodes"
id=$(cd "$repo" && FINCH="$finch" sbatch --parsable --ntasks-per-node=1 --cpus-per-task=1 -o "$work/multinode-%j.out" \
  cluster/slurm/finch-multinode.sbatch tests/e2e/smoke.json "${args[@]:3}" --set output_dir="$work/runs" --name multinode)
for _ in $(seq 300); do
  state=$(scontrol show job "$id" | grep -o "JobState=[A-Z_]*" | cut -d= -f2)
  case "$state" in COMPLETED | FAILED | CANCELLED | TIMEOUT | NODE_FAIL) break ;; esac
  sleep 1
done
cat "$work"/multinode-*.out
[ "$state" = COMPLETED ] || fail "the multi-node batch job ended $state"
grep -q '"nodes":2,"hosts":\["finch-n1","finch-n2"\]' "$work/runs/multinode/metrics.jsonl" || fail "the batch job did not run on both nodes"
"$finch" inspect --checkpoint "$work/runs/multinode" >/dev/null || fail "the batch job's checkpoint does not verify"
echo "slurm_two_nodes: finch-multinode.sbatch completed on finch-n1 and finch-n2"
