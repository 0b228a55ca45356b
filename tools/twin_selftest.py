#!/usr/bin/python3
"""Self-test of the PyTorch twins (tools/twin) and the checkpoint converter.

Builds every registered model at a small input, checks parameter counts
against the published ones, shows where lukemelas' static SAME pads differ
from per-input pads (efficientnet-b6 at 576), compares ResNeXt with
torchvision when it is installed, and round-trips weights through
safetensors and convert_checkpoint.py. Prints `ok NAME` / `FAIL NAME: why`
/ `skip NAME: why` lines and a closing `N passed, N failed`; exits 1 on any
failure. About half a minute on two cores."""
import collections
import copy
import json
import os
import struct
import subprocess
import sys
import tempfile
import time

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from twin import efficientnet, registry  # noqa: E402

# 1000 classes. EfficientNet: lukemelas' models; ResNeXt: torchvision;
# ResNeSt: timm's structure counted term by term (deep stem 28,768; see
# count_resnest). Other zoos list 30,417,464 for a ResNeSt-50 4s2x40d of
# their own whose layout differs from timm's; the timm layout gives 592.
KNOWN_PARAMS = {
    "efficientnet-b0": 5288548, "efficientnet-b1": 7794184, "efficientnet-b2": 9109994,
    "efficientnet-b3": 12233232, "efficientnet-b4": 19341616, "efficientnet-b5": 30389784,
    "efficientnet-b6": 43040704, "efficientnet-b7": 66347960,
    "resnext50_32x4d": 25028904, "resnext101_32x8d": 88791336,
    "resnest50d_4s2x40d": 30417592,
}

RESULTS = {"passed": 0, "failed": 0, "skipped": 0}


def report(name, ok, why=""):
    if ok:
        RESULTS["passed"] += 1
        print(f"ok {name}" + (f": {why}" if why else ""))
    else:
        RESULTS["failed"] += 1
        print(f"FAIL {name}: {why}")


def skip(name, why):
    RESULTS["skipped"] += 1
    print(f"skip {name}: {why}")


