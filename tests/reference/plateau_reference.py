#!/usr/bin/python3
"""Writes PyTorch's own ReduceLROnPlateau decisions for a set of configs and metric sequences, as
JSON, for finch's LrSchedule to be compared against (tests/train/test_schedule.cpp)."""
import json, sys
import torch

sequences = {
    "rising_then_flat": [0.1, 0.2, 0.3, 0.3, 0.3, 0.3, 0.31, 0.3, 0.3, 0.3, 0.3, 0.3, 0.29, 0.3, 0.3],
    "noisy": [0.5, 0.45, 0.52, 0.51, 0.515, 0.52, 0.5205, 0.49, 0.53, 0.53, 0.529, 0.5, 0.5, 0.5, 0.6, 0.6, 0.6, 0.6],
    "falling_loss": [2.0, 1.5, 1.2, 1.19, 1.195, 1.2, 1.1, 1.1, 1.1, 1.1, 1.1, 1.09999, 1.1, 1.1, 1.1, 1.1],
}
configs = []
for mode in ["max", "min"]:
    for threshold_mode in ["rel", "abs"]:
        for patience, cooldown, threshold, factor, min_lr in [(2, 0, 1e-4, 0.1, 0.0), (1, 2, 0.01, 0.5, 0.0),
                                                                (0, 1, 0.0, 0.5, 0.0003), (3, 0, 0.05, 0.2, 0.0)]:
            configs.append(dict(mode=mode, threshold_mode=threshold_mode, patience=patience, cooldown=cooldown,
                                threshold=threshold, factor=factor, min_lr=min_lr))
cases = []
for cfg in configs:
    for name, seq in sequences.items():
        opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.01)
        sch = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, **cfg)
        lrs = []
        for v in seq:
            sch.step(v)
            lrs.append(opt.param_groups[0]["lr"])
        cases.append(dict(config=cfg, sequence=name, metrics=seq, lrs=lrs))
json.dump({"torch": torch.__version__, "base_lr": 0.01, "cases": cases}, open(sys.argv[1], "w"), indent=1)
print(f"{len(cases)} ReduceLROnPlateau cases from torch {torch.__version__}")
