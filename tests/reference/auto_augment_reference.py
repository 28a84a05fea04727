#!/usr/bin/env python3
"""Writes torchvision's automatic augmentation on real photographs, for finch to be compared against
(tests/data/test_auto_augment.cpp, AutoAugmentReference):
  - every op of _apply_op (torchvision's tensor implementation: NEAREST, fill None) at several
    magnitudes of both signs on uint8 crops of the photographs;
  - whole TrivialAugmentWide, RandAugment and AutoAugment(IMAGENET) forwards with every
    torch.randint / torch.rand draw recorded, for finch to replay.
Usage: auto_augment_reference.py PHOTO_DIR OUT_DIR (raw uint8 3 x H x W files and index.json).
Exit 77 without torchvision or without the photographs (launch/fetch-photos.sh)."""
import json
import os
import sys

import torch

try:
    from torchvision.io import decode_jpeg, read_file
    from torchvision.transforms import autoaugment as aa
    from torchvision.transforms import functional as F
except ImportError:
    print("no torchvision in this Python: skipped")
    sys.exit(77)

photos, out = sys.argv[1], sys.argv[2]
names = [n for n in ("grace_hopper.jpg", "china.jpg", "flower.jpg") if os.path.exists(os.path.join(photos, n))]
if not names:
    print(f"no photographs in {photos} (launch/fetch-photos.sh): skipped")
    sys.exit(77)
os.makedirs(out, exist_ok=True)
files = 0


def save(t):
    global files
    name = f"t{files}.u8"
    files += 1
    open(os.path.join(out, name), "wb").write(t.contiguous().numpy().tobytes())
    return name


images = []
for i, n in enumerate(names):
    full = decode_jpeg(read_file(os.path.join(photos, n)))
    h, w = (96, 128) if i % 2 == 0 else (112, 88)  # not square: a swapped height and width shows
    img = F.resize(full, [h, w], antialias=True)
    images.append((n, img))

cases = []
ops = {"Identity": [0.0], "ShearX": [0.3, -0.2, 0.99], "ShearY": [0.3, -0.6], "TranslateX": [14.6, -32.0, 5.0],
       "TranslateY": [20.9, -7.0], "Rotate": [30.0, -13.5, 135.0], "Brightness": [0.9, -0.5], "Color": [0.6, -0.99],
       "Contrast": [0.9, -0.3], "Sharpness": [0.9, -0.7], "Posterize": [4.0, 6.0, 2.0], "Solarize": [255.0, 128.0, 59.5],
       "AutoContrast": [0.0], "Equalize": [0.0], "Invert": [0.0]}
inputs = {}
for n, img in images:
    src = inputs[n] = save(img)
    for op, mags in ops.items():
        for m in mags:
            r = aa._apply_op(img.clone(), op, m, interpolation=F.InterpolationMode.NEAREST, fill=None)
            cases.append({"kind": "op", "photo": n, "shape": list(img.shape), "op": op, "magnitude": m, "input": src, "output": save(r)})

# Whole policies with torchvision's own draws recorded.
draws = []
real_randint, real_rand = torch.randint, torch.rand


def randint(*a, **k):
    v = real_randint(*a, **k)
    draws.extend({"kind": "randint", "n": int(a[0]), "value": int(x)} for x in v.reshape(-1).tolist())
    return v


def rand(*a, **k):
    v = real_rand(*a, **k)
    draws.extend({"kind": "rand", "value": float(x)} for x in v.reshape(-1).tolist())
    return v


policies = {"trivialaugment_wide": lambda: aa.TrivialAugmentWide(), "randaugment": lambda: aa.RandAugment(num_ops=2, magnitude=9),
            "randaugment_m15_ops3": lambda: aa.RandAugment(num_ops=3, magnitude=15),
            "autoaugment_imagenet": lambda: aa.AutoAugment(aa.AutoAugmentPolicy.IMAGENET)}
torch.manual_seed(0)
for pname, make in policies.items():
    for n, img in images:
        for rep in range(8):
            t = make()
            draws.clear()
            torch.randint, torch.rand = randint, rand
            try:
                r = t(img.clone())
            finally:
                torch.randint, torch.rand = real_randint, real_rand
            cases.append({"kind": "policy", "policy": pname, "photo": n, "shape": list(img.shape), "draws": list(draws),
                          "input": inputs[n], "output": save(r)})

json.dump({"torchvision": __import__("torchvision").__version__, "cases": cases}, open(os.path.join(out, "index.json"), "w"))
print(f"{sum(c['kind'] == 'op' for c in cases)} op results and {sum(c['kind'] == 'policy' for c in cases)} policy runs on "
      f"{len(images)} photographs (torchvision {__import__('torchvision').__version__})")