def perturb_bn(model, seed=0):
    """Non-trivial running statistics and biases, so eval-mode BN is not
    the identity and a mix-up of buffers would show."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for k, v in model.state_dict().items():
            if k.endswith("running_var"):
                v.copy_(torch.rand(v.shape, generator=g) * 1.5 + 0.5)
            elif k.endswith("running_mean") or k.endswith("bias"):
                v.copy_(torch.randn(v.shape, generator=g) * 0.1)
    return model


def count_resnest():
    """timm's resnest50d_4s2x40d parameter count from its layer formulas."""
    def bn(c):
        return 2 * c
    total = 3 * 32 * 9 + bn(32) + 32 * 32 * 9 + bn(32) + 32 * 64 * 9 + bn(64)
    inp = 64
    for n, p in zip((3, 4, 6, 3), (64, 128, 256, 512)):
        w = int(p * 40 / 64) * 2
        for j in range(n):
            total += (inp * w + bn(w) + 4 * w * (w // 8) * 9 + bn(4 * w)  # conv1, split conv
                      + w * (w // 2) + w + bn(w) + 4 * w * (w // 2) + 4 * w  # fc1, bn1, fc2
                      + w * 4 * p + bn(4 * p))
            if j == 0:
                total += inp * 4 * p + bn(4 * p)
            inp = 4 * p
    return total + 2048 * 1000 + 1000


def test_build_all():
    for i, name in enumerate(registry.NAMES):
        t0 = time.time()
        m = perturb_bn(registry.init(name, 1000, seed=i)).eval()
        n = registry.param_count(m)
        size = 64 + 8 * (i % 5)  # 64..96, odd stages included
        with torch.no_grad():
            y = m(torch.randn(2, 3, size, size))
        finite = bool(torch.isfinite(y).all())
        print(f"   {name:20s} params(1000 cls) {n:>11,}  input 2x3x{size}x{size} -> "
              f"{tuple(y.shape)}  {time.time() - t0:.1f}s")
        report(f"params {name}", n == KNOWN_PARAMS[name], f"{n:,} vs known {KNOWN_PARAMS[name]:,}")
        report(f"forward {name}", tuple(y.shape) == (2, 1000) and finite, f"shape {tuple(y.shape)}")
    report("params resnest formula", count_resnest() == KNOWN_PARAMS["resnest50d_4s2x40d"],
           f"{count_resnest():,}")


def test_static_pads():
    rows = efficientnet.pad_table(registry.build("efficientnet-b0", 10))
    print("   efficientnet-b0 static pads at 224 (left, right, top, bottom), k>1 convs:")
    for name, k, s, hw, st, dyn in rows:
        print(f"     {name:28s} k{k} s{s} in {hw[0]:>3}: {st}")
    report("b0 static = dynamic at native 224", all(r[4] == r[5] for r in rows))

    # b0 at 72: 72 -> 36 -> 18 -> 9; stage 4 (block 5, k3 s2) gets a 9 where
    # the native size had 28, so its static pads (0, 1) are those of an even
    # input and its output is floor((9 + 1 - 3)/2) + 1 = 4, not ceil(9/2) = 5
    b0 = registry.build("efficientnet-b0", 10).eval()
    diff = [r[0] for r in efficientnet.pad_table(b0, 72) if r[4] != r[5]]
    with torch.no_grad():
        _, seen = registry.capture(b0, torch.zeros(1, 3, 72, 72), ["_blocks.5", "_conv_head"])
    sizes = (tuple(seen["_blocks.5"].shape[-2:]), tuple(seen["_conv_head"].shape[-2:]))
    report("b0 at 72: only _blocks.5 pads differ; static shrinks 9 -> 4 -> 2",
           diff == ["_blocks.5._depthwise_conv"] and sizes == ((4, 4), (2, 2)), f"{diff} {sizes}")

    # every strided layer of b0 sees an even size at 96 as at 224: same pads
    dyn0 = registry.build("efficientnet-b0", 10, same_padding="dynamic").eval()
    registry.load_into(dyn0, perturb_bn(b0).state_dict())
    x = torch.randn(2, 3, 96, 96)
    with torch.no_grad():
        same = torch.equal(b0(x), dyn0(x))
    no_static = all(m.static_pads is None for m in dyn0.modules()
                    if isinstance(m, efficientnet.SameConv2d))
    report("b0 dynamic build: no fixed pads; = static at 96", same and no_static)

    st = perturb_bn(registry.init("efficientnet-b6", 88, seed=6)).eval()
    # the same weights with per-input pads: what build(same_padding="dynamic")
    # gives, without paying for a second initialisation
    dyn = copy.deepcopy(st)
    for mod in dyn.modules():
        if isinstance(mod, efficientnet.SameConv2d):
            mod.static_pads = None
    rows = efficientnet.pad_table(st, 576)
    diff = [r for r in rows if r[4] != r[5]]
    for name, k, s, hw, sp, dp in diff:
        print(f"   b6 @576: {name} k{k} s{s} input {hw[0]}: static {sp} dynamic {dp}")
    report("b6 at 576: static differs from dynamic at _blocks.31 only",
           [r[0] for r in diff] == ["_blocks.31._depthwise_conv"], str([r[0] for r in diff]))
    x = torch.randn(1, 3, 576, 576)
    with torch.no_grad():
        a, b = st(x), dyn(x)
    d = (a - b).abs().max().item()
    print(f"   b6 @576 logits max |static - dynamic| = {d:.3g}")
    report("b6 at 576: static and dynamic logits differ", d > 0, f"{d:.3g}")


def test_torchvision():
    try:
        import torchvision
    except ImportError:
        skip("resnext vs torchvision", "torchvision not installed (apt-get install python3-torchvision)")
        return
    for name in ("resnext50_32x4d", "resnext101_32x8d"):
        m = perturb_bn(registry.init(name, 7, seed=3))
        ref = getattr(torchvision.models, name)(num_classes=7)
        ref.load_state_dict(m.state_dict(), strict=True)
        x = torch.randn(2, 3, 64, 64)
        with torch.no_grad():
            same_eval = torch.equal(m.eval()(x), ref.eval()(x))
        y1 = m.train()(x)
        y2 = ref.train()(x)
        g1 = torch.autograd.grad(y1.square().sum(), m.conv1.weight)[0]
        g2 = torch.autograd.grad(y2.square().sum(), ref.conv1.weight)[0]
        report(f"{name} = torchvision (eval, train, grad)",
               same_eval and torch.equal(y1, y2) and torch.equal(g1, g2))


def test_arcface_and_init():
    m = registry.init("efficientnet-b0", 6, seed=1, arcface=True).eval()
    keys = [k for k in m.state_dict() if k.startswith("_fc")]
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        cos = m(x)
        lg = registry.logits(m, x)
    ok = keys == ["_fc"] and tuple(m._fc.shape) == (6, 1280)
    ok = ok and bool((cos.abs() <= 1 + 1e-6).all()) and torch.equal(lg, cos * 8.0)
    _, seen = registry.capture(m, x)
    ok = ok and torch.equal(seen["_fc"], cos)
    report("arcface head: bare _fc (the original's key), |cos| <= 1, logits = 8 cos", ok, str(keys))
    a = registry.init("resnest50d_4s2x40d", 4, seed=5).state_dict()
    b = registry.init("resnest50d_4s2x40d", 4, seed=5).state_dict()
    c = registry.init("resnest50d_4s2x40d", 4, seed=6).state_dict()
    same = all(torch.equal(a[k], b[k]) for k in a)
    differs = not torch.equal(a["conv1.0.weight"], c["conv1.0.weight"])
    bn_default = (bool((a["bn1.weight"] == 1).all()) and bool((a["bn1.bias"] == 0).all())
                  and int(a["bn1.num_batches_tracked"]) == 0
                  and a["bn1.num_batches_tracked"].dtype == torch.int64)
    report("seeded init: reproducible, seed-dependent, BN defaults", same and differs and bn_default)


def test_swish_and_drop_connect():
    x = torch.randn(1000, dtype=torch.float64, requires_grad=True)
    g1 = torch.autograd.grad(efficientnet.swish(x).sum(), x)[0]
    g2 = torch.autograd.grad((x * torch.sigmoid(x)).sum(), x)[0]
    report("swish gradient", torch.allclose(g1, g2, rtol=1e-12, atol=1e-14))
    m = registry.init("efficientnet-b0", 3, seed=2).train()
    rates = [b.drop_connect_rate for b in m._blocks]
    report("drop-connect rates 0.2*i/16", rates == [0.2 * i / 16 for i in range(16)])
    x = torch.randn(64, 4, 2, 2)
    torch.manual_seed(0)
    y = efficientnet.drop_connect(x, 0.25, True)
    kept = [bool(torch.allclose(y[i], x[i] / 0.75)) for i in range(64)]
    zero = [bool((y[i] == 0).all()) for i in range(64)]
    report("drop-connect per sample: zero or x/(1-rate)",
           all(k or z for k, z in zip(kept, zero)) and any(kept) and any(zero))


def test_capture():
    for name in ("efficientnet-b0", "resnext50_32x4d", "resnest50d_4s2x40d"):
        m = registry.init(name, 3, seed=0).eval()
        names = registry.dump_names(m)
        with torch.no_grad():
            out, seen = registry.capture(m, torch.randn(1, 3, 64, 64))
        report(f"dump names {name}: all fire, in forward order",
               list(seen) == names and torch.equal(seen[names[-1]], out), f"{len(names)} names")


def test_safetensors_and_converter(tmp):
    for name, arc in (("efficientnet-b1", False), ("resnest50d_4s2x40d", True)):
        m = perturb_bn(registry.init(name, 9, seed=4, arcface=arc)).eval()
        path = os.path.join(tmp, f"{name}.safetensors")
        registry.save_safetensors(m, path, {"model": name})
        sd, meta = registry.load_safetensors(path)
        m2 = registry.load_into(registry.build(name, 9, arcface=arc), sd).eval()
        ref = m.state_dict()
        x = torch.randn(1, 3, 64, 64)
        with torch.no_grad():
            same_out = torch.equal(m(x), m2(x))
        ok = (list(sd) == list(ref) and all(torch.equal(sd[k], ref[k]) for k in ref)
              and all(sd[k].dtype == ref[k].dtype for k in ref) and meta == {"model": name})
        report(f"safetensors round trip {name}", ok and same_out)

    # the C reader wants PyTorch's 0-d counters as shape [] (ndim 0)
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
    counter = header["bn1.num_batches_tracked"]
    report("safetensors counters stored 0-d, I64", counter["shape"] == [] and counter["dtype"] == "I64",
           f"{counter['dtype']} shape {counter['shape']}")

    m = registry.init("efficientnet-b0", 88, seed=7)
    wrapped = {"state_dict": {"module." + k: v for k, v in m.state_dict().items()}, "epoch": 3}
    pth = os.path.join(tmp, "in.pth")
    torch.save(wrapped, pth)
    st, back = os.path.join(tmp, "out.safetensors"), os.path.join(tmp, "back.pth")
    conv = [sys.executable, os.path.join(HERE, "convert_checkpoint.py")]

    def run(*args):
        return subprocess.run(conv + list(args), capture_output=True, text=True)
    r1 = run("pth2st", pth, st, "--check", "efficientnet-b0", "--num_classes", "88")
    r2 = run("st2pth", st, back)
    ok = r1.returncode == 0 and r2.returncode == 0
    if ok:
        sd = torch.load(back)
        ok = list(sd) == list(m.state_dict()) and all(torch.equal(sd[k], v)
                                                      for k, v in m.state_dict().items())
    report("convert pth2st/st2pth (wrapped, module. prefix)", ok, (r1.stderr + r2.stderr).strip())
    r3 = run("pth2st", pth, os.path.join(tmp, "bad.safetensors"), "--check", "efficientnet-b0",
             "--num_classes", "10")
    report("convert --check rejects the wrong class count",
           r3.returncode != 0 and "_fc.weight" in r3.stderr
           and not os.path.exists(os.path.join(tmp, "bad.safetensors")))
    r4 = run("pth2st", pth, os.path.join(tmp, "f64.safetensors"), "--dtype", "f64")
    sd, _ = registry.load_safetensors(os.path.join(tmp, "f64.safetensors"))
    arc = registry.init("efficientnet-b0", 6, seed=2, arcface=True).state_dict()
    old = collections.OrderedDict(("_fc.weight" if k == "_fc" else k, v) for k, v in arc.items())
    torch.save(old, os.path.join(tmp, "arc_old.pth"))
    r5 = run("pth2st", os.path.join(tmp, "arc_old.pth"), os.path.join(tmp, "arc.safetensors"), "--check",
             "efficientnet-b0", "--num_classes", "6", "--arcface")
    sd5 = registry.load_safetensors(os.path.join(tmp, "arc.safetensors"))[0] if r5.returncode == 0 else {}
    report("convert renames an ArcFace head's old `_fc.weight` to `_fc`",
           r5.returncode == 0 and "_fc.weight" not in sd5 and torch.equal(sd5.get("_fc"), arc["_fc"]),
           r5.stderr.strip())
    report("convert --dtype f64 (counter stays int64)",
           r4.returncode == 0 and sd["_conv_stem.weight"].dtype == torch.float64
           and sd["_bn0.num_batches_tracked"].dtype == torch.int64)


def main():
    torch.set_num_threads(1)  # the test machines are small and shared
    t0 = time.time()
    test_build_all()
    test_static_pads()
    test_torchvision()
    test_arcface_and_init()
    test_swish_and_drop_connect()
    test_capture()
    with tempfile.TemporaryDirectory() as tmp:
        test_safetensors_and_converter(tmp)
    print(f"twin_selftest: {time.time() - t0:.1f}s")
    print(f"{RESULTS['passed']} passed, {RESULTS['failed']} failed, {RESULTS['skipped']} skipped")
    return 1 if RESULTS["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
