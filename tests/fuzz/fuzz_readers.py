#!/usr/bin/env python3
"""Mutation fuzzing of every reader finch has for files a user or another run hands it, bounded in
time (issue 25). For each reader a valid seed file is made with finch itself (or torch.save), then
mutated at random: bytes flipped, cut, inserted, chunks deleted or repeated, and, where the format
is JSON or framed JSON, values replaced inside the structure (huge and negative numbers, wrong
types, deep nesting, NUL bytes, removed keys) with the framing (lengths, magic) kept right so the
mutation reaches the parser behind it. Each mutant goes through the command that reads it, and
every run must:
  - end by itself within the per-run timeout (no hang),
  - exit 0, 1 or 2 (no signal death: no segfault, no abort, no std::terminate),
  - when it fails, say so in exactly one `finch: error:` line, with no C++ or LibTorch backtrace,
  - leave no output file behind when it failed (import-weights -o).

  fuzz_readers.py FINCH WORK [--seconds S] [--seed N] [--python PY] [--only READER,...]

PY is a Python with torch (for the .pth seeds; without it the two pickle readers are skipped,
said aloud). The time budget is shared equally by the readers; a failure leaves its input under
WORK/failures/ with the command that reproduces it, and the exit code is 1.
"""
import argparse
import json
import os
import random
import shutil
import signal
import struct
import subprocess
import sys
import time
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
INTERESTING_NUMBERS = [0, -1, 1, -2, 2**31 - 1, 2**31, -(2**31), 2**32, 2**53 + 1, 2**63 - 1, -(2**63), 2**64,
                       1e308, -1e308, 1e-320, 0.5, -0.0, 65535, 65536, 178956971]


def interesting_json(rng):
    """A JSON value a careless or hostile hand might leave in a field."""
    pick = rng.randrange(12)
    if pick < 4:
        return rng.choice(INTERESTING_NUMBERS)
    if pick == 4:
        return ""
    if pick == 5:
        return "x" * rng.choice([1, 300, 70000])
    if pick == 6:
        return "a\u0000b"
    if pick == 7:
        return []
    if pick == 8:
        return {}
    if pick == 9:
        return None
    if pick == 10:
        return rng.choice([True, False])
    value = 1
    for _ in range(rng.choice([10, 70, 200])):  # deeper than the 64 levels finch reads
        value = [value]
    return value


def mutate_json(doc, rng):
    """One structural change somewhere inside `doc` (a copy)."""
    doc = json.loads(json.dumps(doc))
    paths = []

    def walk(node, path):
        paths.append(path)
        if isinstance(node, dict):
            for k, v in node.items():
                walk(v, path + [k])
        elif isinstance(node, list):
            for i, v in enumerate(node[:50]):
                walk(v, path + [i])

    walk(doc, [])
    path = rng.choice(paths[1:] or paths)
    if not path:
        return interesting_json(rng)
    parent = doc
    for k in path[:-1]:
        parent = parent[k]
    key = path[-1]
    op = rng.randrange(5)
    if op == 0 and isinstance(parent, dict):
        del parent[key]
    elif op == 1 and isinstance(parent, dict):
        parent[key + rng.choice(["_", "x", ""])] = interesting_json(rng)
    elif op == 2 and isinstance(parent[key], (int, float)) and not isinstance(parent[key], bool):
        parent[key] = rng.choice([-1, 0, parent[key] * 1000003, -parent[key], parent[key] + 1])
    else:
        parent[key] = interesting_json(rng)
    return doc


