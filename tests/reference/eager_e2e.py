"""PyTorch reference for `finch bench e2e`: real training steps through a torch DataLoader over the
same packed file finch trains on (raw RGB images, read with numpy.memmap), torchvision's train
transform as a PyTorch user writes it (PIL: RandomResizedCrop, RandomHorizontalFlip, ToTensor,
Normalize), DistributedSampler, torchvision's EfficientNet, Adam; DDP when a launcher started
several ranks (ddp_env.py). Prints one JSON line from rank 0: global images/s past warm-up and the
share of step time spent waiting for the next batch (the slowest rank's).

  mpirun -n 2 python3 eager_e2e.py --data .finch-bench/synthetic-200x4-73px.finchpack --batch 16 --size 64 --workers 1
"""
import argparse
import json
import struct
import time

import numpy as np
import torch
import torchvision
from PIL import Image
from torchvision import transforms as T

from ddp_env import ddp_setup


class Packed(torch.utils.data.Dataset):
    """finch's packed file (src/data/packed.h): 'FINCHPK1' | images | JSON index | u64 length | 'FINCHPK1'."""

    def __init__(self, path, transform):
        with open(path, "rb") as f:
            f.seek(-16, 2)
            n = struct.unpack("<Q", f.read(8))[0]
            f.seek(-16 - n, 2)
            index = json.loads(f.read(n))
        if index.get("encoding", "raw") != "raw":
            raise SystemExit(f"{path}: eager_e2e.py reads raw packed files only (pack with encoding raw)")
        self.path, self.transform = path, transform
        self.items = [(e["offset"], e["h"], e["w"], e["label"]) for e in index["images"] if e["train"]]
        self.classes = len(index["classes"])
        self.mm = None

    def __len__(self):
        return len(self.items)

    def __getitem__(self, i):
        if self.mm is None:  # opened in each worker
            self.mm = np.memmap(self.path, dtype=np.uint8, mode="r")
        off, h, w, label = self.items[i]
        img = Image.fromarray(np.asarray(self.mm[off:off + h * w * 3]).reshape(h, w, 3))
        return self.transform(img), label


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--warmup", type=int, default=10)
    ap.add_argument("--workers", type=int, default=4)
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--arch", default="efficientnet_b0", help="a torchvision EfficientNet (efficientnet_b0 ... b7)")
    ap.add_argument("--channels-last", action="store_true", help="NHWC weights and input (torch.channels_last)")
    ap.add_argument("--json", default="")
    a = ap.parse_args()
    if a.threads > 0:
        torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    rank, world, local_rank = ddp_setup(a.device)
    dev = torch.device(a.device, local_rank) if a.device == "cuda" else torch.device(a.device)
    tf = T.Compose([T.RandomResizedCrop(a.size), T.RandomHorizontalFlip(), T.ToTensor(),
                    T.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])])
    ds = Packed(a.data, tf)
    fmt = torch.channels_last if a.channels_last else torch.contiguous_format
    model = getattr(torchvision.models, a.arch)(num_classes=ds.classes).to(dev).to(memory_format=fmt)
    if world > 1:
        model = torch.nn.parallel.DistributedDataParallel(model, device_ids=[local_rank] if dev.type == "cuda" else None)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    sampler = torch.utils.data.distributed.DistributedSampler(ds, world, rank, shuffle=True, drop_last=True)
    loader = torch.utils.data.DataLoader(ds, batch_size=a.batch, sampler=sampler, num_workers=a.workers, drop_last=True,
                                         pin_memory=dev.type == "cuda", persistent_workers=a.workers > 0)
    model.train()
    taken, epoch, wait, busy, measured = 0, 0, 0.0, 0.0, 0
    start = None
    while taken < a.warmup + a.steps:
        sampler.set_epoch(epoch)
        it = iter(loader)
        while taken < a.warmup + a.steps:
            if taken == a.warmup:
                if world > 1:
                    torch.distributed.barrier()
                start = time.perf_counter()
            t0 = time.perf_counter()
            try:
                x, y = next(it)
            except StopIteration:
                break
            t1 = time.perf_counter()
            x, y = x.to(dev, non_blocking=True).contiguous(memory_format=fmt), y.to(dev, non_blocking=True)
            opt.zero_grad(set_to_none=True)
            loss = torch.nn.functional.cross_entropy(model(x), y)
            loss.backward()
            opt.step()
            loss.item()  # as finch's step ends with a host read of its loss
            if taken >= a.warmup:
                wait += t1 - t0
                busy += time.perf_counter() - t0
                measured += 1
            taken += 1
        epoch += 1
    if world > 1:
        torch.distributed.barrier()
    sec = time.perf_counter() - start
    frac = torch.tensor([wait / max(busy, 1e-9)])
    if world > 1:
        torch.distributed.all_reduce(frac, op=torch.distributed.ReduceOp.MAX)
        torch.distributed.destroy_process_group()
    if rank != 0:
        return
    out = {"bench": "e2e", "impl": "pytorch", "torch": torch.__version__, "device": str(dev), "batch_size": a.batch,
           "image_size": a.size, "arch": a.arch, "channels_last": a.channels_last, "world_size": world, "workers": a.workers, "threads": torch.get_num_threads(),
           "steps": measured, "images_per_s": a.batch * world * measured / sec, "data_wait_fraction": float(frac[0])}
    print(json.dumps(out), flush=True)
    if a.json:
        with open(a.json, "w") as f:
            json.dump(out, f, indent=2)


if __name__ == "__main__":
    main()
