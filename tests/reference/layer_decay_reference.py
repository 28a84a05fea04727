#!/usr/bin/env python3
"""Writes timm's layer-wise LR decay groups (param_groups_layer_decay over EfficientNet's
group_matcher, as create_optimizer_v2 builds them with layer_decay) for finch's plan_param_groups
to be compared against (tests/train/test_param_groups.cpp, LayerDecayReference). Exit 77 without timm."""
import json
import sys

try:
    import timm
except ImportError:
    print("no timm in this Python: skipped")
    sys.exit(77)
try:
    from timm.optim._param_groups import param_groups_layer_decay  # timm >= 1.0
except ImportError:
    from timm.optim.optim_factory import param_groups_layer_decay

cases = []
for arch in ["efficientnet_b0", "efficientnet_b2"]:
    model = timm.create_model(arch, pretrained=False, num_classes=200)
    name_of = {id(p): n for n, p in model.named_parameters()}
    for layer_decay, weight_decay in [(0.75, 0.05), (0.9, 0.0), (0.5, 1e-4)]:
        groups = param_groups_layer_decay(model, weight_decay=weight_decay, no_weight_decay_list=model.no_weight_decay()
                                          if hasattr(model, "no_weight_decay") else (), layer_decay=layer_decay)
        cases.append(dict(arch=arch, layer_decay=layer_decay, weight_decay=weight_decay,
                          groups=[dict(lr_scale=g["lr_scale"], weight_decay=g["weight_decay"],
                                       params=[name_of[id(p)] for p in g["params"]]) for g in groups]))
json.dump({"timm": timm.__version__, "cases": cases}, open(sys.argv[1], "w"), indent=1)
print(f"{len(cases)} layer-decay groupings from timm {timm.__version__}")
