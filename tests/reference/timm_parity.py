#!/usr/bin/env python3
"""finch's timm import against the real timm package (PyPI), not against finch's own name map.

  generate DIR   builds timm efficientnet_b0/b2 (timm.create_model, random weights and random
                 BatchNorm statistics, so eval mode is not a near-identity) and writes to DIR:
                   <arch>.timm.safetensors          its state dict, timm's own names
                   input.safetensors                random input, 2 x 3 x 224 x 224
                   <arch>.expected.safetensors      timm's eval logits
  compare DIR    reads finch's <arch>.logits.safetensors (import-weights --from timm, then forward)
                 and checks max |finch - timm| <= 1e-4.
Exits 77 (skipped) when this Python has no timm.
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
try:
    import timm
except ImportError:
    print(f"{sys.executable} has no timm: skipped (launch/torch2-env.sh installs it)")
    sys.exit(77)
import torch

from torchvision_parity import read_safetensors, write_safetensors

ARCHS = ["efficientnet_b0", "efficientnet_b2"]
TOL = 1e-4


def generate(out):
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(11)
    x = torch.randn(2, 3, 224, 224)
    write_safetensors(out / "input.safetensors", {"input": x})
    for arch in ARCHS:
        torch.manual_seed(100 + ARCHS.index(arch))
        m = timm.create_model(arch, pretrained=False, num_classes=1000)
        with torch.no_grad():
            for mod in m.modules():
                if isinstance(mod, torch.nn.BatchNorm2d):
                    mod.running_mean.uniform_(-0.2, 0.2)
                    mod.running_var.uniform_(0.5, 1.5)
                    mod.weight.uniform_(0.5, 1.5)
                    mod.bias.uniform_(-0.2, 0.2)
        m.eval()
        write_safetensors(out / f"{arch}.timm.safetensors", m.state_dict())
        with torch.no_grad():
            write_safetensors(out / f"{arch}.expected.safetensors", {"logits": m(x)})
    print(f"timm {timm.__version__}, torch {torch.__version__}: wrote {len(ARCHS)} models to {out}")


def compare(out):
    ok = True
    for arch in ARCHS:
        want = read_safetensors(out / f"{arch}.expected.safetensors")["logits"]
        got = read_safetensors(out / f"{arch}.logits.safetensors")["logits"]
        diff = float(abs(got.astype("float64") - want.astype("float64")).max()) if got.shape == want.shape else float("inf")
        print(f"{arch}: logits {list(got.shape)}, max |finch - timm| = {diff:.2e} (tolerance {TOL:g})")
        ok = ok and diff <= TOL
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    {"generate": generate, "compare": compare}[sys.argv[1]](Path(sys.argv[2]))
