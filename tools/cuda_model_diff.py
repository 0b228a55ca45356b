#!/usr/bin/python3
"""Model-level check of the CUDA twin: runs one model's forward pass (eval
mode, every module's output dumped) and a training step on the CPU kernels
and again with `--device cuda`, and diffs the two runs tensor by tensor.

Each tensor's error is max|cuda - cpu| / max|cpu| (relative to its largest
value). The eval-mode forward must agree within 1e-4 in float32 and 1e-9
in double. The training step is gated in the double build only (1e-8): in
float32 a step is ill-conditioned (BatchNorm over the few values of a late
layer's small maps, Adam's sign-like first steps: README "Auditing a
model"), so its float32 errors are printed as information. Measured in
the CPU emulation, efficientnet-b0 at 32 px, batch 2, float32: forward
1.2e-6; first-step gradients up to 3.8 of a tensor's largest value, from
the last blocks where BatchNorm normalises 2 values per channel and
amplifies rounding (a train-mode forward already differs by 0.58 there).
Needs a binary built with CUDA=1 (on a GPU) or CUDA=emu.

usage: tools/cuda_model_diff.py --anomaly build/cuda-f32/anomaly --model efficientnet-b0 [--size 64]
"""
import argparse
import os
import subprocess
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import safetensors_py  # noqa: E402


def run(cmd):
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"failed: {' '.join(cmd)}\n{r.stderr}")
    return r.stdout


def worst(ref, got):
    """(error, name) of the tensor with the largest relative error."""
    missing = sorted(set(ref) ^ set(got))
    if missing:
        sys.exit(f"the two runs wrote different tensors: {missing[:5]}")
    out = (0.0, "")
    for name, r in ref.items():
        g = got[name]
        if r.shape != g.shape:
            sys.exit(f"{name}: shapes {r.shape} and {g.shape}")
        if not np.array_equal(np.isfinite(r), np.isfinite(g)):
            return (float("inf"), name)
        scale = max(float(np.abs(r).max()), 1e-30)
        e = float(np.abs(g.astype(np.float64) - r).max()) / scale
        out = max(out, (e, name))
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--anomaly", required=True)
    p.add_argument("--model", required=True)
    p.add_argument("--size", type=int, default=64)
    p.add_argument("--batch", type=int, default=2)
    p.add_argument("--num_classes", type=int, default=15)
    a = p.parse_args()
    double = "float64" in run([a.anomaly, "--version"])
    tol_forward = 1e-9 if double else 1e-4
    tol_step = 1e-8 if double else None  # float32: information only
    fails = []
    with tempfile.TemporaryDirectory(prefix="anomaly_cuda_diff.") as d:
        f = lambda n: os.path.join(d, n)  # noqa: E731
        common = ["--model", a.model, "--num_classes", str(a.num_classes), "--same_padding", "dynamic",
                  "--dropout", "0", "--drop_connect", "0"]
        run([a.anomaly, "init", "--model", a.model, "--num_classes", str(a.num_classes), "--init", "hash",
             "--seed", "7", "--out", f("w.safetensors")])
        rng = np.random.default_rng(7)
        np.save(f("x.npy"), rng.standard_normal((a.batch, 3, a.size, a.size)).astype(np.float32))
        np.save(f("l.npy"), rng.integers(0, a.num_classes, a.batch).astype(np.int64))
        for dev in ("cpu", "cuda"):
            run([a.anomaly, "forward", *common, "--weights", f("w.safetensors"), "--input", f("x.npy"),
                 "--out", f(f"y_{dev}.npy"), "--dump", f(f"dump_{dev}.safetensors"), "--device", dev])
            for steps in (1, 2):
                run([a.anomaly, "step", *common, "--weights", f("w.safetensors"), "--input", f("x.npy"),
                     "--labels", f("l.npy"), "--criterion", "smoothing", "--optimizer", "Adam", "--lr", "1e-4",
                     "--weight_decay", "1e-4", "--clipping", "1" if steps == 2 else "0", "--steps", str(steps),
                     "--out", f(f"w{steps}_{dev}.safetensors"), "--grads", f(f"g{steps}_{dev}.safetensors"),
                     "--device", dev])
        load = lambda n: safetensors_py.load(f(n))[0]  # noqa: E731
        checks = [
            ("forward, every module", load("dump_cpu.safetensors"), load("dump_cuda.safetensors"), tol_forward),
            ("logits", {"y": np.load(f("y_cpu.npy"))}, {"y": np.load(f("y_cuda.npy"))}, tol_forward),
            ("first-step gradients", load("g1_cpu.safetensors"), load("g1_cuda.safetensors"), tol_step),
            ("weights after 2 Adam steps", load("w2_cpu.safetensors"), load("w2_cuda.safetensors"), tol_step),
        ]
        for what, ref, got, tol in checks:
            ref = {k: v for k, v in ref.items() if v.dtype.kind == "f"}
            got = {k: v for k, v in got.items() if v.dtype.kind == "f"}
            e, name = worst(ref, got)
            ok = tol is None or e <= tol
            verdict = "(float32: information)" if tol is None else f"{'OK' if ok else 'NOT OK'} (tol {tol:g})"
            print(f"{a.model:22s} {what:28s} {len(ref):4d} tensors  worst {e:.3e} ({name})  {verdict}")
            if not ok:
                fails.append(what)
    sys.exit(1 if fails else 0)


if __name__ == "__main__":
    main()
