"""Compares an uninterrupted run with one that was stopped and resumed (tests/e2e/train_np2.sh).

Usage: compare_runs.py WHOLE CUT STEP EPOCH COMPLETE_AT_CUT
  WHOLE, CUT  run directories; CUT was stopped after global step STEP, its checkpoint there says
              epoch EPOCH (COMPLETE_AT_CUT: 1 when STEP ended that epoch), then resumed to the end.
Checks: the stop checkpoint is where it should be; the final weights (every tensor of the latest
checkpoint's model.safetensors, buffers included, and its ema.safetensors when the runs keep an
EMA) are bitwise equal; every epoch record from the
stop on and the test record are equal except for wall-clock fields.
"""
import json
import os
import sys

whole, cut, step, epoch, complete = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5] == "1"


from safetensors_raw import tensors  # noqa: E402 (this folder is on sys.path: the script's own)


def latest(run):
    d = os.path.join(run, "checkpoints")
    return os.path.join(d, open(os.path.join(d, "latest")).read().strip())


def records(run, kind):
    return [json.loads(l) for l in open(os.path.join(run, "metrics.jsonl")) if f'"kind":"{kind}"' in l]


# The stop: its checkpoint (the first of the cut run at or after STEP) and its exit reason.
ends = records(cut, "end")
assert len(ends) == 2 and ends[0]["reason"].startswith("preempted (") and ends[0]["steps"] == step, ends
starts = records(cut, "start")
assert len(starts) == 2 and starts[1]["resumed_from"], starts
state = json.load(open(os.path.join(starts[1]["resumed_from"], "state.json")))
assert state["global_step"] == step and state["epoch"] == epoch and state["epoch_complete"] == complete, state

files = ["model.safetensors"]
if os.path.exists(os.path.join(latest(whole), "ema.safetensors")):
    files.append("ema.safetensors")
    assert os.path.exists(os.path.join(latest(cut), "ema.safetensors")), "the resumed run's checkpoint lost its EMA"
for f in files:
    a, b = tensors(os.path.join(latest(whole), f)), tensors(os.path.join(latest(cut), f))
    assert a.keys() == b.keys(), (f, set(a) ^ set(b))
    differ = sorted(k for k in a if a[k] != b[k])
    assert not differ, f"{f}: {len(differ)} of {len(a)} tensors differ, e.g. {differ[:5]}"

clock = {"epoch_time_s", "images_per_s", "data_wait_frac", "time", "seconds"}
def strip(r):
    return {k: v for k, v in r.items() if k not in clock}
first = epoch + (1 if complete else 0)   # the first epoch the resumed run trained (or finished)
we = [strip(r) for r in records(whole, "epoch") if r["epoch"] >= first]
ce = [strip(r) for r in records(cut, "epoch") if r["epoch"] >= first]
assert we and we == ce, f"epoch records differ:\n{we}\n{ce}"
wt, ct = records(whole, "test"), records(cut, "test")
assert len(wt) == 1 and [strip(r) for r in wt] == [strip(r) for r in ct], (wt, ct)
wend, cend = records(whole, "end")[-1], ends[-1]
assert wend["steps"] == cend["steps"] and wend["reason"] == cend["reason"], (wend, cend)
print(f"{cut}: stopped after step {step}, resumed: {len(a)} tensors of {' and '.join(files)} bitwise equal, "
      f"{len(we)} epoch records and the test record equal ({wend['steps']} steps, {wend['reason']})")
