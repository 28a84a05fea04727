#!/usr/bin/env python3
"""finch's timm import against the real timm package (PyPI), not against finch's own name map.

  generate DIR   builds timm's efficientnet_b0/b2 (PyTorch padding) and its TensorFlow ports
                 tf_efficientnet_b0 and tf_efficientnet_lite0 ("same" padding, BatchNorm eps 1e-3;
                 the Lite without SE, ReLU6) with timm.create_model, random weights and random
                 BatchNorm statistics (so eval mode is not a near-identity), and writes to DIR:
                   <name>.timm.safetensors          its state dict, timm's own names
                   <name>.input.safetensors         random input, 2 x 3 x S x S (225 for the TF ports:
                                                    an odd size, where TF padding is asymmetric)
                   <name>.expected.safetensors      timm's eval logits
  list           prints "<name> <finch arch> <import-weights --from>" per model
  compare DIR    reads finch's <name>.logits.safetensors (import-weights, then forward)
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

from torchvision_parity import randomize_batchnorm, read_safetensors, write_safetensors

# timm name, finch arch, import-weights --from, input size
MODELS = [("efficientnet_b0", "efficientnet_b0", "timm", 224), ("efficientnet_b2", "efficientnet_b2", "timm", 224),
          ("tf_efficientnet_b0", "efficientnet_b0", "timm-tf", 225),
          ("tf_efficientnet_lite0", "efficientnet_lite0", "timm-tf", 225)]
TOL = 1e-4


def generate(out):
    out.mkdir(parents=True, exist_ok=True)
    for k, (arch, _, _, size) in enumerate(MODELS):
        torch.manual_seed(11)
        x = torch.randn(2, 3, size, size)
        write_safetensors(out / f"{arch}.input.safetensors", {"input": x})
        torch.manual_seed(100 + k)
        m = randomize_batchnorm(timm.create_model(arch, pretrained=False, num_classes=1000))
        m.eval()
        write_safetensors(out / f"{arch}.timm.safetensors", m.state_dict())
        with torch.no_grad():
            write_safetensors(out / f"{arch}.expected.safetensors", {"logits": m(x)})
    print(f"timm {timm.__version__}, torch {torch.__version__}: wrote {len(MODELS)} models to {out}")


def list_models(_):
    for arch, finch_arch, source, _ in MODELS:
        print(arch, finch_arch, source)


def compare(out):
    ok = True
    for arch, _, _, _ in MODELS:
        want = read_safetensors(out / f"{arch}.expected.safetensors")["logits"]
        got = read_safetensors(out / f"{arch}.logits.safetensors")["logits"]
        diff = float(abs(got.astype("float64") - want.astype("float64")).max()) if got.shape == want.shape else float("inf")
        print(f"{arch}: logits {list(got.shape)}, max |finch - timm| = {diff:.2e} (tolerance {TOL:g})")
        ok = ok and diff <= TOL
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    {"generate": generate, "compare": compare, "list": list_models}[sys.argv[1]](Path(sys.argv[2] if len(sys.argv) > 2 else "."))
