"""Compares the C implementation with its PyTorch twin (tools/twin), tensor
by tensor: eval logits, every module's output (--dump), and K training
steps (losses, every parameter and running statistic, the last gradients).

    /usr/bin/python3 tools/compare_model.py --model efficientnet-b0 [--size 64]
        [--batch 2] [--num_classes 10] [--arcface] [--same_padding dynamic]
        [--steps 3] [--criterion smoothing|ce] [--arcloss] [--optimizer Adam|SGD]
        [--anomaly build/f32/anomaly] [--fixture OUT.safetensors]

Weights come from the portable hash initialisation (tools/hash_init.py), so
both sides start from the same bits.

Precision: by default the twin runs in float32 against build/f32. With
--double the twin runs in float64 against build/f64 (the double build):
this is the strict check of training steps. In float32 a training step is
ill-conditioned at the 1e-5 level (PyTorch's own float32 gradients differ
from its float64 ones by about 2e-5 relative), and Adam's first steps move
every weight by about lr * sign(grad), so weights whose gradient is near zero
flip direction on rounding noise; float32 runs therefore check the eval
outputs, the losses and the first step's gradients, and report (without
failing on) the weights after the steps. Prints max abs / rel error per tensor
and exits 1 when anything is beyond tolerance (logits 1e-4 relative to
max |logit|; parameters and statistics 1e-4 relative to the tensor's max;
losses 1e-5 relative). --fixture also writes a compact reference (input,
labels, logits, losses, per-tensor sums and sampled elements after the
steps) for tests/test_models.c.
"""
import argparse
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch
from torch.nn import functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import hash_init  # noqa: E402
import safetensors_py  # noqa: E402
from twin import registry  # noqa: E402

BASELINE_TARGETS = [*range(4, 9), *range(10, 15), *range(16, 19), *range(56, 61), *range(69, 72),
                    73, *range(80, 84), *range(85, 88)]


def smoothing_loss(logits, labels, eps=0.1):
    c = logits.shape[1]
    q = torch.full_like(logits, eps / (c - 1))
    q.scatter_(1, labels[:, None], 1 - eps)
    return (-(q * F.log_softmax(logits, dim=1)).sum(1)).mean()


def arcface_logits(cos, labels, margin, scale, targets):
    theta = torch.acos(torch.clamp(cos, -1, 1))
    add = torch.zeros_like(cos)
    for i, y in enumerate(labels.tolist()):
        if targets is None or y in targets:
            add[i, y] = margin
    return scale * torch.cos(theta + add)


def torch_steps(model, x, labels, a):
    """K steps exactly as SPEC section 5: forward (train mode), loss,
    backward, clip_grad_norm_, optimizer step."""
    model.train()
    params = [p for p in model.parameters()]
    if a.optimizer == "Adam":
        opt = torch.optim.Adam(params, lr=a.lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=a.weight_decay)
    else:
        opt = torch.optim.SGD(params, lr=a.lr, momentum=0.9, weight_decay=a.weight_decay)
    losses = []
    for _ in range(a.steps):
        opt.zero_grad()
        out = model(x)
        if a.arcface:
            out = arcface_logits(out, labels, a.margin if a.arcloss else 0.0, a.scale, None)
        loss = smoothing_loss(out, labels) if a.criterion == "smoothing" else F.cross_entropy(out, labels)
        loss.backward()
        if a.clipping > 0:
            torch.nn.utils.clip_grad_norm_(params, a.clipping)
        opt.step()
        losses.append(float(loss))
    grads = {n: p.grad.detach().numpy().copy() for n, p in model.named_parameters()}
    return losses, grads


def rel_err(got, ref):
    got = np.asarray(got, dtype=np.float64).reshape(-1)
    ref = np.asarray(ref, dtype=np.float64).reshape(-1)
    scale = max(np.abs(ref).max(), 1e-30)
    err = np.abs(got - ref).max() if ref.size else 0.0
    return err, err / scale


def run(cmd):
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"failed: {' '.join(cmd)}\n{r.stderr}")
    return r.stdout


