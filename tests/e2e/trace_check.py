"""Checks finch's per-rank timelines (Chrome trace-event JSON, Note [The step timeline]).

  trace_check.py bench DIR BENCH_JSON   `finch bench step --trace DIR --json BENCH_JSON` on 2 ranks:
      valid files, every gradient bucket's all-reduce on a thread of its own, and the share of its
      time that overlaps backward (from the spans) within 5 points of the bench's own figure
      (comm_hidden_share, from the gradient synchronizer's clocks), both over the two ranks' time.
  trace_check.py train RUN_DIR RANKS    `finch train --set logging.trace_steps=A:B`: one valid file
      per rank holding the step's spans (and a checkpoint write, which the test puts in the range).
"""
import glob
import json
import os
import sys

STEP_SPANS = {"data wait", "forward", "backward", "gradient all-reduce wait", "host read", "step agreement", "optimizer"}


def load(path, rank):
    doc = json.load(open(path))
    events = doc["traceEvents"]
    assert isinstance(events, list) and events, f"{path}: no traceEvents"
    names = {}
    for e in events:
        assert e["ph"] in ("X", "M"), f"{path}: phase {e['ph']}"
        assert e["pid"] == rank, f"{path}: pid {e['pid']} in rank {rank}'s file"
        assert isinstance(e["tid"], int) and isinstance(e["name"], str) and e["name"], f"{path}: {e}"
        if e["ph"] == "M":
            assert e["name"] in ("process_name", "process_sort_index", "thread_name"), e
            if e["name"] == "thread_name":
                names[e["tid"]] = e["args"]["name"]
        else:
            assert isinstance(e["ts"], int) and e["ts"] >= 0 and isinstance(e["dur"], int) and e["dur"] >= 0, e
            assert isinstance(e["cat"], str), e
    spans = [e for e in events if e["ph"] == "X"]
    for e in spans:
        assert e["tid"] in names, f"{path}: span on an unnamed track {e}"
    return spans, names


def overlap(a0, a1, intervals):
    return sum(max(0, min(a1, b1) - max(a0, b0)) for b0, b1 in intervals)


def hidden_share(spans, names):
    training = [t for t, n in names.items() if n == "training"]
    backward = [(e["ts"], e["ts"] + e["dur"]) for e in spans if e["name"] == "backward"]
    comm = [e for e in spans if e["cat"] == "comm"]
    assert comm, "no all-reduce spans"
    assert all(e["tid"] not in training for e in comm), "the buckets' all-reduce ran on the training thread"
    total = sum(e["dur"] for e in comm)
    hidden = sum(overlap(e["ts"], e["ts"] + e["dur"], backward) for e in comm)
    return hidden, total, len(comm), {names[e["tid"]] for e in comm}


def main():
    mode, where = sys.argv[1], sys.argv[2]
    if mode == "bench":
        bench = json.load(open(sys.argv[3]))
        hidden_all = total_all = 0
        for rank in (0, 1):
            hidden, total, n, threads = hidden_share(*load(os.path.join(where, f"trace-rank{rank}.json"), rank))
            print(f"trace_check: rank {rank}: {n} bucket all-reduces on {sorted(threads)}, {100 * hidden / total:.1f}% of their time during backward")
            hidden_all, total_all = hidden_all + hidden, total_all + total
        # As bench step reports it: 1 - (mean exposed time) / (mean all-reduce time) over the ranks.
        mean = hidden_all / total_all
        want = bench["comm_hidden_share"]
        print(f"trace_check: hidden share from the timeline {100 * mean:.1f}%, bench step's {100 * want:.1f}%")
        if abs(mean - want) > 0.05:
            print("trace_check: they differ by more than 5 points")
            return 1
        return 0
    ranks = int(sys.argv[3])
    files = sorted(glob.glob(os.path.join(where, "trace-rank*.json")))
    assert len(files) == ranks, f"{len(files)} trace files for {ranks} ranks: {files}"
    for rank in range(ranks):
        spans, names = load(os.path.join(where, f"trace-rank{rank}.json"), rank)
        seen = {e["name"] for e in spans}
        missing = STEP_SPANS - seen
        assert not missing, f"rank {rank}: no {sorted(missing)} spans"
        assert "checkpoint write" in seen, f"rank {rank}: no checkpoint write in the traced steps"
        hidden, total, n, threads = hidden_share(spans, names)
        print(f"trace_check: rank {rank}: {len(spans)} spans on {len({e['tid'] for e in spans})} tracks; "
              f"{n} bucket all-reduces on {sorted(threads)}, {100 * hidden / total:.0f}% during backward")
    return 0


if __name__ == "__main__":
    sys.exit(main())
