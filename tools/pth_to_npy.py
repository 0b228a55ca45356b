#!/usr/bin/python3
"""Convert torch.save()d feature tensors (.pth) into NumPy .npy files.

The winners saved their test logits as float32 tensors [K, N, C] (folds,
test images, labels), most of them from a GPU; `anomaly ensemble` reads .npy.

usage: /usr/bin/python3 tools/pth_to_npy.py IN.pth [IN2.pth ...] [--outdir DIR]
       /usr/bin/python3 tools/pth_to_npy.py IN.pth --out OUT.npy
  The default output name drops the ".pth" and an inference-size suffix such
  as "(576)": results/features_92(576).pth -> results/features_92.npy.
  --rank R   the rank the tensor must have (default 3; 0: any)
Tensors are loaded onto the CPU and written as float32 (a float64 or float16
tensor is converted, and the tool says so); anything else is refused.
"""
import argparse
import os
import re
import sys

import numpy as np


def load_tensor(path):
    import torch
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except TypeError:  # torch before 1.13 has no weights_only
        obj = torch.load(path, map_location="cpu")
    if isinstance(obj, torch.Tensor):
        return obj.detach().cpu().numpy()
    if isinstance(obj, np.ndarray):
        return obj
    kind = type(obj).__name__
    extra = f" with keys {sorted(map(str, obj))[:8]}" if isinstance(obj, dict) else ""
    raise SystemExit(f"{path}: holds a {kind}{extra}, not one tensor")


def default_out(path, outdir):
    base = re.sub(r"\(\d+\)$", "", os.path.splitext(os.path.basename(path))[0]) + ".npy"
    return os.path.join(outdir if outdir is not None else os.path.dirname(path), base)


def convert(src, dst, rank):
    a = load_tensor(src)
    if rank and a.ndim != rank:
        raise SystemExit(f"{src}: expected a rank-{rank} tensor [K, N, C], got shape {list(a.shape)}")
    if not np.issubdtype(a.dtype, np.floating):
        raise SystemExit(f"{src}: expected floating-point scores, got {a.dtype}")
    if a.dtype != np.float32:
        print(f"{src}: converting {a.dtype} to float32")
        a = a.astype(np.float32)
    tmp = f"{dst}.tmp.{os.getpid()}.npy"
    np.save(tmp, np.ascontiguousarray(a))
    os.replace(tmp, dst)
    print(f"wrote {dst}: float32 {list(a.shape)}")


def main():
    ap = argparse.ArgumentParser(description="Convert .pth feature tensors to .npy.")
    ap.add_argument("inputs", nargs="+")
    ap.add_argument("--out", help="output file (one input only)")
    ap.add_argument("--outdir", help="directory for the outputs (default: beside each input)")
    ap.add_argument("--rank", type=int, default=3)
    a = ap.parse_args()
    if a.out and len(a.inputs) != 1:
        sys.exit("--out takes one input; use --outdir for several")
    for src in a.inputs:
        convert(src, a.out or default_out(src, a.outdir), a.rank)


if __name__ == "__main__":
    main()
