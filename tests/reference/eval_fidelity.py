"""What the model sees at evaluation, finch against torchvision's PIL pipeline, on real photographs.

torchvision's eval recipe, as a PyTorch user runs it: PIL.Image.open(path).convert("RGB") ->
Resize(resize) (bilinear, antialiased) -> CenterCrop(size) -> ToTensor. finch's is `finch transform`
(the same code as `finch predict`, `finch eval` and validation: a full decode, Pillow's resampling
re-implemented, torchvision's Resize and CenterCrop arithmetic). Both are
compared in [0, 1] pixel units (finch's normalisation undone), per photograph and size.

A fourth input is one of the photographs re-saved with an EXIF orientation tag (6: rotate 90°):
torchvision ignores the tag (PIL's open + convert does not apply it), so finch must too, or the
model would see a rotated bird at evaluation that it never saw the like of in a PyTorch pipeline.

Usage: eval_fidelity.py --finch BIN --photos DIR [--sizes 224:256,...] [--limit 0.00392]
                        [--max-limit 0] [--json F]
Exit 1 when a photograph's mean absolute difference at any size exceeds --limit (default 1/255) or
its largest one exceeds --max-limit (default 0: finch resamples as Pillow does and decodes with
libjpeg-turbo as Pillow does, so the input is torchvision's bit for bit); the table names the
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
from PIL import Image
from torchvision import transforms as T

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "e2e"))
from safetensors_raw import tensors  # noqa: E402  (the suite's one raw safetensors reader)

MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32).reshape(3, 1, 1)
STD = np.array([0.229, 0.224, 0.225], dtype=np.float32).reshape(3, 1, 1)


def read_inputs(path):
    out = {}
    for name, (dtype, shape, raw) in tensors(path).items():
        assert dtype == "F32", (path, name, dtype)
        out[name] = np.frombuffer(raw, dtype=np.float32).reshape(shape)
    return out


def torchvision_input(path, size, resize):
    try:
        resize_t = T.Resize(resize, interpolation=T.InterpolationMode.BILINEAR, antialias=True)
    except TypeError:  # torchvision < 0.13 has no antialias argument (PIL always antialiases)
        resize_t = T.Resize(resize, interpolation=T.InterpolationMode.BILINEAR)
    tf = T.Compose([resize_t, T.CenterCrop(size), T.ToTensor()])
    with Image.open(path) as im:
        return tf(im.convert("RGB")).numpy()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--finch", required=True)
    ap.add_argument("--photos", required=True, help="folder of real photographs (*.jpg)")
    ap.add_argument("--sizes", default="64:73,128:146,224:256,320:366")
    ap.add_argument("--strict", default="", help="sizes whose mean difference must stay within --limit (default: every size)")
    ap.add_argument("--limit", type=float, default=1 / 255)
    ap.add_argument("--max-limit", type=float, default=0.0, help="largest absolute difference allowed (0: bit for bit)")
    ap.add_argument("--json")
    a = ap.parse_args()
    photos = sorted(glob.glob(os.path.join(a.photos, "*.jpg")))
    if len(photos) < 3:
        sys.exit(f"eval_fidelity: fewer than 3 photographs in {a.photos} (launch/install-deps.sh --tests puts them there)")
    strict = set((a.strict or a.sizes).split(","))
    rows, failed = [], []
    with tempfile.TemporaryDirectory() as tmp:
        with Image.open(photos[0]) as im:
            exif = Image.Exif()
            exif[0x0112] = 6  # Orientation: the camera was turned 90 degrees
            rotated = os.path.join(tmp, "exif_orientation_6.jpg")
            im.save(rotated, quality=95, exif=exif.tobytes())
        photos.append(rotated)
        for spec in a.sizes.split(","):
            size, resize = (int(v) for v in spec.split(":"))
            out = os.path.join(tmp, f"{size}.safetensors")
            cmd = [a.finch, "transform", "--size", str(size), "--resize", str(resize), "--out", out]
            for p in photos:
                cmd += ["--image", p]
            subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
            got = read_inputs(out)
            for k, p in enumerate(photos):
                mine = got[f"input.{k}"] * STD + MEAN
                ref = torchvision_input(p, size, resize)
                d = np.abs(mine - ref)
                with Image.open(p) as im:
                    w, h = im.size
                row = {"photo": os.path.basename(p), "width": w, "height": h, "size": size, "resize": resize,
                       "mean_abs_diff": float(d.mean()), "max_abs_diff": float(d.max()),
                       "p99_abs_diff": float(np.quantile(d, 0.99))}
                rows.append(row)
                # Pixels are compared as floats with finch's normalisation undone: a difference
                # under half a level of 255 is the same uint8 value.
                if spec in strict and (row["mean_abs_diff"] > a.limit or row["max_abs_diff"] > a.max_limit + 0.5 / 255):
                    failed.append(row)
    print(f"{'photo':<24} {'W x H':>9} {'size':>9} {'mean |d|':>10} {'p99 |d|':>9} {'max |d|':>9}   (x 1/255)")
    for r in rows:
        print(f"{r['photo']:<24} {r['width']:>4}x{r['height']:<4} {r['size']:>4}/{r['resize']:<4} "
              f"{255 * r['mean_abs_diff']:>10.3f} {255 * r['p99_abs_diff']:>9.2f} {255 * r['max_abs_diff']:>9.2f}")
    worst = max(rows, key=lambda r: r["mean_abs_diff"])
    print(f"worst mean |d|: {255 * worst['mean_abs_diff']:.3f}/255 ({worst['photo']} at {worst['size']}/{worst['resize']}); "
          f"limit {255 * a.limit:.3f}/255 at {','.join(sorted(strict)) or 'no size'}; "
          f"largest |d| anywhere {255 * max(r['max_abs_diff'] for r in rows):.2f}/255, limit {255 * a.max_limit:.2f}/255")
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"torch": torch.__version__, "rows": rows}, f, indent=1)
    if failed:
        for r in failed:
            print(f"FAIL: {r['photo']} at {r['size']}/{r['resize']}: mean |d| {255 * r['mean_abs_diff']:.3f}/255, "
                  f"largest {255 * r['max_abs_diff']:.2f}/255 (limits {255 * a.limit:.3f} and {255 * a.max_limit:.2f})")
        sys.exit(1)


if __name__ == "__main__":
    main()
