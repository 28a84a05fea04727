"""PyTorch eager reference for finch's training step: torchvision EfficientNet-B0 (classes as finch's
run), one resident random batch, the optimizer finch's config names, the same image size, batch
and precision. Prints one JSON line: images/s past warm-up, peak GPU memory (torch's allocator),
losses. The data loader is not in this number: `finch bench step` is the finch side of the same
measurement (launch/compare.sh runs both, alternately). Started by mpirun/srun/torchrun with more
than one rank it is DistributedDataParallel (gloo on the CPU, NCCL on GPUs; torch's defaults: 25 MB
buckets, gradients as bucket views off) and reports the global images/s from rank 0.

  python3 eager_step.py --device cuda --batch 64 --size 224 --steps 60 --amp bf16 --channels-last
  python3 eager_step.py --device cpu --batch 32 --size 224 --steps 10 --warmup 3 --threads 2 --json out.json
"""
import argparse
import contextlib
import json
import statistics
import time

import torch
import torchvision

from ddp_env import ddp_setup


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--arch", default="efficientnet_b0", help="a torchvision EfficientNet (efficientnet_b0 ... b7)")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--classes", type=int, default=200)
    ap.add_argument("--steps", type=int, default=60)
    ap.add_argument("--warmup", type=int, default=10)
    ap.add_argument("--amp", choices=["none", "bf16", "fp16"], default="none")
    ap.add_argument("--channels-last", action="store_true")
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--label", default="")
    ap.add_argument("--threads", type=int, default=0, help="intra-op threads (0: torch's default)")
    ap.add_argument("--json", default="", help="also write the result to this file")
    a = ap.parse_args()
    if a.threads > 0:
        torch.set_num_threads(a.threads)

    torch.manual_seed(0)
    rank, world, local_rank = ddp_setup(a.device)
    dev = torch.device(a.device, local_rank) if a.device == "cuda" else torch.device(a.device)
    model = getattr(torchvision.models, a.arch)(num_classes=a.classes).to(dev)
    fmt = torch.channels_last if a.channels_last else torch.contiguous_format
    model = model.to(memory_format=fmt)
    if world > 1:
        model = torch.nn.parallel.DistributedDataParallel(model, device_ids=[local_rank] if dev.type == "cuda" else None)
    opt = torch.optim.Adam(model.parameters(), lr=a.lr)
    x = torch.randn(a.batch, 3, a.size, a.size, device=dev).contiguous(memory_format=fmt)
    y = torch.randint(0, a.classes, (a.batch,), device=dev)
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(a.amp)
    scaler = torch.amp.GradScaler("cuda", enabled=a.amp == "fp16") if dev.type == "cuda" else None
    model.train()
    losses = []

    def step():
        opt.zero_grad(set_to_none=True)
        # No autocast context at all in fp32: torch 1.13's CPU autocast refuses float32 even disabled.
        with torch.autocast(dev.type, dtype=dtype) if dtype is not None else contextlib.nullcontext():
            loss = torch.nn.functional.cross_entropy(model(x), y)
        if scaler is not None and scaler.is_enabled():
            scaler.scale(loss).backward()
            scaler.step(opt)
            scaler.update()
        else:
            loss.backward()
            opt.step()
        return loss

    for _ in range(a.warmup):
        step()
    if dev.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    t = time.perf_counter()
    ms = []
    for _ in range(a.steps):
        t0 = time.perf_counter()
        losses.append(step().detach())
        if dev.type == "cuda":  # as finch's step ends with a host read of its loss
            losses[-1].item()
        ms.append(1000 * (time.perf_counter() - t0))
    if dev.type == "cuda":
        torch.cuda.synchronize()
    if world > 1:
        torch.distributed.barrier()
    sec = time.perf_counter() - t
    out = {"label": a.label, "torch": torch.__version__, "device": str(dev), "batch": a.batch, "size": a.size, "amp": a.amp,
           "arch": a.arch, "channels_last": a.channels_last, "steps": a.steps, "world_size": world,
           "images_per_s": a.batch * world * a.steps / sec,
           "peak_mem_mib": torch.cuda.max_memory_allocated() / 2**20 if dev.type == "cuda" else None,
           "first_loss": float(losses[0]), "last_loss": float(losses[-1]),
           "impl": "pytorch", "threads": torch.get_num_threads(), "ms_per_step_median": statistics.median(ms)}
    if world > 1:
        torch.distributed.destroy_process_group()
    if rank != 0:
        return
    print(json.dumps(out), flush=True)
    if a.json:
        with open(a.json, "w") as f:
            json.dump(out, f, indent=2)


if __name__ == "__main__":
    main()
