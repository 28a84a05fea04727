"""Process-group setup for the PyTorch references when a launcher started several ranks: mpirun
(OMPI_COMM_WORLD_*), srun (SLURM_PROCID/NTASKS) or torchrun (RANK/WORLD_SIZE). One node: the
rendezvous is 127.0.0.1:$MASTER_PORT (default 29517) unless MASTER_ADDR says otherwise."""
import os

import torch


def _env(*names, default=None):
    for n in names:
        if n in os.environ:
            return int(os.environ[n])
    return default


def ddp_setup(device):
    """(rank, world, local_rank); initialises torch.distributed (gloo on the CPU, NCCL on CUDA) when world > 1."""
    rank = _env("RANK", "OMPI_COMM_WORLD_RANK", "PMIX_RANK", "SLURM_PROCID", default=0)
    world = _env("WORLD_SIZE", "OMPI_COMM_WORLD_SIZE", "SLURM_NTASKS", default=1)
    local_rank = _env("LOCAL_RANK", "OMPI_COMM_WORLD_LOCAL_RANK", "SLURM_LOCALID", default=0)
    if world > 1:
        os.environ.setdefault("MASTER_ADDR", "127.0.0.1")
        os.environ.setdefault("MASTER_PORT", "29517")
        if device == "cuda":
            torch.cuda.set_device(local_rank)
        torch.distributed.init_process_group("nccl" if device == "cuda" else "gloo", rank=rank, world_size=world)
    return rank, world, local_rank
