#!/usr/bin/python3
"""Writes the seed corpora of tests/fuzz/corpus/NAME/ (small valid files of
each format, made with NumPy, OpenCV and zlib, plus copies of the small test
fixtures). Run from the repository root: /usr/bin/python3 tests/fuzz/make_seeds.py
Crash inputs found by a campaign are added by hand as corpus/NAME/crash-*."""
import gzip
import io
import os
import struct
import zlib

import cv2
import numpy as np

root = "tests/fuzz/corpus"


def put(name, file, data):
    os.makedirs(os.path.join(root, name), exist_ok=True)
    with open(os.path.join(root, name, file), "wb") as f:
        f.write(data)


def copy(name, src):
    put(name, os.path.basename(src), open(src, "rb").read())


def npy_bytes(arr, **kw):
    b = io.BytesIO()
    np.save(b, arr, **kw)
    return b.getvalue()


# csv
put("csv", "train_df.csv", b",file_name,class,state,label\n0,10000.png,transistor,good,transistor-good\n"
    b"1,10001.png,capsule,squeeze,capsule-squeeze\n")
put("csv", "quoted.csv", b'\xef\xbb\xbfindex,label\r\n0,"a,b"\r\n1,"say ""hi"""\r\n\r\n2,"multi\nline"\r\n')
put("csv", "cr_only.csv", b"a,b\r1,2\r3,4")

# npy
for f in sorted(os.listdir("tests/fixtures/io")):
    if f.endswith(".npy"):
        copy("npy", os.path.join("tests/fixtures/io", f))
put("npy", "f4_empty.npy", npy_bytes(np.zeros((0, 3), np.float32)))

# fold files: the original's pickled object array, and the plain forms
rng = np.random.default_rng(1)
idx = rng.permutation(12)
folds = np.empty((3, 2), dtype=object)
for k in range(3):
    val = np.sort(idx[k * 4:(k + 1) * 4])
    folds[k, 0] = np.setdiff1d(np.arange(12), val)
    folds[k, 1] = val
pickled = npy_bytes(folds, allow_pickle=True)
put("folds", "3-Fold_idx.npy", pickled)
put("folds", "per_sample.npy", npy_bytes(np.arange(12, dtype=np.int64) % 3))
put("folds", "k2m.npy", npy_bytes(np.stack([np.stack([folds[k, 0][:4], folds[k, 1]]) for k in range(3)])))
hlen = struct.unpack("<H", pickled[8:10])[0]
put("pickle", "folds.pkl", pickled[10 + hlen:])

# safetensors (and their JSON headers)
for f in ("py_writer.safetensors", "torch_state.safetensors"):
    data = open(os.path.join("tests/fixtures/io", f), "rb").read()
    put("safetensors", f, data)
    n = struct.unpack("<Q", data[:8])[0]
    put("json", f.replace(".safetensors", ".json"), data[8:8 + n])
put("json", "escapes.json", '{"a":"\\u00e9\\ud83d\\ude00\\n","b":[1,-2.5e-3,true,false,null],"c":{}}'.encode())

# recipe
put("recipe", "winners.recipe", open("data/recipes/winners.recipe", "rb").read())
put("recipe", "small.recipe", b"labels d/train_df.csv\nrows d/sample_submission.csv\n"
    b"let f = load(\"a b/f(1).npy\")\nlet final = decode(mean(keep(f, [0])))\n"
    b"set final = vote(one.csv, quirk) where class(final) == bottle and state(final) != good\n"
    b"write final to sub.csv\n")

# inflate: raw DEFLATE (stored, fixed, dynamic) and gzip
text = b"anomaly " * 40 + bytes(range(256))
for level, name in ((0, "stored"), (1, "fast"), (9, "best")):
    c = zlib.compressobj(level, zlib.DEFLATED, -15)
    put("inflate", name + ".deflate", c.compress(text) + c.flush())
put("inflate", "two_members.gz", gzip.compress(b"idx", mtime=0) + gzip.compress(text[:100], mtime=0))

# images: PNG variants and JPEGs, all tiny
img = (np.arange(8 * 6 * 3).reshape(8, 6, 3) * 5 % 256).astype(np.uint8)
for f in ("gray16.png", "rgba16.png"):
    copy("png", os.path.join("tests/fixtures/data", f))
put("png", "rgb8.png", cv2.imencode(".png", img)[1].tobytes())
put("png", "gray8.png", cv2.imencode(".png", img[:, :, 0])[1].tobytes())
for f in ("gray.jpg", "progressive.jpg"):
    copy("jpeg", os.path.join("tests/fixtures/data", f))
put("jpeg", "rgb_q50.jpg", cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 50])[1].tobytes())

# flags: NUL-separated argument vectors
put("args", "train.args", b"--data_path\0d\0--epochs\0003\0--lr=1e-3\0--resume\0--out\0x")
put("args", "list.args", b"a.safetensors\0--weights\0001\0002\0--optimizer\0SGD\0--out=o\0--seed\0-7")

# IDX: labels and images, plain and gzipped
labels = bytes([0, 0, 8, 1]) + struct.pack(">I", 4) + bytes([0, 9, 3, 1])
images = bytes([0, 0, 8, 3]) + struct.pack(">III", 2, 3, 4) + bytes(range(24))
put("idx", "labels.idx1", labels)
put("idx", "images.idx3", images)
put("idx", "images.idx3.gz", gzip.compress(images, mtime=0))

# safetensors as we write them: metadata with the two CRC-32 entries
def ours():
    keys = ("anomaly.crc32", "anomaly.crc32.copy")
    data = np.arange(6, dtype=np.float32).tobytes() + np.int64(7).tobytes()
    meta = '{"format":"pt",' + ",".join('"%s":"00000000"' % k for k in keys) + "}"
    head = ('{"__metadata__":' + meta + ',"w":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]},'
            '"n":{"dtype":"I64","shape":[],"data_offsets":[24,32]}}')
    head += " " * (-len(head) % 8)
    blob = bytearray(struct.pack("<Q", len(head)) + head.encode() + data)
    crc = "%08x" % zlib.crc32(bytes(blob))
    for k in keys:
        at = blob.index(('"%s":"' % k).encode()) + len(k) + 4
        blob[at:at + 8] = crc.encode()
    return bytes(blob)


put("safetensors", "ours_crc.safetensors", ours())

# pth: the .pth fixtures (dtypes, strided and shared storages, deflated,
# ZIP64, a refused global, an expanded view) and two bare data.pkl
import zipfile

for f in ("state.pth", "deflated.pth", "zip64.pth", "evil.pth", "features.pth", "expanded.pth"):
    copy("pth", os.path.join("tests/fixtures/pth", f))
for f in ("state", "features"):
    z = zipfile.ZipFile(os.path.join("tests/fixtures/pth", f + ".pth"))
    put("pth", f + ".pkl", z.read(next(n for n in z.namelist() if n.endswith("/data.pkl"))))
