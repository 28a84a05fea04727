#!/usr/bin/env python3
"""Writes timm's per-update LR sequences (StepLRScheduler, CosineLRScheduler, PolyLRScheduler with
t_in_epochs=False, stepped with step_update as timm's train.py does) and PyTorch's
CosineAnnealingLR stepped once per update, as JSON, for finch's LrSchedule::lr_at_update to be
compared against (tests/train/test_schedule.cpp, StepScheduleReference). Exit 77 without timm."""
import json
import sys
import warnings

import torch

try:
    import timm
    from timm.scheduler import CosineLRScheduler, PolyLRScheduler, StepLRScheduler
except ImportError:
    print("no timm in this Python: skipped")
    sys.exit(77)

warnings.filterwarnings("ignore", message="Detected call of `lr_scheduler.step()` before")  # no optimizer steps here
BASE_LR = 0.01
cases = []


def sequence(make, updates):
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=BASE_LR)
    sch = make(opt)
    lrs = [opt.param_groups[0]["lr"]]  # update 0: the LR the scheduler set at construction
    for u in range(1, updates):
        sch.step_update(num_updates=u)
        lrs.append(opt.param_groups[0]["lr"])
    return lrs


for epochs, per_epoch in [(5, 7), (12, 3)]:
    for warmup_epochs, warmup_lr in [(0, 0.0), (1, 1e-5), (2, 0.0)]:
        for prefix in [False, True]:
            w = warmup_epochs * per_epoch
            common = dict(warmup_t=w, warmup_lr_init=warmup_lr, warmup_prefix=prefix, t_in_epochs=False)
            run = (epochs - (warmup_epochs if prefix else 0)) * per_epoch  # finch's t_initial (schedule.h)
            cfg = dict(epochs=epochs, per_epoch=per_epoch, warmup_epochs=warmup_epochs, warmup_lr=warmup_lr, warmup_prefix=prefix)
            for min_lr in [0.0, 1e-4]:
                cases.append(dict(cfg, name="cosine", min_lr=min_lr,
                                  lrs=sequence(lambda o: CosineLRScheduler(o, t_initial=run, lr_min=min_lr, **common), epochs * per_epoch + 3)))
                for power in [0.5, 1.0, 2.0]:
                    cases.append(dict(cfg, name="poly", min_lr=min_lr, power=power,
                                      lrs=sequence(lambda o: PolyLRScheduler(o, t_initial=run, lr_min=min_lr, power=power, **common),
                                                   epochs * per_epoch + 3)))
            for step_size, gamma in [(1, 0.9), (3, 0.5)]:
                cases.append(dict(cfg, name="step", step_size=step_size, gamma=gamma,
                                  lrs=sequence(lambda o: StepLRScheduler(o, decay_t=step_size * per_epoch, decay_rate=gamma, **common),
                                               epochs * per_epoch)))
    # PyTorch's own cosine, stepped once per update (no warmup).
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=BASE_LR)
    sch = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs * per_epoch, eta_min=1e-4)
    lrs = []
    for u in range(epochs * per_epoch):
        lrs.append(opt.param_groups[0]["lr"])
        sch.step()
    cases.append(dict(name="cosine", source="torch", epochs=epochs, per_epoch=per_epoch, warmup_epochs=0, warmup_lr=0.0,
                      warmup_prefix=False, min_lr=1e-4, lrs=lrs))
json.dump({"timm": timm.__version__, "torch": torch.__version__, "base_lr": BASE_LR, "cases": cases}, open(sys.argv[1], "w"), indent=1)
print(f"{len(cases)} per-update LR sequences from timm {timm.__version__} and torch {torch.__version__}")