def sample_positions(numel, k=32):
    """Fixed positions spread over a tensor (first, last and a stride)."""
    if numel <= k:
        return np.arange(numel)
    return np.unique(np.linspace(0, numel - 1, k).round().astype(np.int64))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", required=True)
    ap.add_argument("--anomaly", help="the binary (default build/f32/anomaly, or build/f64 with --double)")
    ap.add_argument("--double", action="store_true", help="twin in float64 against the double build")
    ap.add_argument("--num_classes", type=int, default=10)
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--batch", type=int, default=2)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--arcface", action="store_true")
    ap.add_argument("--arcloss", action="store_true")
    ap.add_argument("--margin", type=float, default=0.1)
    ap.add_argument("--scale", type=float, default=8.0)
    ap.add_argument("--same_padding", default="static", choices=["static", "dynamic"])
    ap.add_argument("--image_size", type=int, default=0)
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--criterion", default="smoothing", choices=["smoothing", "ce"])
    ap.add_argument("--optimizer", default="Adam", choices=["Adam", "SGD"])
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--weight_decay", type=float, default=1e-4)
    ap.add_argument("--clipping", type=float, default=2.0)
    ap.add_argument("--no_dump", action="store_true", help="skip the layer-by-layer comparison")
    ap.add_argument("--eval_only", action="store_true", help="compare the eval outputs only, no training steps")
    ap.add_argument("--tol", type=float, default=1e-4)
    ap.add_argument("--fixture", help="write a compact reference for tests/test_models.c")
    a = ap.parse_args()
    if not a.anomaly:
        a.anomaly = os.path.join(HERE, "..", "build", "f64" if a.double else "f32", "anomaly")
    dtype = torch.float64 if a.double else torch.float32
    torch.set_num_threads(max(1, os.cpu_count() or 1))

    model = registry.build(a.model, a.num_classes, arcface=a.arcface, same_padding=a.same_padding,
                           image_size=a.image_size or None, dropout=0.0, drop_connect=0.0,
                           arc_scale=a.scale)
    hash_init.init_model(model, a.seed)
    model = model.to(dtype)
    rng = np.random.default_rng(a.seed)
    x = rng.standard_normal((a.batch, 3, a.size, a.size)).astype(np.float32)
    labels = rng.integers(0, a.num_classes, a.batch).astype(np.int64)

    common = ["--model", a.model, "--num_classes", str(a.num_classes), "--same_padding", a.same_padding,
              "--dropout", "0", "--drop_connect", "0"]
    if a.image_size:
        common += ["--image_size", str(a.image_size)]
    if a.arcface:
        common += ["--arcface"]
    failures = []

    def report(name, got, ref, tol):
        err, rel = rel_err(got, ref)
        flag = "" if rel <= tol else "   <-- beyond tolerance"
        print(f"  {name:60s} max abs {err:.3e}  rel {rel:.3e}{flag}")
        if rel > tol or not np.all(np.isfinite(got)):
            failures.append(name)

    with tempfile.TemporaryDirectory() as d:
        w = os.path.join(d, "w.safetensors")
        run([a.anomaly, "init", *common[:4], *(["--arcface"] if a.arcface else []), "--init", "hash",
             "--seed", str(a.seed), "--out", w])
        np.save(os.path.join(d, "x.npy"), x)
        np.save(os.path.join(d, "l.npy"), labels)

        print(f"{a.model}: {registry.param_count(model)} parameters, input {x.shape}")
        # eval logits and dumps
        model.eval()
        with torch.no_grad():
            out, seen = registry.capture(model, torch.from_numpy(x).to(dtype))
            ref_logits = (out * a.scale if a.arcface else out).double().numpy()
        dump = [] if a.no_dump else ["--dump", os.path.join(d, "dump.safetensors")]
        run([a.anomaly, "forward", *common, "--scale", str(a.scale), "--weights", w,
             "--input", os.path.join(d, "x.npy"), "--out", os.path.join(d, "y.npy"), *dump])
        logits = np.load(os.path.join(d, "y.npy"))
        print("eval logits:")
        report("logits", logits, ref_logits, a.tol)
        if dump:
            ours, _ = safetensors_py.load(os.path.join(d, "dump.safetensors"))
            print(f"module outputs ({len(seen)} in the twin, {len(ours)} dumped):")
            for name, ref in seen.items():
                if name not in ours:
                    print(f"  {name:60s} MISSING from the dump")
                    failures.append(name)
                    continue
                report(name, ours[name], ref.double().numpy(), max(a.tol, 1e-4))

        if a.eval_only:
            if failures:
                print(f"FAILED: {len(failures)} tensor(s) beyond tolerance: {', '.join(failures[:10])}")
                sys.exit(1)
            print("all within tolerance")
            return

        # training steps
        xt, lt = torch.from_numpy(x).to(dtype), torch.from_numpy(labels)
        if not a.double:
            # float32: the first step's gradients are the strict check (see the docstring)
            first = argparse.Namespace(**{**vars(a), "steps": 1, "clipping": 0.0})
            m1 = registry.build(a.model, a.num_classes, arcface=a.arcface, same_padding=a.same_padding,
                                image_size=a.image_size or None, dropout=0.0, drop_connect=0.0,
                                arc_scale=a.scale)
            hash_init.init_model(m1, a.seed)
            _, grads1 = torch_steps(m1, xt, lt, first)
            cmd1 = [a.anomaly, "step", *common, "--weights", w, "--input", os.path.join(d, "x.npy"),
                    "--labels", os.path.join(d, "l.npy"), "--criterion", a.criterion, "--optimizer", a.optimizer,
                    "--lr", str(a.lr), "--weight_decay", str(a.weight_decay), "--clipping", "0",
                    "--steps", "1", "--out", os.path.join(d, "w1.safetensors"),
                    "--grads", os.path.join(d, "g1.safetensors"), "--arc_targets", "all"]
            if a.arcloss:
                cmd1 += ["--arcloss", "arcface", "--margin", str(a.margin), "--scale", str(a.scale)]
            elif a.arcface:
                cmd1 += ["--scale", str(a.scale)]
            run(cmd1)
            g1, _ = safetensors_py.load(os.path.join(d, "g1.safetensors"))
            gmax = max(np.abs(g).max() for g in grads1.values())
            worst1 = max((np.abs(g1[n] - g).max() / gmax, n) for n, g in grads1.items())
            print(f"first-step gradients: worst error {worst1[0]:.3e} of the largest gradient ({worst1[1]})")
            if worst1[0] > 1e-4:
                failures.append("first-step gradients")
        losses, grads = torch_steps(model, xt, lt, a)
        cmd = [a.anomaly, "step", *common, "--weights", w, "--input", os.path.join(d, "x.npy"),
               "--labels", os.path.join(d, "l.npy"), "--criterion", a.criterion, "--optimizer", a.optimizer,
               "--lr", str(a.lr), "--weight_decay", str(a.weight_decay), "--clipping", str(a.clipping),
               "--steps", str(a.steps), "--out", os.path.join(d, "w2.safetensors"),
               "--grads", os.path.join(d, "g.safetensors"), "--arc_targets", "all"]
        if a.arcloss:
            cmd += ["--arcloss", "arcface", "--margin", str(a.margin), "--scale", str(a.scale)]
        elif a.arcface:
            cmd += ["--scale", str(a.scale)]
        text = run(cmd)
        our_losses = [float(line.split()[3]) for line in text.splitlines() if line.startswith("step ")]
        print(f"losses: twin {losses}\n        ours {our_losses}")
        for k, (o, r) in enumerate(zip(our_losses, losses)):
            report(f"loss step {k + 1}", [o], [r], 1e-5 if a.double or k == 0 else 1e-4)
        if len(our_losses) != len(losses):
            failures.append("loss count")
        ours, _ = safetensors_py.load(os.path.join(d, "w2.safetensors"))
        our_grads, _ = safetensors_py.load(os.path.join(d, "g.safetensors"))
        sd = model.state_dict()
        print(f"after {a.steps} steps: {len(sd)} tensors")
        worst = []
        for name, ref in sd.items():
            ref = ref.double().numpy() if ref.is_floating_point() else ref.numpy()
            if name.endswith("num_batches_tracked"):
                if int(np.asarray(ours[name]).reshape(-1)[0]) != int(ref):
                    failures.append(name)
                    print(f"  {name}: ours {ours[name]} twin {ref}")
                continue
            err, rel = rel_err(ours[name], ref)
            worst.append((rel, name, err))
            if rel > a.tol and a.double:
                failures.append(name)
        if a.double:
            # gradients near zero are rounding noise: measure against the largest gradient
            gmax = max(np.abs(g).max() for g in grads.values())
            for name, g in grads.items():
                err = np.abs(our_grads[name] - g).max()
                worst.append((err / gmax, "grad " + name, err))
                if err / gmax > a.tol:
                    failures.append("grad " + name)
        worst.sort(reverse=True)
        for rel, name, err in [w for w in worst if not w[1].startswith("grad ")][:12]:
            print(f"  {name:60s} max abs {err:.3e}  rel {rel:.3e}")
        print(f"  ... {len(worst)} tensors, worst rel {worst[0][0]:.3e}"
              + ("" if a.double else " (float32: reported, not checked)"))

    if a.fixture:
        fx = {"input": x, "labels": labels, "logits": ref_logits.astype(np.float32),
              "losses": np.array(losses, dtype=np.float32)}
        for name, ref in sd.items():
            if name.endswith("num_batches_tracked"):
                continue
            flat = ref.double().numpy().reshape(-1)
            pos = sample_positions(flat.size)
            fx["pos/" + name] = pos.astype(np.int64)
            fx["val/" + name] = flat[pos].astype(np.float32)
            fx["sum/" + name] = np.array([np.abs(flat.astype(np.float64)).sum()], dtype=np.float64)
        meta = {k: str(v) for k, v in vars(a).items() if k not in ("anomaly", "fixture")}
        safetensors_py.save(a.fixture, fx, meta)
        print(f"wrote {a.fixture}")

    if failures:
        print(f"FAILED: {len(failures)} tensor(s) beyond tolerance: {', '.join(failures[:10])}")
        sys.exit(1)
    print("all within tolerance")


if __name__ == "__main__":
    main()
