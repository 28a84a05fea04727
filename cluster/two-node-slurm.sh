#!/usr/bin/env bash
# A two-node Slurm cluster on this one machine, for the tests (and for trying multi-node launches
# without a cluster): slurmctld in the host's namespaces, and two slurmd, "finch-n1" and "finch-n2",
# each in its own network and UTS namespace (own hostname, own IP address on a veth pair bridged to
# the host). Tasks started by a slurmd live in its namespaces, so to Open MPI and PMIx they are on
# two different hosts that talk over TCP, as on a real cluster (not shared memory).
# Debian's Slurm is built without --enable-multiple-slurmd, so namespaces are the way to get two
# node daemons on one machine. Separate from cluster/single-node-slurm.sh: its own slurm.conf,
# ports, state and pid files, so both can run at once.
# Use: source the printed line (export SLURM_CONF=...), then srun -N2 ...; run as root.
# Stop: cluster/two-node-slurm.sh --stop
set -euo pipefail
conf_dir=/etc/slurm-finch2n
conf=$conf_dir/slurm.conf
bridge=finchbr0
net=10.77.0
nodes=(finch-n1 finch-n2)

stop() {
  for pidfile in /run/slurmd-finch-n1.pid /run/slurmd-finch-n2.pid /run/slurmctld-finch2n.pid; do
    [ -f "$pidfile" ] && kill "$(cat "$pidfile")" 2>/dev/null || true
    rm -f "$pidfile"
  done
  for n in "${nodes[@]}"; do ip netns del "$n" 2>/dev/null || true; done
  ip link del "$bridge" 2>/dev/null || true
}
if [ "${1:-}" = "--stop" ]; then stop; exit 0; fi

running() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }
# Daemons started by another version of this script are restarted with this one's configuration.
stamp=$(sha1sum "$0" | cut -d' ' -f1)
if [ "$(cat "$conf_dir/started-by" 2>/dev/null)" = "$stamp" ] && running /run/slurmctld-finch2n.pid && running /run/slurmd-finch-n1.pid && running /run/slurmd-finch-n2.pid &&
   SLURM_CONF=$conf sinfo -h -o %T 2>/dev/null | grep -Eq "idle|mixed|allocated"; then
  echo "export SLURM_CONF=$conf"
  exit 0
fi
stop

# munge is shared with the single-node setup: its socket is a file, reachable from every namespace.
mkdir -p /etc/munge /run/munge /var/lib/munge /var/log/munge "$conf_dir" /var/spool/slurmctld-finch2n /var/log/slurm
[ -f /etc/munge/munge.key ] || dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 2>/dev/null
chown -R munge:munge /etc/munge /run/munge /var/lib/munge /var/log/munge 2>/dev/null || true
chmod 400 /etc/munge/munge.key
pgrep munged >/dev/null || runuser -u munge -- munged 2>/dev/null || munged --force

# The network: a bridge on the host (10.77.0.1) and one veth pair per node (10.77.0.11, .12).
ip link add "$bridge" type bridge
ip addr add "$net.1/24" dev "$bridge"
ip link set "$bridge" up
i=0
for n in "${nodes[@]}"; do
  i=$((i + 1))
  ip netns add "$n"
  ip link add "veth-$n" type veth peer name eth0 netns "$n"
  ip link set "veth-$n" master "$bridge" up
  ip netns exec "$n" ip addr add "$net.1$i/24" dev eth0
  ip netns exec "$n" ip link set eth0 up
  ip netns exec "$n" ip link set lo up
done

# One GPU per node as a generic resource backed by a plain file, so that batch scripts asking for GPUs
# (--gpus-per-task) are accepted unchanged; nothing uses a GPU.
mkdir -p /var/lib/finch-fake-gpu && touch /var/lib/finch-fake-gpu/nvidia0
echo "Name=gpu File=/var/lib/finch-fake-gpu/nvidia0" > "$conf_dir/gres.conf"
# Both nodes see the machine's cores (slurmd checks them against the hardware) and half its memory.
cpus=$(nproc)
mem=$(( ($(awk '/MemTotal/ {print int($2/1024)}' /proc/meminfo) - 2048) / 2 ))
cat > "$conf" <<CONF
ClusterName=finch2n
SlurmctldHost=$(hostname -s)($net.1)
SlurmctldPort=6917
SlurmdPort=6918
SlurmctldPidFile=/run/slurmctld-finch2n.pid
SlurmdPidFile=/run/slurmd-%n.pid
SlurmctldLogFile=/var/log/slurm/slurmctld-finch2n.log
SlurmdLogFile=/var/log/slurm/slurmd-%n.log
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=cred_expire=10
GresTypes=gpu
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
StateSaveLocation=/var/spool/slurmctld-finch2n
SlurmdSpoolDir=/var/spool/slurmd-%n
SchedulerType=sched/builtin
SchedulerParameters=sched_interval=5
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
MpiDefault=none
ReturnToService=2
NodeName=finch-n1 NodeAddr=$net.11 NodeHostname=finch-n1 CPUs=$cpus RealMemory=$mem Gres=gpu:1 State=UNKNOWN
NodeName=finch-n2 NodeAddr=$net.12 NodeHostname=finch-n2 CPUs=$cpus RealMemory=$mem Gres=gpu:1 State=UNKNOWN
PartitionName=two Nodes=finch-n1,finch-n2 Default=YES MaxTime=INFINITE State=UP OverSubscribe=FORCE
CONF
SLURM_CONF=$conf slurmctld -f "$conf"
for n in "${nodes[@]}"; do
  mkdir -p "/var/spool/slurmd-$n"
  # Own hostname (UTS namespace) inside the node's network namespace; slurmd daemonizes there.
  # nsenter, not `ip netns exec`: that remounts /sys without the cgroup tree slurmd needs.
  # Own /tmp too (a tmpfs in its own mount namespace), as every real node has: Slurm's PMIx plugin
  # and Open MPI keep per-job directories there under names that would collide between the nodes.
  nsenter --net="/run/netns/$n" unshare --uts --mount sh -c \
    "hostname $n && mount -t tmpfs -o size=1g,mode=1777 tmpfs /tmp && SLURM_CONF=$conf slurmd -f $conf -N $n"
done
for _ in $(seq 40); do
  if [ "$(SLURM_CONF=$conf sinfo -h -N -o %T 2>/dev/null | grep -Ec 'idle|mixed|allocated')" = 2 ]; then
    SLURM_CONF=$conf sinfo -N >&2
    echo "$stamp" >"$conf_dir/started-by"
    echo "export SLURM_CONF=$conf"
    exit 0
  fi
  sleep 1
done
echo "two-node-slurm: the nodes did not come up (logs: /var/log/slurm/*finch*)" >&2
SLURM_CONF=$conf sinfo -N >&2 || true
exit 1
