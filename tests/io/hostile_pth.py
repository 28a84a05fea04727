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
                   self_dict_zip.pth                     data.pkl a dict that holds itself under
                                                         'state_dict' (a memo cycle)
                   deep_tuples_zip.pth, deep_legacy.pth  100,000 nested tuples; 100,000 dicts
                                                         each under 'state_dict' of the one
                                                         before, nested through the memo
  compare DIR    finch's import of both good files equals expected.safetensors bit for bit.
"""
import io
import os
import pickletools
import sys
import zipfile
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


def with_data_pkl(good_zip, out, pkl):
    """A copy of the zip archive `good_zip` whose data.pkl is `pkl` (the storages stay)."""
    with zipfile.ZipFile(good_zip) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as dst:
        for info in src.infolist():
            dst.writestr(info, pkl if info.filename.endswith("/data.pkl") else src.read(info))


def memo_chain(n):
    """A pickle (protocol 2) of n dicts, each under the key 'state_dict' of the one before, nested
    through the memo after all are made, so that no dict's depth is known when it is put in its
    holder: only the walk to the state dict meets the depth."""
    ops = [b"\x80\x02"]
    for k in range(n):
        ops.append(b"}r" + k.to_bytes(4, "little") + b"0")  # EMPTY_DICT, LONG_BINPUT k, POP
    for k in range(n - 1):  # dict k['state_dict'] = dict k+1
        ops.append(b"j" + k.to_bytes(4, "little") + b"\x8c\x0astate_dict" + b"j" + (k + 1).to_bytes(4, "little") + b"s0")
    ops.append(b"j" + (0).to_bytes(4, "little") + b".")
    return b"".join(ops)


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
    # The campaign's reproducers (issue 25, #3): each crashed the reader with a stack overflow.
    with_data_pkl(d / "good_zip.pth", d / "self_dict_zip.pth", b"\x80\x02}q\x00X\x0a\x00\x00\x00state_dicth\x00s.")
    with_data_pkl(d / "good_zip.pth", d / "deep_tuples_zip.pth", b"\x80\x02]" + b"\x85" * 100000 + b".")
    f = io.BytesIO(legacy)
    for _ in range(3):
        for _ in pickletools.genops(f):
            pass
    (d / "deep_legacy.pth").write_bytes(legacy[: f.tell()] + memo_chain(100000) + b"\x80\x02].")
    bad = {
        "hostile_zip.pth": "refuses to call posix.system",
        "hostile_legacy.pth": "refuses to call posix.system",
        "truncated_legacy_data.pth": "(truncated?)",
        "truncated_legacy_pickle.pth": "pickle ends early (truncated file?)",
        "lying_legacy_size.pth": f"says {n + 1} elements, the pickle {n}",
        "truncated_zip.pth": "is not a readable torch.save zip archive",
        "not_torch.pth": "is not a torch.save file",
        "self_dict_zip.pth": "holds itself",
        "deep_tuples_zip.pth": "nested more than 64 deep",
        "deep_legacy.pth": "nested more than 64 deep",
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
