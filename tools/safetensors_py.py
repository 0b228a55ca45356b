"""Minimal safetensors reader/writer on NumPy arrays (no third-party package).

Format: 8-byte little-endian header length, a JSON header mapping each
tensor name to {"dtype", "shape", "data_offsets": [begin, end]} (offsets
relative to the byte after the header) plus an optional "__metadata__"
object of string values, then the raw little-endian tensor bytes.
"""
import json
import os
import struct

import numpy as np

_DTYPES = {
    "F32": np.dtype("<f4"), "F64": np.dtype("<f8"), "F16": np.dtype("<f2"),
    "I64": np.dtype("<i8"), "I32": np.dtype("<i4"), "I16": np.dtype("<i2"),
    "I8": np.dtype("i1"), "U8": np.dtype("u1"), "BOOL": np.dtype("?"),
}
_NAMES = {v: k for k, v in _DTYPES.items()}


def save(path, tensors, metadata=None):
    """Writes {name: ndarray} atomically, tensors in the given order."""
    header, blobs, offset = {}, [], 0
    # anomaly's CRC-32 entries describe the file they were read from; carried
    # into a file with other bytes they would mark it corrupt, so drop them
    # (a file without them loads unchecked).
    metadata = {k: v for k, v in (metadata or {}).items() if not str(k).startswith("anomaly.crc32")}
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    for name, arr in tensors.items():
        arr = np.asarray(arr)
        if not arr.flags.c_contiguous:  # (ascontiguousarray would make 0-d arrays 1-d)
            arr = arr.copy(order="C")
        dt = arr.dtype.newbyteorder("<") if arr.dtype.byteorder == ">" else arr.dtype
        if dt not in _NAMES:
            raise ValueError(f"{name}: unsupported dtype {arr.dtype}")
        data = arr.astype(dt, copy=False).tobytes()
        header[name] = {"dtype": _NAMES[dt], "shape": list(arr.shape),
                        "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    hdr = json.dumps(header, separators=(",", ":")).encode()
    hdr += b" " * (-len(hdr) % 8)  # keep the data 8-byte aligned
    tmp = f"{path}.tmp.{os.getpid()}"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(hdr)))
        f.write(hdr)
        for b in blobs:
            f.write(b)
    os.replace(tmp, path)


def load(path):
    """Returns ({name: ndarray}, metadata dict) in file order."""
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    meta = header.pop("__metadata__", {}) or {}
    base = 8 + n
    out = {}
    for name, info in header.items():
        b, e = info["data_offsets"]
        dt = _DTYPES[info["dtype"]]
        out[name] = np.frombuffer(raw[base + b:base + e], dtype=dt).reshape(info["shape"]).copy()
    return out, meta
