"""Reads a finch run's TensorBoard event files with TensorBoard's own reader and compares every
scalar with metrics.jsonl (issue 28).

What TensorBoard should show is derived from metrics.jsonl alone: each record's numbers (booleans as
0/1, "step" and "time" left out) under <group>/<field> (group "train" for step records, else the
kind), at the record's step (else the last step seen), as float32; a resumed session's start record
(first_step F) drops everything logged at steps >= F before it, as TensorBoard's SessionLog.START
purge does; the last record of a (tag, step) wins. Then a copy of the event files with one CRC byte
flipped must NOT compare equal: TensorBoard's reader stops at a bad record, so a writer with wrong
CRCs would fail this check.

Usage: tensorboard_check.py RUN_DIR     (exit 0: equal; 1: a difference, printed)
"""
import json
import os
import shutil
import struct
import sys
import tempfile

from tensorboard.backend.event_processing import event_accumulator


def f32(v):
    return struct.unpack("<f", struct.pack("<f", float(v)))[0]


def expected(metrics_path):
    want = {}  # tag -> {step: value}
    last_step = 0
    for line in open(metrics_path):
        r = json.loads(line)
        kind = r.get("kind", "")
        if kind == "start":
            if r.get("resumed_from"):
                first = r["first_step"]
                for steps in want.values():
                    for s in [s for s in steps if s >= first]:
                        del steps[s]
                last_step = first - 1
            continue
        if isinstance(r.get("step"), int):
            last_step = r["step"]
        group = "train" if kind == "step" else kind
        for k, v in r.items():
            if k in ("kind", "step", "time") or isinstance(v, (str, list, dict)) or v is None:
                continue
            want.setdefault(f"{group}/{k}", {})[last_step] = f32(1.0 if v is True else 0.0 if v is False else v)
    return {t: sorted(s.items()) for t, s in want.items() if s}


def shown(tb_dir):
    acc = event_accumulator.EventAccumulator(tb_dir, size_guidance={event_accumulator.SCALARS: 0, event_accumulator.TENSORS: 0})
    acc.Reload()
    got = {t: [(e.step, e.value) for e in acc.Scalars(t)] for t in acc.Tags()["scalars"]}
    return got, acc.Tags()["tensors"]


def compare(want, got):
    problems = []
    for tag in sorted(set(want) | set(got)):
        if want.get(tag, []) != got.get(tag, []):
            w, g = want.get(tag, []), got.get(tag, [])
            problems.append(f"{tag}: metrics.jsonl {len(w)} points, TensorBoard {len(g)}; first difference: "
                            f"{next(((a, b) for a, b in zip(w + [None] * len(g), g + [None] * len(w)) if a != b), None)}")
    return problems


def flip_a_crc(tb_dir):
    """Flips one byte of a data CRC in the middle of the oldest event file."""
    path = os.path.join(tb_dir, sorted(f for f in os.listdir(tb_dir) if "tfevents" in f)[0])
    data = bytearray(open(path, "rb").read())
    at, records = 0, []
    while at < len(data):
        n = struct.unpack("<Q", data[at:at + 8])[0]
        records.append(at + 12 + n)  # where this record's data CRC is
        at += 12 + n + 4
    data[records[len(records) // 2]] ^= 0x01
    open(path, "wb").write(bytes(data))


def main():
    run = sys.argv[1]
    tb_dir = os.path.join(run, "tensorboard")
    want = expected(os.path.join(run, "metrics.jsonl"))
    got, tensors = shown(tb_dir)
    problems = compare(want, got)
    if "config" not in tensors:
        problems.append(f"no 'config' text among the tensors {tensors}")
    files = sorted(f for f in os.listdir(tb_dir) if "tfevents" in f)
    points = sum(len(v) for v in want.values())
    print(f"tensorboard_check: {len(files)} event file(s), {len(want)} tags, {points} points")
    for p in problems:
        print("  " + p)
    if problems:
        return 1
    with tempfile.TemporaryDirectory() as tmp:
        bad = os.path.join(tmp, "tensorboard")
        shutil.copytree(tb_dir, bad)
        flip_a_crc(bad)
        if not compare(want, shown(bad)[0]):
            print("tensorboard_check: a flipped CRC byte went unnoticed: this check cannot see a bad CRC")
            return 1
    print("tensorboard_check: every scalar equals metrics.jsonl; a planted bad CRC is seen")
    return 0


if __name__ == "__main__":
    sys.exit(main())
