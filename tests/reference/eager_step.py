"""PyTorch eager reference for finch's training step: torchvision EfficientNet-B0 (classes as finch's
run), one resident random batch, the optimizer finch's config names, the same image size, batch
and precision. Prints one JSON line: images/s past warm-up, peak GPU memory (torch's allocator),
losses. The data loader is not in this number (finch's figure includes its loader).

  python3 eager_step.py --device cuda --batch 64 --size 224 --steps 60 --amp bf16 --channels-last
"""
import argparse
import json
import time

import torch
import torchvision


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--classes", type=int, default=200)
    ap.add_argument("--steps", type=int, default=60)
    ap.add_argument("--warmup", type=int, default=10)
    ap.add_argument("--amp", choices=["none", "bf16", "fp16"], default="none")
    ap.add_argument("--channels-last", action="store_true")
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--label", default="")
    a = ap.parse_args()

    torch.manual_seed(0)
    dev = torch.device(a.device)
    model = torchvision.models.efficientnet_b0(num_classes=a.classes).to(dev)
    fmt = torch.channels_last if a.channels_last else torch.contiguous_format
    model = model.to(memory_format=fmt)
    opt = torch.optim.Adam(model.parameters(), lr=a.lr)
    x = torch.randn(a.batch, 3, a.size, a.size, device=dev).contiguous(memory_format=fmt)
    y = torch.randint(0, a.classes, (a.batch,), device=dev)
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(a.amp)
    scaler = torch.amp.GradScaler("cuda", enabled=a.amp == "fp16") if dev.type == "cuda" else None
    model.train()
    losses = []

    def step():
        opt.zero_grad(set_to_none=True)
        with torch.autocast(dev.type, dtype=dtype or torch.float32, enabled=dtype is not None):
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
    for _ in range(a.steps):
        losses.append(step().detach())
    if dev.type == "cuda":
        torch.cuda.synchronize()
    sec = time.perf_counter() - t
    out = {"label": a.label, "torch": torch.__version__, "device": str(dev), "batch": a.batch, "size": a.size, "amp": a.amp,
           "channels_last": a.channels_last, "steps": a.steps, "images_per_s": a.batch * a.steps / sec,
           "peak_mem_mib": torch.cuda.max_memory_allocated() / 2**20 if dev.type == "cuda" else None,
           "first_loss": float(losses[0]), "last_loss": float(losses[-1])}
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
