"""Reads a safetensors file with the format's own layout (no torch): for the e2e checks that compare
trained weights bit for bit (compare_runs.py, slurm_two_nodes.sh)."""
import json
import struct


def tensors(path):
    """name -> (dtype, shape, raw bytes) of a safetensors file."""
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    header.pop("__metadata__", None)
    return {k: (v["dtype"], v["shape"], data[v["data_offsets"][0]:v["data_offsets"][1]]) for k, v in header.items()}


def metadata(path):
    """The file's __metadata__ (string -> string), {} when it has none."""
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        return json.loads(f.read(n)).get("__metadata__", {})
