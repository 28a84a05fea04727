"""What the model sees in training, finch against torchvision's PIL pipeline, on real photographs,
for the same random draws.

`finch transform --train --seed K` writes each crop and flip it drew (RandomResizedCrop's box in
the photograph's pixels, as torchvision's get_params returns it); torchvision then applies that
very draw as a PyTorch user's pipeline would: PIL.Image.open(path).convert("RGB") ->
F.resized_crop(top, left, height, width, size, BILINEAR, antialias) -> hflip -> ToTensor. Both are
compared in [0, 1] pixel units (finch's normalisation undone). finch runs twice: as configured by
default (a reduced-size JPEG decode where the crop keeps its size in pixels, data.reduced_decode)
and decoding in full, so the table separates the reduced decode's share: decoded in full, finch's
input is torchvision's bit for bit (it resamples as Pillow does).

Usage: train_fidelity.py --finch BIN --photos DIR [--sizes 64,128,224] [--draws 12]
                         [--limit 0.0059] [--json F]
Exit 1 when the mean absolute difference of any photograph and size, over its draws, exceeds
--limit (default 1.5/255) with the default decode, or when any pixel differs at all with the full
decode — by more than one level under Pillow >= 13, which resizes some crops vertically first
(python-pillow/Pillow#9549: when the height shrinks much more than the width; finch keeps the
horizontal-first order of every Pillow before it, Debian's 9.4 included); the table names the
worst case either way.
"""
import argparse
import glob
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch
import PIL
from PIL import Image
from torchvision.transforms import InterpolationMode
from torchvision.transforms import functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "e2e"))
from safetensors_raw import metadata, tensors  # noqa: E402  (the suite's one raw safetensors reader)

MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32).reshape(3, 1, 1)
STD = np.array([0.229, 0.224, 0.225], dtype=np.float32).reshape(3, 1, 1)


def finch_draws(finch, photos, size, seed, config, tmp):
    """finch's train inputs for `photos` (photo k drawn with seed + k) and the plan of each."""
    out = os.path.join(tmp, f"train-{size}-{seed}-{os.path.basename(config or 'default')}.safetensors")
    cmd = [finch, "transform", "--train", "--size", str(size), "--seed", str(seed), "--out", out]
    if config:
        cmd += ["--config", config]
    for p in photos:
        cmd += ["--image", p]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    got, meta = tensors(out), metadata(out)
    res = []
    for k in range(len(photos)):
        dtype, shape, raw = got[f"input.{k}"]
        assert dtype == "F32", (out, dtype)
        plan = dict(kv.split("=") for kv in meta[f"plan.{k}"].split())
        res.append((np.frombuffer(raw, dtype=np.float32).reshape(shape) * STD + MEAN, plan))
    return res


def torchvision_draw(path, size, plan):
    top, left, h, w = (int(float(plan[k])) for k in ("top", "left", "height", "width"))
    with Image.open(path) as im:
        img = im.convert("RGB")
    try:
        x = F.resized_crop(img, top, left, h, w, [size, size], InterpolationMode.BILINEAR, antialias=True)
    except TypeError:  # torchvision < 0.13 has no antialias argument (PIL always antialiases)
        x = F.resized_crop(img, top, left, h, w, [size, size], InterpolationMode.BILINEAR)
    if plan["flip"] == "1":
        x = F.hflip(x)
    return F.to_tensor(x).numpy()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--finch", required=True)
    ap.add_argument("--photos", required=True, help="folder of real photographs (*.jpg)")
    ap.add_argument("--sizes", default="64,128,224")
    ap.add_argument("--draws", type=int, default=12, help="random draws per photograph and size")
    ap.add_argument("--limit", type=float, default=1.5 / 255)
    ap.add_argument("--json")
    a = ap.parse_args()
    photos = sorted(glob.glob(os.path.join(a.photos, "*.jpg")))
    if len(photos) < 3:
        sys.exit(f"train_fidelity: fewer than 3 photographs in {a.photos} (launch/install-deps.sh --tests puts them there)")
    rows, failed = [], []
    pillow_major = int(PIL.__version__.split(".")[0])
    full_max_levels = 1 if pillow_major >= 13 else 0
    with tempfile.TemporaryDirectory() as tmp:
        full = os.path.join(tmp, "full_decode.json")
        with open(full, "w") as f:
            json.dump({"data": {"reduced_decode": False}}, f)
        for size in (int(s) for s in a.sizes.split(",")):
            diffs = {p: {"default": [], "full": []} for p in photos}
            for d in range(a.draws):
                seed = 1000 * d + size
                for mode, config in (("default", None), ("full", full)):
                    for p, (mine, plan) in zip(photos, finch_draws(a.finch, photos, size, seed, config, tmp)):
                        diffs[p][mode].append(np.abs(mine - torchvision_draw(p, size, plan)))
            for p in photos:
                with Image.open(p) as im:
                    w, h = im.size
                row = {"photo": os.path.basename(p), "width": w, "height": h, "size": size, "draws": a.draws}
                for mode in ("default", "full"):
                    dd = np.stack(diffs[p][mode])
                    row[mode] = {"mean_abs_diff": float(dd.mean()), "worst_draw_mean": float(dd.mean(axis=(1, 2, 3)).max()),
                                 "p99_abs_diff": float(np.quantile(dd, 0.99)), "max_abs_diff": float(dd.max())}
                rows.append(row)
                # Compared as floats with finch's normalisation undone: under half a level of 255 is
                # the same uint8 value.
                if row["default"]["mean_abs_diff"] > a.limit or row["full"]["max_abs_diff"] > (full_max_levels + 0.5) / 255:
                    failed.append(row)
    print(f"{'photo':<18} {'W x H':>9} {'size':>5}   {'reduced decode (default)':>27}   {'full decode':>27}   (x 1/255)")
    print(f"{'':<18} {'':>9} {'':>5}   {'mean':>8} {'worst draw':>10} {'p99':>7}   {'mean':>8} {'worst draw':>10} {'p99':>7}")
    for r in rows:
        cells = "   ".join(f"{255 * r[m]['mean_abs_diff']:>8.3f} {255 * r[m]['worst_draw_mean']:>10.3f} {255 * r[m]['p99_abs_diff']:>7.2f}"
                           for m in ("default", "full"))
        print(f"{r['photo']:<18} {r['width']:>4}x{r['height']:<4} {r['size']:>5}   {cells}")
    worst = max(rows, key=lambda r: r["default"]["mean_abs_diff"])
    print(f"worst mean |d| (default decode): {255 * worst['default']['mean_abs_diff']:.3f}/255 ({worst['photo']} at {worst['size']}); "
          f"limit {255 * a.limit:.3f}/255; decoded in full, largest |d| {255 * max(r['full']['max_abs_diff'] for r in rows):.2f}/255 "
          f"(allowed {full_max_levels}: Pillow {PIL.__version__})")
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"torch": torch.__version__, "rows": rows}, f, indent=1)
    if failed:
        for r in failed:
            print(f"FAIL: {r['photo']} at {r['size']}: mean |d| {255 * r['default']['mean_abs_diff']:.3f}/255 (limit "
                  f"{255 * a.limit:.3f}); decoded in full, largest |d| {255 * r['full']['max_abs_diff']:.2f}/255 (allowed {full_max_levels})")
        sys.exit(1)


if __name__ == "__main__":
    main()
