#!/usr/bin/env python3
"""torch.save files, good and bad, for finch's .pth reader (tests/io/hostile_pth.sh).

  generate DIR   writes, from a torchvision efficientnet_b0 state dict with random weights:
                   good_zip.pth, good_legacy.pth   torch.save in both formats (legacy:
                                                   _use_new_zipfile_serialization=False)
                   expected.safetensors            the state dict itself
                 and the bad ones, each with the fragment finch's one-line error must contain
                 (DIR/bad.txt: "file<TAB>fragment"):
                   hostile_zip.pth, hostile_legacy.pth   a pickle that calls os.system (would
                                                         touch DIR/pwned): refused, nothing runs
                   truncated_legacy_data.pth             the file cut inside a storage's bytes
                   truncated_legacy_pickle.pth           cut inside the state dict's pickle
                   lying_legacy_size.pth                 a storage's element count altered
                   truncated_zip.pth                     a zip archive cut in half
                   not_torch.pth                         a text file
  compare DIR    finch's import of both good files equals expected.safetensors bit for bit.
"""
import io
import os
import pickletools
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "reference"))
import torch
import torchvision

from torchvision_parity import read_safetensors, write_safetensors


class Evil:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def generate(d):
    d.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(3)
    sd = torchvision.models.efficientnet_b0().state_dict()
    write_safetensors(d / "expected.safetensors", sd)
    torch.save(sd, d / "good_zip.pth")
    torch.save(sd, d / "good_legacy.pth", _use_new_zipfile_serialization=False)
    marker = d / "pwned"
    torch.save({"state_dict": Evil(marker)}, d / "hostile_zip.pth")
    torch.save(Evil(marker), d / "hostile_legacy.pth", _use_new_zipfile_serialization=False)
    legacy = (d / "good_legacy.pth").read_bytes()
    (d / "truncated_legacy_data.pth").write_bytes(legacy[: len(legacy) - 1000])
    (d / "truncated_legacy_pickle.pth").write_bytes(legacy[:4000])
    # The first storage's int64 element count follows the five pickles; add one to it.
    lying = bytearray(legacy)
    f = io.BytesIO(legacy)
    for _ in range(5):  # magic, protocol, sys_info, the object, the key list: read past, nothing built
        for _ in pickletools.genops(f):
            pass
    pos = f.tell()
    n = int.from_bytes(lying[pos:pos + 8], "little")
    lying[pos:pos + 8] = (n + 1).to_bytes(8, "little")
    (d / "lying_legacy_size.pth").write_bytes(bytes(lying))
    z = (d / "good_zip.pth").read_bytes()
    (d / "truncated_zip.pth").write_bytes(z[: len(z) // 2])
    (d / "not_torch.pth").write_text("this is not a torch.save file\n")
    bad = {
        "hostile_zip.pth": "refuses to call posix.system",
        "hostile_legacy.pth": "refuses to call posix.system",
        "truncated_legacy_data.pth": "(truncated?)",
        "truncated_legacy_pickle.pth": "pickle ends early (truncated file?)",
        "lying_legacy_size.pth": f"says {n + 1} elements, the pickle {n}",
        "truncated_zip.pth": "is not a readable torch.save zip archive",
        "not_torch.pth": "is not a torch.save file",
    }
    (d / "bad.txt").write_text("".join(f"{k}\t{v}\n" for k, v in bad.items()))
    print(f"torch {torch.__version__}: wrote 2 good and {len(bad)} bad files to {d}")


def compare(d):
    want = read_safetensors(d / "expected.safetensors")
    ok = True
    for name in ("good_zip", "good_legacy"):
        got = read_safetensors(d / f"{name}.safetensors")
        same = set(got) == set(want) and all(got[k].shape == want[k].shape and (got[k] == want[k]).all() for k in want)
        print(f"{name}.pth: {len(got)} tensors, {'bit for bit' if same else 'DIFFERENT from'} the state dict")
        ok = ok and same
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    {"generate": generate, "compare": compare}[sys.argv[1]](Path(sys.argv[2]))
