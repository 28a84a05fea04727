#!/usr/bin/env bash
# Wraps one rank for the experimental two-ranks-on-one-GPU NCCL run of launch/gpu-check.sh: NCCL
# refuses two ranks of one host on one GPU, so each rank claims its own host id.
export NCCL_HOSTID="finch-rank-${OMPI_COMM_WORLD_RANK:-${PMIX_RANK:-0}}"
exec "$@"
