"""Writes the PyTorch reference sequences that tests/test_optim.c compares with.

Run with the Python that has torch 1.13 (/usr/bin/python3):
    /usr/bin/python3 tools/make_optim_fixtures.py [--out tests/fixtures/optim]

Each file is plain text, one array per line: `key v0 v1 ...`. Every case is
run twice, in float32 (keys `f32_*`) and float64 (keys `f64_*`), from the
same float32 starting values, so both builds of the library have an exact
reference. Optimizers use torch.optim with foreach=False (the single-tensor
path) and see the same fixed gradient sequence; clip cases use
torch.nn.utils.clip_grad_norm_ over three gradient tensors.
"""
import argparse
import os

import torch

N = 37          # not a multiple of any SIMD width, so ATen's scalar tail runs too
STEPS = 5
CLIP_SIZES = (7, 13, 20)

OPTIM_CASES = {
    "adam_lr5e-05": ("adam", dict(lr=5e-5, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-4)),
    "adam_lr1e-02": ("adam", dict(lr=1e-2, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-4)),
    "sgd_lr1e-02": ("sgd", dict(lr=1e-2, momentum=0.9, weight_decay=5e-4)),
}
CLIP_CASES = {"clip_2": 2.0, "clip_100": 100.0}


def fmt(values, dtype):
    # repr of a float64 round-trips it; a float32 value widened to float64
    # prints in a form that strtod plus a cast to float recovers exactly.
    if dtype == torch.float32:
        return " ".join(repr(float(v)) for v in values.to(torch.float32).tolist())
    return " ".join(repr(float(v)) for v in values.to(torch.float64).tolist())


def inputs():
    g = torch.Generator().manual_seed(1234)
    init = torch.randn(N, generator=g)
    init[0] = 0.0  # only the decay-free moments move it
    grads = []
    for _ in range(STEPS):
        gr = torch.randn(N, generator=g) * 0.1
        gr[1] = 0.0    # weight decay alone
        gr[2] = 1e-9   # far below eps in the Adam denominator
        gr[3] *= 500   # large
        grads.append(gr)
    return init, grads


def run_optim(kind, cfg, init, grads, dtype):
    p = torch.nn.Parameter(init.clone().to(dtype))
    if kind == "adam":
        opt = torch.optim.Adam([p], foreach=False, **cfg)
    else:
        opt = torch.optim.SGD([p], foreach=False, **cfg)
    out = []
    for gr in grads:
        p.grad = gr.clone().to(dtype)
        opt.step()
        out.append(p.detach().clone())
    return out


def run_clip(max_norm, grads, dtype):
    params = []
    for gr in grads:
        p = torch.nn.Parameter(torch.zeros(gr.numel(), dtype=dtype))
        p.grad = gr.clone().to(dtype)
        params.append(p)
    total = torch.nn.utils.clip_grad_norm_(params, max_norm)
    return torch.cat([p.grad for p in params]), total


def write(path, lines):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write("\n".join(lines) + "\n")
    os.replace(tmp, path)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="tests/fixtures/optim")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    torch.set_num_threads(1)
    init, grads = inputs()
    head = "# written by tools/make_optim_fixtures.py with torch " + torch.__version__

    for name, (kind, cfg) in OPTIM_CASES.items():
        lines = [head, "# " + kind + " " + repr(cfg), "n %d" % N, "steps %d" % STEPS,
                 "init " + fmt(init, torch.float32)]
        for t, gr in enumerate(grads, 1):
            lines.append("grad%d %s" % (t, fmt(gr, torch.float32)))
        for dtype, tag in ((torch.float32, "f32"), (torch.float64, "f64")):
            for t, p in enumerate(run_optim(kind, cfg, init, grads, dtype), 1):
                lines.append("%s_step%d %s" % (tag, t, fmt(p, dtype)))
        write(os.path.join(args.out, name + ".txt"), lines)

    g = torch.Generator().manual_seed(99)
    clip_grads = [torch.randn(s, generator=g) * 0.5 for s in CLIP_SIZES]
    flat = torch.cat(clip_grads)
    for name, max_norm in CLIP_CASES.items():
        lines = [head, "n %d" % flat.numel(), "max_norm %r" % max_norm,
                 "grad " + fmt(flat, torch.float32)]
        for dtype, tag in ((torch.float32, "f32"), (torch.float64, "f64")):
            clipped, total = run_clip(max_norm, clip_grads, dtype)
            lines.append("%s_norm %s" % (tag, fmt(total.reshape(1), dtype)))
            lines.append("%s_clipped %s" % (tag, fmt(clipped, dtype)))
        write(os.path.join(args.out, name + ".txt"), lines)


if __name__ == "__main__":
    main()
