#!/usr/bin/env bash
# A single-node Slurm on this machine (munge, slurmctld, slurmd; run as root), for the tests and for
# trying `srun --mpi=pmix finch train` without a cluster. Needs the packages of
# `launch/install-deps.sh --tests`. Idempotent: running daemons are left alone.
# It advertises two GPUs as a generic resource (GRES) backed by plain files, so that batch scripts
# asking for GPUs (--gpus-per-task) are accepted unchanged; no GPU is used or needed.
# Stop: cluster/single-node-slurm.sh --stop (cluster/two-node-slurm.sh runs beside it, separately)
set -euo pipefail
ctld_pid=/run/slurmctld-finch1n.pid
slurmd_pid=/run/slurmd-finch1n.pid
if [ "${1:-}" = "--stop" ]; then
  for f in $slurmd_pid $ctld_pid; do [ -f $f ] && kill "$(cat $f)" 2>/dev/null; rm -f $f; done
  exit 0
fi
running() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }
# Daemons started by another version of this script are restarted with this one's configuration.
stamp=$(sha1sum "$0" | cut -d' ' -f1)
if [ "$(cat /etc/slurm/started-by 2>/dev/null)" != "$stamp" ]; then
  for f in $slurmd_pid $ctld_pid; do [ -f $f ] && kill "$(cat $f)" 2>/dev/null; rm -f $f; done
  sleep 1
fi
host=$(hostname -s)
mkdir -p /etc/munge /run/munge /var/lib/munge /var/log/munge /var/spool/slurmctld /var/spool/slurmd /etc/slurm
[ -f /etc/munge/munge.key ] || dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 2>/dev/null
chown -R munge:munge /etc/munge /run/munge /var/lib/munge /var/log/munge 2>/dev/null || true
chmod 400 /etc/munge/munge.key
pgrep munged >/dev/null || runuser -u munge -- munged 2>/dev/null || munged --force
mkdir -p /var/lib/finch-fake-gpu && touch /var/lib/finch-fake-gpu/nvidia0 /var/lib/finch-fake-gpu/nvidia1
echo "Name=gpu File=/var/lib/finch-fake-gpu/nvidia[0-1]" > /etc/slurm/gres.conf
cpus=$(nproc); mem=$(( $(awk '/MemTotal/ {print int($2/1024)}' /proc/meminfo) - 1024 ))
cat > /etc/slurm/slurm.conf <<CONF
ClusterName=finchtest
SlurmctldHost=$host
SlurmUser=root
SlurmdUser=root
SlurmctldPidFile=$ctld_pid
SlurmdPidFile=$slurmd_pid
GresTypes=gpu
AuthType=auth/munge
# Requeued jobs wait one credential lifetime before they may start (default 120 s): short for the tests.
AuthInfo=cred_expire=10
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SchedulerType=sched/builtin
# Look for runnable jobs every 5 s (default 60) so a requeued test job restarts promptly.
SchedulerParameters=sched_interval=5
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
MpiDefault=none
ReturnToService=2
NodeName=$host CPUs=$cpus RealMemory=$mem Gres=gpu:2 State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP OverSubscribe=FORCE
CONF
# Own pid files: the daemons of cluster/two-node-slurm.sh must not count as this cluster's.
running $ctld_pid || slurmctld -f /etc/slurm/slurm.conf
running $slurmd_pid || slurmd -f /etc/slurm/slurm.conf
for _ in $(seq 30); do
  sinfo -h -o %T 2>/dev/null | grep -Eq "idle|mixed|allocated" && { echo "$stamp" >/etc/slurm/started-by; sinfo; exit 0; }
  sleep 1
done
echo "single-node-slurm: the node did not come up" >&2
exit 1
