#!/usr/bin/env python3
"""Writes the weights of timm's ModelEmaV3 after it was fed a sequence of model states, with
update(model, step=t) at t = 1, 2, ... as timm's train.py calls it after each optimizer update
(only at multiples of `every` for finch's train.ema.every_steps), as JSON, for finch's ModelEma to
be fed the same states and compared against (tests/train/test_model_ema.cpp, EmaReference).
Exit 77 without timm."""
import json
import sys

import torch
from torch import nn

try:
    from timm.utils import ModelEmaV3
except ImportError:
    print("no timm in this Python: skipped")
    sys.exit(77)


class Net(nn.Module):  # the C++ test's NetImpl: the same names
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)
        self.bn = nn.BatchNorm2d(4)
        self.fc = nn.Linear(4, 5)


def random_state(net, g, t):
    state = {}
    for name, v in net.state_dict().items():
        if v.is_floating_point():
            x = torch.randn(v.shape, generator=g)
            state[name] = (x.abs() + 0.1 if name.endswith("running_var") else x).reshape(-1).tolist()
        else:
            state[name] = [t] if v.dim() == 0 else [t] * v.numel()
    return state



cases = []
for name, decay, warmup, every, updates in (("plain", 0.9, False, 1, 30), ("warmup", 0.999, True, 1, 40), ("every3", 0.8, True, 3, 31)):
    g = torch.Generator().manual_seed(len(cases) + 1)
    net = Net()
    states = [random_state(net, g, t) for t in range(updates + 1)]

    def load(s):
        net.load_state_dict({k: torch.tensor(v, dtype=net.state_dict()[k].dtype).reshape(net.state_dict()[k].shape)
                             for k, v in s.items()})

    load(states[0])
    ema = ModelEmaV3(net, decay=decay, use_warmup=warmup)
    for t in range(1, updates + 1):
        load(states[t])
        if t % every == 0:
            ema.update(net, step=t)
    ema_state = {k: v.reshape(-1).tolist() for k, v in ema.module.state_dict().items()}
    cases.append({"name": name, "decay": decay, "warmup": warmup, "every": every, "states": states, "ema": ema_state})

json.dump({"torch": torch.__version__, "cases": cases}, open(sys.argv[1], "w"))
print(f"{len(cases)} EMA sequences from timm's ModelEmaV3 (torch {torch.__version__})")
