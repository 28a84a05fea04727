#!/usr/bin/env python3
"""Runs timm's Mixup on random batches with numpy's draws recorded (every np.random.rand, beta and
randint call timm/data/mixup.py makes, in order) and writes the inputs, the draws and timm's mixed
images and soft targets as JSON, for finch's Mixup to replay the same draws and be compared against
(tests/data/test_mixup.cpp, MixupReference). Exit 77 without timm."""
import json
import sys
import types

import numpy as np
import torch

try:
    import timm.data.mixup as tm
except ImportError:
    print("no timm in this Python: skipped")
    sys.exit(77)

draws = []


def recorded(name, fn):
    def call(*args, **kwargs):
        v = fn(*args, **kwargs)
        draws.append({"kind": name, "value": np.asarray(v).astype(float).reshape(-1).tolist(), "vector": np.ndim(v) > 0})
        return v
    return call


random = types.SimpleNamespace(rand=recorded("uniform", np.random.rand), beta=recorded("beta", np.random.beta),
                               randint=recorded("randint", np.random.randint))
tm.np = types.SimpleNamespace(**{k: getattr(np, k) for k in dir(np) if not k.startswith("__")})
tm.np.random = random

CASES = [
    dict(name="mixup_batch", mixup_alpha=0.8, cutmix_alpha=0.0, mode="batch"),
    dict(name="cutmix_batch", mixup_alpha=0.0, cutmix_alpha=1.0, mode="batch"),
    dict(name="both_batch", mixup_alpha=0.8, cutmix_alpha=1.0, mode="batch", switch_prob=0.5),
    dict(name="minmax_batch", mixup_alpha=0.0, cutmix_alpha=0.0, cutmix_minmax=[0.2, 0.8], mode="batch"),
    dict(name="nocorrect_batch", mixup_alpha=0.0, cutmix_alpha=1.0, mode="batch", correct_lam=False),
    dict(name="both_pair", mixup_alpha=0.4, cutmix_alpha=1.0, mode="pair", prob=0.8),
    dict(name="both_elem", mixup_alpha=0.4, cutmix_alpha=1.0, mode="elem", prob=0.7),
    dict(name="mixup_elem", mixup_alpha=0.2, cutmix_alpha=0.0, mode="elem"),
    dict(name="cutmix_pair_minmax", mixup_alpha=0.0, cutmix_alpha=0.0, cutmix_minmax=[0.3, 0.9], mode="pair"),
]
N, C, H, W, CLASSES, SMOOTHING = 6, 3, 13, 11, 7, 0.1
out = []
g = torch.Generator().manual_seed(0)
for case in CASES:
    for rep in range(4):  # several batches each: lambda, box and the prob/switch draws vary
        np.random.seed(len(out) + 1)
        x = torch.randn(N, C, H, W, generator=g)
        y = torch.randint(0, CLASSES, (N,), generator=g)
        kw = {k: v for k, v in case.items() if k != "name"}
        m = tm.Mixup(label_smoothing=SMOOTHING, num_classes=CLASSES, **kw)
        draws.clear()
        xm, t = m(x.clone(), y.clone())
        out.append({"name": f"{case['name']}/{rep}", "options": kw, "images": x.reshape(-1).tolist(), "labels": y.tolist(),
                    "draws": list(draws), "mixed": xm.reshape(-1).tolist(), "targets": t.reshape(-1).tolist()})

json.dump({"shape": [N, C, H, W], "classes": CLASSES, "label_smoothing": SMOOTHING, "cases": out}, open(sys.argv[1], "w"))
print(f"{len(out)} batches mixed by timm's Mixup, {sum(len(c['draws']) for c in out)} numpy draws recorded")