def mutate_bytes(data, rng, region=None):
    """A byte-level change, inside `region` (start, end) when given."""
    data = bytearray(data)
    lo, hi = region or (0, len(data))
    hi = max(lo + 1, min(hi, len(data)))
    if not data:
        return bytes(rng.randbytes(rng.randrange(1, 64)))
    op = rng.randrange(7)
    at = rng.randrange(lo, hi)
    if op == 0:  # flip a few bits
        for _ in range(rng.randrange(1, 4)):
            data[rng.randrange(lo, hi)] ^= 1 << rng.randrange(8)
    elif op == 1:  # cut
        del data[at:]
    elif op == 2:  # insert random bytes
        data[at:at] = rng.randbytes(rng.randrange(1, 32))
    elif op == 3:  # delete a chunk
        del data[at:at + rng.randrange(1, 256)]
    elif op == 4:  # repeat a chunk
        n = rng.randrange(1, 256)
        data[at:at] = data[at:at + n] * rng.randrange(1, 4)
    elif op == 5:  # an interesting integer, little- or big-endian
        v = rng.choice(INTERESTING_NUMBERS)
        if isinstance(v, int):
            width = rng.choice([1, 2, 4, 8])
            raw = (v % (1 << (8 * width))).to_bytes(width, rng.choice(["little", "big"]))
            data[at:at + width] = raw
    else:  # a byte set to 0x00 or 0xff
        data[at] = rng.choice([0x00, 0xFF, 0x7F, 0x80])
    return bytes(data)


