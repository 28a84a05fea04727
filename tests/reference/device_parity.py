"""finch's eval-mode logits against torchvision's on one device (the GPU check's correctness stage).

  generate DIR DEVICE   torchvision efficientnet_b0 with random weights and BatchNorm statistics
                        (torchvision_parity.build), a batch of 16 at 224 px; writes DIR/b0.pth,
                        DIR/input.safetensors and torchvision's logits on DEVICE in fp32 (TF32 as
                        PyTorch's defaults leave it) and, on CUDA, under bf16 autocast.
  compare DIR           reads finch's DIR/finch_<precision>.safetensors (finch forward --device ...)
                        and checks: fp32 max|d| / max|ref| <= 2e-3 and the same top-1 everywhere;
                        bf16 <= 5e-2 and top-1 agreement >= 14/16. Prints a table; exit 1 on failure.
"""
import json
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from torchvision_parity import build, read_safetensors, write_safetensors  # noqa: E402

LIMITS = {"fp32": (2e-3, 16), "bf16": (5e-2, 14)}


def generate(out, device):
    out.mkdir(parents=True, exist_ok=True)
    m = build("efficientnet_b0", 7).eval()
    torch.save(m.state_dict(), out / "b0.pth")
    torch.manual_seed(1)
    x = torch.randn(16, 3, 224, 224)
    write_safetensors(out / "input.safetensors", {"input": x})
    dev = torch.device(device)
    m, xd = m.to(dev), x.to(dev)
    ref = {}
    with torch.no_grad():
        ref["fp32"] = m(xd).float().cpu()
        if dev.type == "cuda":
            with torch.autocast("cuda", dtype=torch.bfloat16):
                ref["bf16"] = m(xd).float().cpu()
    write_safetensors(out / "reference.safetensors", ref)
    (out / "precisions.txt").write_text(" ".join(ref) + "\n")
    print(f"torchvision logits on {device} ({', '.join(ref)}) in {out}")


def compare(out):
    ref = read_safetensors(out / "reference.safetensors")
    failed = 0
    print(f"{'precision':<9} {'rel max diff':>12} {'limit':>8} {'top-1 same':>10}")
    for prec, r in ref.items():
        got = read_safetensors(out / f"finch_{prec}.safetensors")["logits"]
        rel = float(np.abs(got - r).max() / max(1e-12, np.abs(r).max()))
        same = int((got.argmax(1) == r.argmax(1)).sum())
        limit, need = LIMITS[prec]
        ok = rel <= limit and same >= need
        failed += not ok
        print(f"{prec:<9} {rel:>12.3e} {limit:>8.0e} {same:>7}/{len(r)}  {'ok' if ok else 'FAIL'}")
        print(json.dumps({"precision": prec, "rel_max_diff": rel, "top1_same": same, "n": len(r), "ok": ok}))
    return 1 if failed else 0


if __name__ == "__main__":
    cmd = sys.argv[1]
    sys.exit(generate(Path(sys.argv[2]), sys.argv[3]) if cmd == "generate" else compare(Path(sys.argv[2])))
