#!/usr/bin/python3
"""Reference check of finch's EfficientNet against torchvision (Debian's python3-torchvision).

  generate DIR   builds torchvision efficientnet_b0/b2 with random weights (random BatchNorm
                 statistics too, so eval mode is not a near-identity), and writes to DIR:
                   <arch>.pth                 torch.save(state_dict)          -> import --from torchvision
                   <arch>.tv.safetensors      same, torchvision names         -> import --from torchvision
                   <arch>.timm.safetensors    same, timm efficientnet_bN names -> import --from timm
                   input_<size>.safetensors   random input, N x 3 x size x size
                   <arch>_<size>.expected.safetensors   eval logits; BN running stats after one
                                                        train-mode forward (stochastic depth 0)
  compare DIR    reads finch's outputs <arch>_<src>_<size>.{logits,train_state}.safetensors and
                 checks max |finch - torchvision| <= 1e-4 for every tensor; prints a table.

Written with numpy only on the finch side of the format (no safetensors package in Debian 12).
"""
import json
import struct
import sys
from pathlib import Path

import numpy as np
import torch
import torchvision

ARCHS = ["efficientnet_b0", "efficientnet_b2"]
SIZES = [224, 160]
SOURCES = ["pth", "tv", "timm"]
TOL = 1e-4

DTYPES = {"F32": np.float32, "F64": np.float64, "I64": np.int64, "I32": np.int32, "U8": np.uint8, "F16": np.float16}
NAMES = {v: k for k, v in DTYPES.items()}


def write_safetensors(path, tensors):
    header, chunks, offset = {}, [], 0
    for name, t in tensors.items():
        a = np.require(t.detach().cpu().numpy(), requirements="C")  # keeps 0-d shapes (ascontiguousarray does not)
        header[name] = {"dtype": NAMES[a.dtype.type], "shape": list(a.shape), "data_offsets": [offset, offset + a.nbytes]}
        chunks.append(a.tobytes())
        offset += a.nbytes
    h = json.dumps(header).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    Path(path).write_bytes(struct.pack("<Q", len(h)) + h + b"".join(chunks))


def read_safetensors(path):
    raw = Path(path).read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    out = {}
    for name, e in header.items():
        if name == "__metadata__":
            continue
        b, end = e["data_offsets"]
        out[name] = np.frombuffer(raw[8 + n + b:8 + n + end], dtype=DTYPES[e["dtype"]]).reshape(e["shape"])
    return out


def timm_name(tv):
    """torchvision -> timm efficientnet_bN name (the inverse of finch's src/io/timm_names.cpp)."""
    p = tv.split(".")
    if p[0] == "classifier":
        return "classifier." + p[2]
    if p[0] == "features":
        f = int(p[1])
        if f == 0:
            return ("conv_stem." if p[2] == "0" else "bn1.") + p[3]
        if f == 8:
            return ("conv_head." if p[2] == "0" else "bn2.") + p[3]
        stage, blk, rest = f - 1, p[2], p[4:]
        ds = {("0", "0"): "conv_dw", ("0", "1"): "bn1", ("1", "fc1"): "se.conv_reduce", ("1", "fc2"): "se.conv_expand",
              ("2", "0"): "conv_pw", ("2", "1"): "bn2"}
        ir = {("0", "0"): "conv_pw", ("0", "1"): "bn1", ("1", "0"): "conv_dw", ("1", "1"): "bn2",
              ("2", "fc1"): "se.conv_reduce", ("2", "fc2"): "se.conv_expand", ("3", "0"): "conv_pwl", ("3", "1"): "bn3"}
        layer = (ds if stage == 0 else ir)[(rest[0], rest[1])]
        return f"blocks.{stage}.{blk}.{layer}.{rest[2]}"
    raise ValueError(tv)


def randomize_batchnorm(m):
    """Random BatchNorm affine parameters and statistics, so that eval mode is not a near-identity."""
    with torch.no_grad():
        for mod in m.modules():
            if isinstance(mod, torch.nn.BatchNorm2d):
                mod.weight.uniform_(0.5, 1.5)
                mod.bias.uniform_(-0.2, 0.2)
                mod.running_mean.uniform_(-0.2, 0.2)
                mod.running_var.uniform_(0.5, 1.5)
    return m


def build(arch, seed):
    torch.manual_seed(seed)
    return randomize_batchnorm(getattr(torchvision.models, arch)(stochastic_depth_prob=0.0))


def generate(out):
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    for size in SIZES:
        write_safetensors(out / f"input_{size}.safetensors", {"input": torch.randn(2, 3, size, size)})
    for i, arch in enumerate(ARCHS):
        m = build(arch, 100 + i)
        sd = m.state_dict()
        torch.save(sd, out / f"{arch}.pth")
        write_safetensors(out / f"{arch}.tv.safetensors", sd)
        write_safetensors(out / f"{arch}.timm.safetensors", {timm_name(k): v for k, v in sd.items()})
        for size in SIZES:
            x = torch.from_numpy(read_safetensors(out / f"input_{size}.safetensors")["input"].copy())
            expected = {}
            m.eval()
            with torch.no_grad():
                expected["logits"] = m(x)
            t = build(arch, 100 + i)
            t.train()
            with torch.no_grad():
                t(x)
            for k, v in t.state_dict().items():
                if k.endswith("running_mean") or k.endswith("running_var"):
                    expected["state." + k] = v
            write_safetensors(out / f"{arch}_{size}.expected.safetensors", expected)
    print(f"generated torchvision {torchvision.__version__} references in {out}")


def compare(out):
    failures, rows = 0, []
    for arch in ARCHS:
        for size in SIZES:
            exp = read_safetensors(out / f"{arch}_{size}.expected.safetensors")
            for src in SOURCES:
                got = read_safetensors(out / f"{arch}_{src}_{size}.logits.safetensors")["logits"]
                d = float(np.abs(got - exp["logits"]).max())
                rows.append((arch, src, size, "eval logits", d))
            state = read_safetensors(out / f"{arch}_{size}.train_state.safetensors")
            keys = [k[len("state."):] for k in exp if k.startswith("state.")]
            d = max(float(np.abs(state[k] - exp["state." + k]).max()) for k in keys)
            rows.append((arch, "pth", size, f"train-mode BN stats ({len(keys)})", d))
    print(f"{'arch':<16} {'weights':<8} {'size':>4}  {'quantity':<26} {'max abs diff':>12}")
    for arch, src, size, what, d in rows:
        ok = d <= TOL
        failures += not ok
        print(f"{arch:<16} {src:<8} {size:>4}  {what:<26} {d:>12.3e} {'ok' if ok else 'FAIL'}")
    print(f"parity: {len(rows) - failures} passed, {failures} failed (tolerance {TOL})")
    return 1 if failures else 0


if __name__ == "__main__":
    cmd, d = sys.argv[1], Path(sys.argv[2])
    sys.exit(generate(d) if cmd == "generate" else compare(d))
