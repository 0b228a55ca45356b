"""Writes the PyTorch learning-rate sequences that tests/test_sched.c compares with.

Run with the Python that has torch 1.13 (/usr/bin/python3):
    /usr/bin/python3 tools/make_sched_fixtures.py [--out tests/fixtures/sched]

One file per case, plain text:
    # comment lines
    reduce LR FACTOR PATIENCE        (ReduceLROnPlateau, other arguments default)
    step LR STEP_SIZE GAMMA          (StepLR)
    then one line per epoch: `METRIC LR_AFTER_STEP`
Numbers are Python reprs, so strtod reads back the exact doubles (nan, inf
included). The metric sequences are fixed by formula and a seeded generator,
and chosen to exercise the rules: plateaus just above and just below the
relative threshold, reductions that stop at eps, patience 0, NaN metrics.
"""
import argparse
import math
import os
import random

import torch


def plateau_losses(n, seed):
    # Falls, then wanders: some epochs improve by less than the 1e-4 relative
    # threshold (not an improvement), some by slightly more.
    rng = random.Random(seed)
    best = 2.0
    out = []
    for i in range(n):
        r = rng.random()
        if i < 5:
            best *= 0.8
            v = best
        elif r < 0.25:
            v = best * (1 - 0.5e-4)  # below best, but not by the threshold
        elif r < 0.45:
            v = best * (1 - 2e-4)    # a real improvement
            best = v
        elif r < 0.55:
            v = best                 # equal: not better
        else:
            v = best * (1 + rng.random())
        out.append(float(torch.tensor(v, dtype=torch.float32)))  # a float32 loss, as trained
    return out


def noisy_losses(n, seed):
    rng = random.Random(seed)
    return [1.0 / (1 + 0.1 * i) + 0.05 * rng.gauss(0, 1) for i in range(n)]


CASES = {
    # name: (kind, args, metrics)
    "reduce_default": ("reduce", (5e-5, 0.1, 5), plateau_losses(100, 1)),
    "reduce_patience0": ("reduce", (1e-3, 0.5, 0), plateau_losses(60, 2)),
    "reduce_patience2_noisy": ("reduce", (1e-2, 0.3, 2), noisy_losses(80, 3)),
    # constant loss: reductions every patience+1 epochs until old - new <= eps
    "reduce_eps_floor": ("reduce", (1e-6, 0.5, 1), [0.5] * 40),
    "reduce_nan": ("reduce", (1e-3, 0.1, 1),
                   [1.0, 0.9, math.nan, 0.95, math.nan, math.nan, 0.8, math.inf, 0.7, 0.7, 0.7, 0.6]),
    "step_default": ("step", (5e-5, 2, 0.9), [0.0] * 100),
    "step_3_half": ("step", (1e-3, 3, 0.5), [0.0] * 40),
    "step_1": ("step", (0.1, 1, 0.7), [0.0] * 60),
}


def run(kind, args, metrics):
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=args[0])
    if kind == "reduce":
        sch = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, mode="min", factor=args[1], patience=args[2])
    else:
        sch = torch.optim.lr_scheduler.StepLR(opt, step_size=args[1], gamma=args[2])
    lrs = []
    for m in metrics:
        opt.step()
        if kind == "reduce":
            sch.step(m)
        else:
            sch.step()
        lrs.append(opt.param_groups[0]["lr"])
    return lrs


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="tests/fixtures/sched")
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    for name, (kind, args, metrics) in CASES.items():
        lrs = run(kind, args, metrics)
        path = os.path.join(a.out, name + ".txt")
        with open(path, "w") as f:
            f.write("# written by tools/make_sched_fixtures.py with torch %s\n" % torch.__version__)
            f.write("%s %s\n" % (kind, " ".join(repr(x) for x in args)))
            for m, lr in zip(metrics, lrs):
                f.write("%r %r\n" % (float(m), float(lr)))
        print("wrote", path)


if __name__ == "__main__":
    main()
