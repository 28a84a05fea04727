#!/usr/bin/env bash
# A single-node Slurm on this machine (munge, slurmctld, slurmd; run as root), for the tests and for
# trying `srun --mpi=pmix finch train` without a cluster. Needs the packages of
# `launch/install-deps.sh --tests`. Idempotent: running daemons are left alone.
# Stop: pkill slurmd; pkill slurmctld; pkill munged
set -euo pipefail
host=$(hostname -s)
mkdir -p /etc/munge /run/munge /var/lib/munge /var/log/munge /var/spool/slurmctld /var/spool/slurmd /etc/slurm
[ -f /etc/munge/munge.key ] || dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 2>/dev/null
chown -R munge:munge /etc/munge /run/munge /var/lib/munge /var/log/munge 2>/dev/null || true
chmod 400 /etc/munge/munge.key
pgrep munged >/dev/null || runuser -u munge -- munged 2>/dev/null || munged --force
cpus=$(nproc); mem=$(( $(awk '/MemTotal/ {print int($2/1024)}' /proc/meminfo) - 1024 ))
cat > /etc/slurm/slurm.conf <<CONF
ClusterName=finchtest
SlurmctldHost=$host
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SchedulerType=sched/builtin
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
MpiDefault=none
ReturnToService=2
NodeName=$host CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP OverSubscribe=FORCE
CONF
pgrep slurmctld >/dev/null || slurmctld
pgrep slurmd >/dev/null || slurmd
for _ in $(seq 30); do
  sinfo -h -o %T 2>/dev/null | grep -Eq "idle|mixed|allocated" && { sinfo; exit 0; }
  sleep 1
done
echo "single-node-slurm: the node did not come up" >&2
exit 1
