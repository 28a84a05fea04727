#!/usr/bin/env python3
"""Runs timm's RandomErasing on random normalised images with Python's random draws and the fill
values recorded (every random.random/uniform/randint call and every _get_pixels result in
timm/data/random_erasing.py, in order), and writes them with timm's erased images as JSON, for
finch's plan_erasing/erase_ to replay and be compared against (tests/data/test_random_erasing.cpp,
RandomErasingReference). Exit 77 without timm."""
import json
import random as pyrandom
import sys
import types

import torch

try:
    import timm.data.random_erasing as tre
except ImportError:
    print("no timm in this Python: skipped")
    sys.exit(77)

draws, fills = [], []
rng = pyrandom.Random(0)


def rec(kind, fn):
    def call(*a):
        v = fn(*a)
        draws.append({"kind": kind, "value": v})
        return v
    return call


tre.random = types.SimpleNamespace(random=rec("random", rng.random), uniform=rec("uniform", rng.uniform), randint=rec("randint", rng.randint))
real_get_pixels = tre._get_pixels


def get_pixels(*a, **k):
    t = real_get_pixels(*a, **k)
    fills.append({"shape": list(t.shape), "values": t.reshape(-1).tolist()})
    return t


tre._get_pixels = get_pixels
cases = []
g = torch.Generator().manual_seed(0)
for mode in ("const", "rand", "pixel"):
    for max_count in (1, 3):
        for prob, (h, w), min_area, min_aspect in ((1.0, (24, 24), 0.02, 0.3), (0.6, (17, 13), 0.1, 0.5)):
            for rep in range(3):
                img = torch.randn(3, h, w, generator=g)
                er = tre.RandomErasing(probability=prob, min_area=min_area, max_area=1 / 3, min_aspect=min_aspect, mode=mode,
                                       max_count=max_count, device="cpu")
                draws.clear(), fills.clear()
                out = er(img.clone())
                cases.append({"mode": mode, "max_count": max_count, "prob": prob, "min_area": min_area, "max_area": 1 / 3,
                              "min_aspect": min_aspect, "shape": [3, h, w], "image": img.reshape(-1).tolist(),
                              "draws": list(draws), "fills": list(fills), "erased": out.reshape(-1).tolist()})
json.dump({"cases": cases}, open(sys.argv[1], "w"))
print(f"{len(cases)} images through timm's RandomErasing, {sum(len(c['fills']) for c in cases)} boxes")
