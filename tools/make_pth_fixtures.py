#!/usr/bin/python3
"""Writes the .pth fixtures of tests/test_pth.c into tests/fixtures/pth/
(needs Debian's python3-torch; run with /usr/bin/python3).

  state.pth       torch.save of an OrderedDict: float32/64, float16,
                  bfloat16, int64/32, uint8, bool, 0-d tensors, a transposed
                  (non-contiguous) view, a sliced view with a storage
                  offset, two views sharing one storage, an empty tensor
  state_ref.safetensors
                  the same tensors made contiguous: what the reader must give
  deflated.pth    state.pth re-zipped with deflate (ZIP64 local extra fields)
  zip64.pth       state.pth stored with every size and offset in ZIP64
                  fields and ZIP64 end records
  evil.pth        a pickle whose REDUCE calls posix.system (refused by name)
  legacy.pth      the pre-1.6 format (a bare pickle, refused with a hint)
  features.pth    a bare [3, 4, 5] float32 tensor, as the seed's features_*.pth
  expanded.pth    one float32 element expanded (stride 0) to 100000: a file of
                  about 1 KB whose tensor takes 400000 bytes once gathered
                  (the ANOMALY_MAX_TENSOR_BYTES test of tests/test_limits.sh)
"""
import collections
import json
import os
import struct
import sys
import zipfile
import zlib

import torch

OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tests", "fixtures", "pth")

NAMES = {torch.float32: "F32", torch.float64: "F64", torch.float16: "F16", torch.bfloat16: "BF16",
         torch.int64: "I64", torch.int32: "I32", torch.uint8: "U8", torch.bool: "BOOL"}


def raw_bytes(t):
    t = t.contiguous()
    if t.dtype == torch.bfloat16:
        return t.view(torch.int16).numpy().tobytes()
    return t.numpy().tobytes()


def save_reference(path, sd):
    header, blobs, at = {}, [], 0
    for k, v in sd.items():
        b = raw_bytes(v)
        header[k] = {"dtype": NAMES[v.dtype], "shape": list(v.shape), "data_offsets": [at, at + len(b)]}
        blobs.append(b)
        at += len(b)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


def state():
    g = torch.Generator().manual_seed(13)
    base = torch.randn(4, 6, generator=g)
    shared = torch.arange(12, dtype=torch.float32)
    sd = collections.OrderedDict()
    sd["f32"] = torch.randn(2, 3, generator=g)
    sd["f64"] = torch.randn(3, generator=g, dtype=torch.float64)
    sd["f16"] = torch.randn(4, generator=g).half()
    sd["bf16"] = torch.randn(2, 2, generator=g).bfloat16()
    sd["i64"] = torch.tensor([-5, 0, 1 << 40])
    sd["i32"] = torch.tensor([-7, 123456], dtype=torch.int32)
    sd["u8"] = torch.tensor([0, 1, 255, 7, 9], dtype=torch.uint8)
    sd["bool"] = torch.tensor([True, False, True])
    sd["scalar"] = torch.tensor(2.5)
    sd["bn.num_batches_tracked"] = torch.tensor(17)
    sd["transposed"] = base.t()                     # strides (1, 6)
    sd["sliced"] = base[1:3, 2:5]                   # offset 8, strides (6, 1)
    sd["every_other"] = base[:, ::2]                # strides (6, 2)
    sd["shared.a"] = shared[:6].view(2, 3)          # same storage, offset 0
    sd["shared.b"] = shared[4:].view(2, 4)          # same storage, offset 4
    sd["empty"] = torch.zeros(0, 3)
    return sd


def write_zip64(path, entries):
    """A stored zip whose every size and offset is in ZIP64 fields (local
    and central extra fields, ZIP64 end records), as writers do beyond 4 GiB."""
    out, central = bytearray(), bytearray()
    for name, data in entries:
        n, crc, off = name.encode(), zlib.crc32(data), len(out)
        extra = struct.pack("<HHQQ", 1, 16, len(data), len(data))
        out += struct.pack("<IHHHHHIIIHH", 0x04034b50, 45, 0, 0, 0, 0, crc, 0xffffffff, 0xffffffff,
                           len(n), len(extra)) + n + extra + data
        cextra = struct.pack("<HHQQQ", 1, 24, len(data), len(data), off)
        central += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014b50, 45, 45, 0, 0, 0, 0, crc, 0xffffffff,
                               0xffffffff, len(n), len(cextra), 0, 0, 0, 0, 0xffffffff) + n + cextra
    cd_off, count = len(out), len(entries)
    out += central
    rec = len(out)
    out += struct.pack("<IQHHIIQQQQ", 0x06064b50, 44, 45, 45, 0, 0, count, count, len(central), cd_off)
    out += struct.pack("<IIQI", 0x07064b50, 0, rec, 1)
    out += struct.pack("<IHHHHIIH", 0x06054b50, 0, 0, 0xffff, 0xffff, 0xffffffff, 0xffffffff, 0)
    with open(path, "wb") as f:
        f.write(out)


class Evil:
    def __reduce__(self):
        return (os.system, ("echo this must never run",))


def write_expanded(path):
    torch.save(collections.OrderedDict(w=torch.full((1,), 0.5).expand(100000)), path)
    assert torch.equal(torch.load(path)["w"], torch.full((100000,), 0.5))


def main():
    os.makedirs(OUT, exist_ok=True)
    sd = state()
    torch.save(sd, os.path.join(OUT, "state.pth"))
    save_reference(os.path.join(OUT, "state_ref.safetensors"), sd)
    back = torch.load(os.path.join(OUT, "state.pth"))
    assert all(torch.equal(back[k], v) for k, v in sd.items())
    src = zipfile.ZipFile(os.path.join(OUT, "state.pth"))
    with zipfile.ZipFile(os.path.join(OUT, "deflated.pth"), "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            with dst.open(info.filename, "w", force_zip64=True) as f:
                f.write(src.read(info.filename))
    back = torch.load(os.path.join(OUT, "deflated.pth"))
    assert all(torch.equal(back[k], v) for k, v in sd.items())
    write_zip64(os.path.join(OUT, "zip64.pth"), [(i.filename, src.read(i.filename)) for i in src.infolist()])
    back = torch.load(os.path.join(OUT, "zip64.pth"))
    assert all(torch.equal(back[k], v) for k, v in sd.items())
    torch.save(collections.OrderedDict(w=torch.ones(2), evil=Evil()), os.path.join(OUT, "evil.pth"))
    torch.save(collections.OrderedDict(w=torch.ones(2)), os.path.join(OUT, "legacy.pth"),
               _use_new_zipfile_serialization=False)
    torch.save(torch.arange(60, dtype=torch.float32).reshape(3, 4, 5) / 7, os.path.join(OUT, "features.pth"))
    write_expanded(os.path.join(OUT, "expanded.pth"))
    print(f"wrote {OUT}: state.pth, state_ref.safetensors, deflated.pth, zip64.pth, evil.pth, legacy.pth, "
          "features.pth, expanded.pth")


if __name__ == "__main__":
    main()
