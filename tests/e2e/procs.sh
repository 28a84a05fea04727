# Sourced by the e2e fault tests: finding one rank's process of one run.
# rank_pid NAME R [FINCH]: the pid of rank R of the running `finch train ... --name NAME` (its
# OMPI_COMM_WORLD_RANK under mpirun, SLURM_PROCID under srun); only that run's ranks match, never a
# concurrent test's.
rank_pid() {
  local p
  for p in $(pgrep -f "${3:-$finch} train .*--name $1( |$)"); do
    if tr '\0' '\n' 2>/dev/null <"/proc/$p/environ" | grep -Eqx "(OMPI_COMM_WORLD_RANK|SLURM_PROCID)=$2"; then echo "$p"; return; fi
  done
}