def run_finch(finch, args, timeout):
    proc = subprocess.Popen([finch] + args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        out, _ = proc.communicate(timeout=timeout)
        return proc.returncode, out.decode("utf-8", "replace"), False
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate()
        return None, out.decode("utf-8", "replace"), True


def verdict(rc, out, hung, leftover, report_ok):
    """None when the run behaved, else what went wrong. `report_ok`: `finch dataset`, whose exit 1
    with "usable: NO" and its list of problems is a report, not an error."""
    if hung:
        return "hung (killed after the per-run timeout)"
    if rc < 0:
        return f"killed by signal {-rc} ({signal.Signals(-rc).name})"
    if rc not in (0, 1, 2):
        return f"exit {rc}"
    for sign in ("terminate called", "Exception raised from", "frame #0", "Segmentation fault", "Aborted"):
        if sign in out:
            return f"output holds '{sign}' (a crash or a backtrace)"
    lines = out.rstrip("\n").split("\n")  # lines as a terminal and grep see them
    if rc != 0 and not (report_ok and rc == 1 and "usable: NO" in out and not any(l.startswith("finch: error:") for l in lines)):
        errors = [l for l in lines if l.startswith("finch: error:")]
        if len(errors) != 1:
            return f"exit {rc} with {len(errors)} 'finch: error:' lines"
        if not lines[-1].startswith("finch: error:"):
            return "the error is not the last line (more lines follow it)"
        if "\r" in errors[0]:
            return "the error line holds a carriage return"
        if leftover is not None and leftover.exists():
            return f"failed but left {leftover} behind"
    return None


class Fuzzer:
    def __init__(self, finch, work, seed, per_run_timeout):
        self.finch, self.work, self.rng, self.timeout = finch, work, random.Random(seed), per_run_timeout
        self.failures, self.counts = [], {}

    def check(self, reader, args, inputs, leftover=None, report_ok=False):
        """Runs finch with `args`; on misbehaviour keeps `inputs` (paths) for the reproduction."""
        if leftover is not None and leftover.exists():
            leftover.unlink()
        rc, out, hung = run_finch(self.finch, args, self.timeout)
        self.counts.setdefault(reader, {0: 0, 1: 0, 2: 0, "runs": 0})
        self.counts[reader]["runs"] += 1
        if rc in (0, 1, 2):
            self.counts[reader][rc] += 1
        bad = verdict(rc, out, hung, leftover, report_ok)
        if bad:
            n = len(self.failures)
            keep = self.work / "failures" / f"{reader}-{n}"
            keep.mkdir(parents=True, exist_ok=True)
            for p in inputs:
                if p.is_dir():
                    shutil.copytree(p, keep / p.name, dirs_exist_ok=True)
                else:
                    shutil.copy(p, keep / p.name)
            (keep / "command.txt").write_text(" ".join([self.finch] + args) + "\n\n" + out[-4000:])
            self.failures.append(f"{reader}: {bad}: {' '.join(args)[:300]} (kept in {keep})")
            print(f"FAIL  {reader}: {bad}\n      {' '.join(args)[:300]}\n      {out.strip().splitlines()[-1][:300] if out.strip() else ''}")


# Each reader: setup(fz) -> state; one(fz, state) runs one mutant.

def cmd(fz, *args):
    r = subprocess.run([fz.finch] + list(args), stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    if r.returncode != 0:
        sys.exit(f"fuzz: seed command failed: finch {' '.join(args)}\n{r.stdout.decode()[-2000:]}")


def setup_common(fz):
    """A small synthetic CUB tree, its packed file, a one-epoch run's checkpoint, B0 weights."""
    w = fz.work / "seeds"
    if (w / "done").exists():
        return w
    shutil.rmtree(w, ignore_errors=True)
    w.mkdir(parents=True)
    cmd(fz, "synth", "--out", str(w / "cub"), "--classes", "3", "--per-class", "4", "--size", "40", "--easy")
    cmd(fz, "pack", "--root", str(w / "cub"), "--out", str(w / "data.finchpack"), "--size", "36")
    config = {"model": {"arch": "efficientnet_b0", "dropout": 0.0}, "data": {"image_size": 32, "resize": 32, "val_fraction": 0.0, "workers": 1},
              "train": {"epochs": 1, "batch_size": 4, "precise_bn_batches": 0},
              "optimizer": {"name": "adam", "lr": 0.001}, "early_stopping": {"enabled": False},
              "logging": {"progress": "off"}}
    (w / "config.json").write_text(json.dumps(config, indent=1))
    cmd(fz, "train", "--config", str(w / "config.json"), "--set", f"data.root={w / 'cub'}", "--set", f"output_dir={w / 'runs'}", "--name", "seed")
    ck = sorted((w / "runs" / "seed" / "checkpoints").glob("ckpt-*"))[-1]
    shutil.copytree(ck, w / "checkpoint")
    shutil.copy(ck / "model.safetensors", w / "weights.safetensors")
    (w / "done").write_text("")
    return w


def config_setup(fz):
    w = setup_common(fz)
    return {"doc": json.loads((w / "config.json").read_text()), "root": w / "cub"}


def config_one(fz, st):
    f = fz.work / "mutant_config.json"
    if fz.rng.random() < 0.6:
        text = json.dumps(mutate_json(st["doc"], fz.rng), allow_nan=True)
    else:
        text = mutate_bytes(json.dumps(st["doc"], indent=1).encode(), fz.rng).decode("latin-1")
    f.write_text(text, encoding="latin-1")
    fz.check("config", ["config", "--config", str(f)], [f])


def set_one(fz, st):
    key = fz.rng.choice(["train.epochs", "optimizer.lr", "model.freeze", "data.scale", "model.head.hidden", "name", "data.mean",
                         "scheduler.name", "train.batch_size", "model.classes", "checkpoint.keep_last", "nonexistent.key"])
    value = json.dumps(interesting_json(fz.rng)) if fz.rng.random() < 0.7 else fz.rng.randbytes(fz.rng.randrange(1, 40)).decode("latin-1")
    value = value.replace("\x00", "")  # argv cannot hold NUL
    f = fz.work / "seeds" / "config.json"
    fz.check("--set", ["config", "--config", str(f), "--set", f"{key}={value}"], [f])


def packed_setup(fz):
    w = setup_common(fz)
    data = (w / "data.finchpack").read_bytes()
    hlen = struct.unpack("<Q", data[-16:-8])[0]
    return {"data": data, "hlen": hlen, "index": json.loads(data[-16 - hlen:-16])}


def packed_one(fz, st):
    data, hlen = st["data"], st["hlen"]
    body = data[:-16 - hlen]
    if fz.rng.random() < 0.6:  # a structural change of the index, framing kept
        index = mutate_json(st["index"], fz.rng)
        raw = json.dumps(index, allow_nan=True).encode()
        out = body + raw + struct.pack("<Q", len(raw)) + data[-8:]
    else:
        out = mutate_bytes(data, fz.rng, region=(0, len(data)) if fz.rng.random() < 0.5 else (len(body), len(data)))
    f = fz.work / "mutant.finchpack"
    f.write_bytes(out)
    fz.check("packed", ["dataset", "--root", str(f), "--deep"], [f], report_ok=True)


CUB_FILES = ["images.txt", "image_class_labels.txt", "train_test_split.txt", "classes.txt", "bounding_boxes.txt"]


def cub_setup(fz):
    w = setup_common(fz)
    return {"root": w / "cub", "texts": {n: (w / "cub" / n).read_bytes() for n in CUB_FILES}}


def cub_one(fz, st):
    tree = fz.work / "mutant_cub"
    if not tree.exists():
        shutil.copytree(st["root"], tree)
    for n, t in st["texts"].items():
        (tree / n).write_bytes(t)
    name = fz.rng.choice(CUB_FILES)
    text = st["texts"][name]
    if fz.rng.random() < 0.5:  # a field of a line replaced
        lines = text.decode().splitlines()
        k = fz.rng.randrange(len(lines))
        fields = lines[k].split(" ")
        j = fz.rng.randrange(len(fields))
        fields[j] = str(fz.rng.choice(INTERESTING_NUMBERS + ["nan", "-inf", "../../x", "", "1e999", "0x10", "a b", "\t"]))
        lines[k] = " ".join(fields)
        text = ("\n".join(lines) + "\n").encode()
    else:
        text = mutate_bytes(text, fz.rng)
    (tree / name).write_bytes(text)
    fz.check("cub", ["dataset", "--root", str(tree)], [tree / name], report_ok=True)


def jpeg_setup(fz):
    w = setup_common(fz)
    tree = fz.work / "jpeg_tree"
    shutil.rmtree(tree, ignore_errors=True)
    for cls in ("a", "b"):
        (tree / "train" / cls).mkdir(parents=True)
    jpegs = sorted((w / "cub" / "images").rglob("*.jpg"))
    shutil.copy(jpegs[0], tree / "train" / "a" / "x.jpg")
    shutil.copy(jpegs[1], tree / "train" / "b" / "y.jpg")
    data = jpegs[0].read_bytes()
    sos = data.find(b"\xff\xda")
    return {"tree": tree, "data": data, "headers_end": sos if sos > 0 else len(data)}


def jpeg_one(fz, st):
    target = st["tree"] / "train" / "a" / "x.jpg"
    region = (2, st["headers_end"] + 16) if fz.rng.random() < 0.7 else None  # mostly the headers (SOF, DHT, DQT, SOS)
    target.write_bytes(mutate_bytes(st["data"], fz.rng, region))
    fz.check("jpeg", ["dataset", "--root", str(st["tree"]), "--deep"], [target], report_ok=True)


def safetensors_setup(fz):
    w = setup_common(fz)
    data = (w / "weights.safetensors").read_bytes()
    n = struct.unpack("<Q", data[:8])[0]
    return {"data": data, "n": n, "header": json.loads(data[8:8 + n])}


def safetensors_one(fz, st):
    data, n = st["data"], st["n"]
    if fz.rng.random() < 0.6:
        header = mutate_json(st["header"], fz.rng)
        raw = json.dumps(header, allow_nan=True).encode()
        out = struct.pack("<Q", len(raw)) + raw + data[8 + n:]
    else:
        out = mutate_bytes(data, fz.rng, region=(0, 8 + n) if fz.rng.random() < 0.8 else None)
    f = fz.work / "mutant.safetensors"
    f.write_bytes(out)
    o = fz.work / "mutant_out.safetensors"
    fz.check("safetensors", ["import-weights", "--from", "torchvision", "--arch", "b0", "-i", str(f), "-o", str(o)], [f], leftover=o)


def pth_setup(fz, python, legacy):
    d = fz.work / "pth"
    if not (d / "good_zip.pth").exists():
        r = subprocess.run([python, str(HERE.parent / "io" / "hostile_pth.py"), "generate", str(d)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        if r.returncode != 0:
            return None
    if legacy:
        data = (d / "good_legacy.pth").read_bytes()
        return {"data": data, "pickles_end": 20000}
    with zipfile.ZipFile(d / "good_zip.pth") as z:
        return {"zip": d / "good_zip.pth", "pkl": next(z.read(i) for i in z.infolist() if i.filename.endswith("/data.pkl"))}


def pth_zip_one(fz, st):
    f = fz.work / "mutant_zip.pth"
    pkl = mutate_bytes(st["pkl"], fz.rng)
    with zipfile.ZipFile(st["zip"]) as src, zipfile.ZipFile(f, "w", zipfile.ZIP_STORED) as dst:
        for info in src.infolist():
            dst.writestr(info, pkl if info.filename.endswith("/data.pkl") else src.read(info))
    o = fz.work / "mutant_pth_out.safetensors"
    fz.check("pickle (zip)", ["import-weights", "--from", "torchvision", "--arch", "b0", "-i", str(f), "-o", str(o)], [f], leftover=o)


def pth_legacy_one(fz, st):
    f = fz.work / "mutant_legacy.pth"
    f.write_bytes(mutate_bytes(st["data"], fz.rng, region=(0, st["pickles_end"])))
    o = fz.work / "mutant_pth_out.safetensors"
    fz.check("pickle (legacy)", ["import-weights", "--from", "torchvision", "--arch", "b0", "-i", str(f), "-o", str(o)], [f], leftover=o)


def state_setup(fz):
    w = setup_common(fz)
    return {"ck": w / "checkpoint", "doc": json.loads((w / "checkpoint" / "state.json").read_text())}


def state_one(fz, st):
    ck = fz.work / "mutant_checkpoint"
    if not ck.exists():
        shutil.copytree(st["ck"], ck)
    if fz.rng.random() < 0.7:
        text = json.dumps(mutate_json(st["doc"], fz.rng), allow_nan=True)
    else:
        text = mutate_bytes(json.dumps(st["doc"]).encode(), fz.rng).decode("latin-1")
    (ck / "state.json").write_text(text, encoding="latin-1")
    fz.check("state.json", ["inspect", "--checkpoint", str(ck)], [ck / "state.json"])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("finch")
    ap.add_argument("work", type=Path)
    ap.add_argument("--seconds", type=float, default=float(os.environ.get("FINCH_FUZZ_SECONDS", 160)))
    ap.add_argument("--seed", type=int, default=int(os.environ.get("FINCH_FUZZ_SEED", 25)))
    ap.add_argument("--python", default=os.environ.get("FINCH_REFERENCE_PYTHON", "/usr/bin/python3"))
    ap.add_argument("--only", default="")
    ap.add_argument("--per-run-timeout", type=float, default=30)
    a = ap.parse_args()
    a.work.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(a.work / "failures", ignore_errors=True)
    fz = Fuzzer(str(Path(a.finch).resolve()), a.work.resolve(), a.seed, a.per_run_timeout)
    t0 = time.monotonic()
    readers = [("config", config_setup, config_one), ("--set", config_setup, set_one), ("packed", packed_setup, packed_one),
               ("cub", cub_setup, cub_one), ("jpeg", jpeg_setup, jpeg_one), ("safetensors", safetensors_setup, safetensors_one),
               ("pickle (zip)", lambda f: pth_setup(f, a.python, False), pth_zip_one),
               ("pickle (legacy)", lambda f: pth_setup(f, a.python, True), pth_legacy_one),
               ("state.json", state_setup, state_one)]
    if a.only:
        readers = [r for r in readers if r[0] in a.only.split(",")]
    setup_common(fz)
    budget = max(0.0, a.seconds - (time.monotonic() - t0)) / len(readers)
    skipped = []
    for name, setup, one in readers:
        st = setup(fz)
        if st is None:
            skipped.append(name)
            print(f"skip  {name}: no seed file ({a.python} cannot write torch.save files)")
            continue
        start = time.monotonic()
        while time.monotonic() - start < budget or fz.counts.get(name, {}).get("runs", 0) < 3:
            one(fz, st)
        c = fz.counts[name]
        print(f"{name:16s} {c['runs']:4d} mutants in {time.monotonic() - start:5.1f} s: exit 0 x{c[0]}, 1 x{c[1]}, 2 x{c[2]}")
    total = sum(c["runs"] for c in fz.counts.values())
    print(f"fuzz (seed {a.seed}): {total} mutants across {len(fz.counts)} readers in {time.monotonic() - t0:.0f} s"
          + (f"; skipped: {', '.join(skipped)}" if skipped else ""))
    if fz.failures:
        print(f"fuzz: {len(fz.failures)} misbehaved:\n  " + "\n  ".join(fz.failures))
        sys.exit(1)
    print("fuzz: no crash, no hang, every failure one 'finch: error:' line and nothing left behind")


if __name__ == "__main__":
    main()
