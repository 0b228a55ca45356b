#!/usr/bin/python3
"""PyTorch references for every kernel family of include/anomaly/ops/.

Writes one safetensors file per case, <op>_<case>.safetensors, holding the
inputs, the parameters, the forward output, a random upstream gradient
`dout` and every gradient PyTorch's autograd gives, with the case's scalar
settings (and "op") in __metadata__. tests/test_parity_ops.c replays them.

Inputs are drawn in float32 and the references computed in float64 from
those exact values, then stored as float32: the reference is the exact
PyTorch semantics, not one particular float32 rounding of it, so both of
our builds are judged against the same target (--dtype float32 computes
in float32 instead, as a PyTorch model would). Everything is seeded per
case, so a rerun with the same torch writes the same bytes.

    /usr/bin/python3 tools/make_op_fixtures.py [--out tests/fixtures/ops]
    /usr/bin/python3 tools/make_op_fixtures.py --io-out tests/fixtures/io
"""
import argparse
import json
import math
import os
import struct
import sys
import zlib

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import safetensors_py  # noqa: E402

D = torch.float64
CASES = []  # (op, case, function) in registration order


def case(op, name):
    def register(fn):
        CASES.append((op, name, fn))
        return fn
    return register


class Rand:
    """Float32-exact random values as float64 tensors, seeded by the case name."""

    def __init__(self, key):
        self.g = torch.Generator().manual_seed(zlib.crc32(key.encode()))

    def normal(self, *shape, scale=1.0, shift=0.0):
        x = torch.randn(shape, generator=self.g, dtype=torch.float32) * scale + shift
        return x.to(D)

    def uniform(self, lo, hi, *shape):
        x = torch.rand(shape, generator=self.g, dtype=torch.float32) * (hi - lo) + lo
        return x.to(D)

    def ints(self, hi, *shape):
        return torch.randint(0, hi, shape, generator=self.g)


def leaf(x):
    return x.detach().clone().requires_grad_(True)


def backward(out, dout):
    out.backward(dout)


def arr(t):
    t = t.detach() if torch.is_tensor(t) else torch.tensor(t)
    if t.dtype in (torch.float32, torch.float64):
        return t.to(torch.float32).numpy()
    if t.dtype == torch.bool or t.dtype == torch.uint8:
        return t.to(torch.uint8).numpy()
    return t.to(torch.int64).numpy()


# ---- convolution ----

def conv_case(name, n, c, h, w, oc, k, s, d, pads, groups, bias):
    kh, kw = k
    sh, sw = s
    dh, dw = d
    pt, pb, pl, pr = pads

    @case("conv2d", name)
    def run(r):
        x = leaf(r.normal(n, c, h, w))
        wt = leaf(r.normal(oc, c // groups, kh, kw, scale=1 / math.sqrt(c // groups * kh * kw)))
        b = leaf(r.normal(oc, scale=0.5)) if bias else None
        out = F.conv2d(F.pad(x, (pl, pr, pt, pb)), wt, b, (sh, sw), 0, (dh, dw), groups)
        dout = r.normal(*out.shape)
        backward(out, dout)
        meta = dict(n=n, c=c, h=h, w=w, oc=oc, kh=kh, kw=kw, sh=sh, sw=sw, dh=dh, dw=dw,
                    pad_t=pt, pad_b=pb, pad_l=pl, pad_r=pr, groups=groups, bias=int(bias))
        t = dict(inp=x, weight=wt, out=out, dout=dout, dinp=x.grad, dweight=wt.grad)
        if bias:
            t.update(bias=b, dbias=b.grad)
        return meta, t


def same_pads(size, k, s):
    """TensorFlow SAME: (before, after) with the odd pixel after."""
    o = -(-size // s)
    p = max((o - 1) * s + k - size, 0)
    return p // 2, p - p // 2


conv_case("k3s1p1_bias", 2, 3, 7, 8, 5, (3, 3), (1, 1), (1, 1), (1, 1, 1, 1), 1, True)
conv_case("k3s2p1", 2, 4, 9, 11, 6, (3, 3), (2, 2), (1, 1), (1, 1, 1, 1), 1, False)
conv_case("k3d2p2", 2, 3, 9, 9, 4, (3, 3), (1, 1), (2, 2), (2, 2, 2, 2), 1, True)
conv_case("k3s2d2_asym", 2, 2, 11, 10, 3, (3, 3), (2, 2), (2, 2), (1, 2, 2, 1), 1, False)
conv_case("groups2", 2, 4, 7, 7, 6, (3, 3), (1, 1), (1, 1), (1, 1, 1, 1), 2, True)
conv_case("groups4", 2, 8, 6, 5, 8, (3, 3), (1, 1), (1, 1), (1, 1, 1, 1), 4, False)
conv_case("groups8_radix", 2, 16, 5, 5, 32, (3, 3), (1, 1), (1, 1), (1, 1, 1, 1), 8, False)
conv_case("same_k3s2_even", 2, 3, 8, 8, 4, (3, 3), (2, 2), (1, 1),
          same_pads(8, 3, 2) + same_pads(8, 3, 2), 1, False)
conv_case("same_k5s2_odd", 2, 3, 9, 8, 4, (5, 5), (2, 2), (1, 1),
          same_pads(9, 5, 2) + same_pads(8, 5, 2), 1, False)
conv_case("static_k3s2", 2, 3, 9, 9, 4, (3, 3), (2, 2), (1, 1),
          same_pads(8, 3, 2) + same_pads(8, 3, 2), 1, False)
conv_case("k1x1_bias", 2, 6, 5, 4, 7, (1, 1), (1, 1), (1, 1), (0, 0, 0, 0), 1, True)
conv_case("k1x1", 3, 5, 4, 4, 6, (1, 1), (1, 1), (1, 1), (0, 0, 0, 0), 1, False)
conv_case("k1x1s2", 2, 4, 7, 7, 5, (1, 1), (2, 2), (1, 1), (0, 0, 0, 0), 1, False)
conv_case("k1x1_hw1_se", 3, 8, 1, 1, 4, (1, 1), (1, 1), (1, 1), (0, 0, 0, 0), 1, True)
conv_case("k1x1_groups2_hw1", 3, 8, 1, 1, 6, (1, 1), (1, 1), (1, 1), (0, 0, 0, 0), 2, True)
conv_case("k7s2p3_stem", 2, 3, 13, 12, 4, (7, 7), (2, 2), (1, 1), (3, 3, 3, 3), 1, False)
conv_case("k2x3_rect", 2, 3, 6, 7, 4, (2, 3), (1, 2), (1, 1), (0, 1, 1, 1), 1, True)


def dw_case(name, n, c, h, w, k, s, pads, bias):
    pt, pb, pl, pr = pads

    @case("depthwise", name)
    def run(r):
        x = leaf(r.normal(n, c, h, w))
        wt = leaf(r.normal(c, 1, k, k, scale=1 / k))
        b = leaf(r.normal(c, scale=0.5)) if bias else None
        out = F.conv2d(F.pad(x, (pl, pr, pt, pb)), wt, b, s, 0, 1, c)
        dout = r.normal(*out.shape)
        backward(out, dout)
        meta = dict(n=n, c=c, h=h, w=w, oc=c, kh=k, kw=k, sh=s, sw=s, dh=1, dw=1, pad_t=pt,
                    pad_b=pb, pad_l=pl, pad_r=pr, groups=c, bias=int(bias))
        t = dict(inp=x, weight=wt, out=out, dout=dout, dinp=x.grad, dweight=wt.grad)
        if bias:
            t.update(bias=b, dbias=b.grad)
        return meta, t


dw_case("k3s1", 2, 4, 7, 6, 3, 1, same_pads(7, 3, 1) + same_pads(6, 3, 1), False)
dw_case("k3s2_even", 2, 4, 8, 8, 3, 2, same_pads(8, 3, 2) + same_pads(8, 3, 2), False)
dw_case("k3s2_odd", 2, 3, 9, 7, 3, 2, same_pads(9, 3, 2) + same_pads(7, 3, 2), True)
dw_case("k5s1", 2, 4, 6, 7, 5, 1, same_pads(6, 5, 1) + same_pads(7, 5, 1), True)
dw_case("k5s2_even", 2, 3, 10, 8, 5, 2, same_pads(10, 5, 2) + same_pads(8, 5, 2), False)
dw_case("k5s2_static", 2, 3, 9, 9, 5, 2, same_pads(8, 5, 2) + same_pads(8, 5, 2), False)
dw_case("k3s2_static", 2, 3, 9, 9, 3, 2, same_pads(8, 3, 2) + same_pads(8, 3, 2), False)

# ---- batch norm ----


def bn_case(name, train, n, c, h, w, eps, momentum, shift=0.0, scale=1.0):
    @case("batchnorm_train" if train else "batchnorm_eval", name)
    def run(r):
        x = leaf(r.normal(n, c, h, w, scale=scale, shift=shift))
        g = leaf(r.normal(c, scale=0.3, shift=1.0))
        b = leaf(r.normal(c, scale=0.3))
        rm0 = r.normal(c, scale=0.5, shift=shift * 0.5)
        rv0 = r.uniform(0.5, 2.0, c) * scale * scale
        rm, rv = rm0.clone(), rv0.clone()
        out = F.batch_norm(x, rm, rv, g, b, training=train, momentum=momentum, eps=eps)
        dout = r.normal(*out.shape)
        backward(out, dout)
        meta = dict(n=n, c=c, h=h, w=w, eps=repr(eps), momentum=repr(momentum))
        t = dict(inp=x, gamma=g, beta=b, running_mean=rm0, running_var=rv0, out=out, dout=dout,
                 dinp=x.grad, dgamma=g.grad, dbeta=b.grad)
        if train:
            xd = x.detach()
            t.update(mean=xd.mean((0, 2, 3)),
                     rstd=1 / torch.sqrt(xd.var((0, 2, 3), unbiased=False) + eps),
                     running_mean_out=rm, running_var_out=rv)
        return meta, t


bn_case("effnet", True, 3, 4, 5, 3, 1e-3, 0.01)
bn_case("resnet_shifted", True, 2, 5, 4, 4, 1e-5, 0.1, shift=3.0, scale=2.0)
bn_case("hw1_attn", True, 4, 6, 1, 1, 1e-5, 0.1)
bn_case("effnet", False, 3, 4, 5, 3, 1e-3, 0.01)
bn_case("resnet_shifted", False, 2, 5, 4, 4, 1e-5, 0.1, shift=3.0, scale=2.0)

# ---- activations ----


def act_case(op, fn):
    @case(op, "basic")
    def run(r):
        x = leaf(r.normal(2, 3, 4, 5, scale=2.0))
        out = fn(x)
        dout = r.normal(*out.shape)
        backward(out, dout)
        return dict(numel=x.numel()), dict(inp=x, out=out, dout=dout, dinp=x.grad)


act_case("swish", F.silu)
act_case("relu", F.relu)
act_case("sigmoid", torch.sigmoid)

# ---- pooling ----


@case("global_avgpool", "basic")
def _gap(r):
    x = leaf(r.normal(2, 5, 3, 4))
    out = x.mean((2, 3))
    dout = r.normal(*out.shape)
    backward(out, dout)
    return dict(n=2, c=5, h=3, w=4), dict(inp=x, out=out, dout=dout, dinp=x.grad)


def pool_case(op, name, n, c, h, w, k, s, p, ceil, include_pad=True):
    @case(op, name)
    def run(r):
        x = leaf(r.normal(n, c, h, w))
        if op == "maxpool":
            out = F.max_pool2d(x, k, s, p, ceil_mode=ceil)
        else:
            out = F.avg_pool2d(x, k, s, p, ceil_mode=ceil, count_include_pad=include_pad)
        dout = r.normal(*out.shape)
        backward(out, dout)
        meta = dict(n=n, c=c, h=h, w=w, k=k, s=s, pad=p, ceil_mode=int(ceil),
                    count_include_pad=int(include_pad))
        return meta, dict(inp=x, out=out, dout=dout, dinp=x.grad)


pool_case("maxpool", "k3s2p1_odd", 2, 3, 9, 9, 3, 2, 1, False)
pool_case("maxpool", "k3s2p1_even", 2, 3, 8, 10, 3, 2, 1, False)
pool_case("maxpool", "k2s2_ceil", 1, 2, 7, 5, 2, 2, 0, True)
pool_case("avgpool", "k2s2_ceil_nopad_odd", 2, 3, 7, 9, 2, 2, 0, True, False)
pool_case("avgpool", "k3s1p1_incpad", 2, 3, 6, 5, 3, 1, 1, False, True)
pool_case("avgpool", "k3s2p1_incpad", 2, 3, 9, 8, 3, 2, 1, False, True)
pool_case("avgpool", "k3s2p1_ceil_incpad", 1, 2, 8, 8, 3, 2, 1, True, True)
pool_case("avgpool", "k3s2p1_nopad", 2, 2, 7, 6, 3, 2, 1, False, False)

# ---- linear and elementwise ----


def linear_case(name, n, fin, fout, bias):
    @case("linear", name)
    def run(r):
        x = leaf(r.normal(n, fin))
        wt = leaf(r.normal(fout, fin, scale=1 / math.sqrt(fin)))
        b = leaf(r.normal(fout, scale=0.5)) if bias else None
        out = F.linear(x, wt, b)
        dout = r.normal(*out.shape)
        backward(out, dout)
        t = dict(inp=x, weight=wt, out=out, dout=dout, dinp=x.grad, dweight=wt.grad)
        if bias:
            t.update(bias=b, dbias=b.grad)
        return dict(n=n, in_f=fin, out_f=fout, bias=int(bias)), t


linear_case("bias", 3, 10, 7, True)
linear_case("nobias", 4, 6, 5, False)


@case("add", "basic")
def _add(r):
    a, b = leaf(r.normal(2, 3, 4, 5)), leaf(r.normal(2, 3, 4, 5))
    out = a + b
    dout = r.normal(*out.shape)
    backward(out, dout)
    return dict(numel=a.numel()), dict(a=a, b=b, out=out, dout=dout, da=a.grad, db=b.grad)


@case("channel_scale", "basic")
def _cscale(r):
    x, s = leaf(r.normal(2, 6, 3, 4)), leaf(r.uniform(0, 1, 2, 6))
    out = x * s[:, :, None, None]
    dout = r.normal(*out.shape)
    backward(out, dout)
    return dict(n=2, c=6, hw=12), dict(inp=x, s=s, out=out, dout=dout, dinp=x.grad, ds=s.grad)


def dropout_case(name, p):
    @case("dropout", name)
    def run(r):
        x = leaf(r.normal(4, 30))
        torch.manual_seed(zlib.crc32(name.encode()))
        out = F.dropout(x, p, training=True)
        mask = out.detach() != 0  # inputs are never exactly 0
        dout = r.normal(*out.shape)
        backward(out, dout)
        return dict(numel=x.numel(), p=repr(p)), dict(inp=x, mask=mask, out=out, dout=dout,
                                                      dinp=x.grad)


dropout_case("p02", 0.2)
dropout_case("p05", 0.5)


@case("drop_connect", "rate02")
def _dropconnect(r):
    # EfficientNet-PyTorch: inputs / keep_prob * floor(keep_prob + U[0,1)), per sample.
    rate, n = 0.2, 6
    x = leaf(r.normal(n, 3, 2, 2))
    keep = torch.tensor([1, 0, 1, 1, 0, 1], dtype=torch.bool)
    out = x / (1 - rate) * keep.to(D)[:, None, None, None]
    dout = r.normal(*out.shape)
    backward(out, dout)
    return dict(n=n, inner=12, rate=repr(rate)), dict(inp=x, keep=keep, out=out, dout=dout,
                                                      dinp=x.grad)


def l2norm_case(name, rows, cols, eps, small_rows=()):
    @case("l2norm_rows", name)
    def run(r):
        x0 = r.normal(rows, cols)
        for i in small_rows:
            x0[i] *= 0.05
        x0 = x0.to(torch.float32).to(D)
        x = leaf(x0)
        out = F.normalize(x, p=2, dim=1, eps=eps)
        dout = r.normal(*out.shape)
        backward(out, dout)
        return dict(rows=rows, cols=cols, eps=repr(eps)), dict(inp=x, out=out, dout=dout,
                                                               dinp=x.grad)


l2norm_case("default", 5, 8, 1e-12)
l2norm_case("eps_clamped", 4, 6, 0.5, small_rows=(0, 2))


@case("cosine", "basic")
def _cosine(r):
    x, wt = leaf(r.normal(4, 10)), leaf(r.normal(7, 10, scale=0.3))
    out = F.normalize(x, dim=1) @ F.normalize(wt, dim=1).t()
    dout = r.normal(*out.shape)
    backward(out, dout)
    return dict(n=4, f=10, k=7), dict(inp=x, weight=wt, out=out, dout=dout, dinp=x.grad,
                                      dweight=wt.grad)

# ---- split attention (timm ResNeSt) ----


def rsoftmax_case(name, n, card, radix, inner):
    @case("radix_softmax", name)
    def run(r):
        x = leaf(r.normal(n, card * radix * inner, scale=2.0))
        if radix > 1:  # timm RadixSoftmax
            out = F.softmax(x.view(n, card, radix, -1).transpose(1, 2), dim=1).reshape(n, -1)
        else:
            out = torch.sigmoid(x)
        dout = r.normal(*out.shape)
        backward(out, dout)
        return dict(n=n, card=card, radix=radix, inner=inner), dict(inp=x, out=out, dout=dout,
                                                                    dinp=x.grad)


rsoftmax_case("card2_radix4", 2, 2, 4, 3)
rsoftmax_case("card1_radix2", 3, 1, 2, 5)
rsoftmax_case("card2_radix1_sigmoid", 2, 2, 1, 4)


def rsum_case(name, n, radix, c, h, w):
    @case("radix_sum", name)
    def run(r):
        x = leaf(r.normal(n, radix * c, h, w))
        out = x.view(n, radix, c, h, w).sum(1)
        dout = r.normal(*out.shape)
        backward(out, dout)
        return dict(n=n, radix=radix, c=c, hw=h * w), dict(inp=x, out=out, dout=dout, dinp=x.grad)


rsum_case("radix4", 2, 4, 3, 3, 2)
rsum_case("radix2", 3, 2, 5, 2, 2)


def rwsum_case(name, n, radix, c, h, w):
    @case("radix_weighted_sum", name)
    def run(r):
        x = leaf(r.normal(n, radix * c, h, w))
        a = leaf(r.uniform(0, 1, n, radix * c))
        if radix > 1:
            out = (x.view(n, radix, c, h, w) * a.view(n, radix, c, 1, 1)).sum(1)
        else:
            out = x * a[:, :, None, None]
        dout = r.normal(*out.shape)
        backward(out, dout)
        return dict(n=n, radix=radix, c=c, hw=h * w), dict(inp=x, attn=a, out=out, dout=dout,
                                                           dinp=x.grad, dattn=a.grad)


rwsum_case("radix4", 2, 4, 3, 3, 2)
rwsum_case("radix2", 3, 2, 5, 2, 2)
rwsum_case("radix1", 2, 1, 4, 2, 3)

# ---- losses ----


def smoothing_loss(logits, labels, eps, classes):
    """The original LabelSmoothingLoss (classes may differ from logits.shape[1])."""
    logp = logits.log_softmax(dim=-1)
    q = torch.full_like(logp, eps / (classes - 1))
    q.scatter_(1, labels[:, None], 1 - eps)
    return torch.mean(torch.sum(-q * logp, dim=-1))


def loss_case(op, name, n, c, eps=None, classes=None):
    @case(op, name)
    def run(r):
        z = leaf(r.normal(n, c, scale=2.0))
        y = r.ints(c, n)
        loss = F.cross_entropy(z, y) if op == "cross_entropy" else smoothing_loss(z, y, eps, classes)
        dloss = r.uniform(0.5, 1.5)
        backward(loss, dloss)
        meta = dict(n=n, c=c)
        if op == "label_smoothing":
            meta.update(eps=repr(eps), classes=classes)
        return meta, dict(logits=z, labels=y, loss=loss, dloss=dloss, dlogits=z.grad)


loss_case("cross_entropy", "c5", 6, 5)
loss_case("cross_entropy", "c88", 4, 88)
loss_case("label_smoothing", "c5", 6, 5, 0.1, 5)
loss_case("label_smoothing", "quirk_c5_classes88", 6, 5, 0.1, 88)
loss_case("label_smoothing", "c88", 4, 88, 0.1, 88)


def arcface_case(name, n, c, target, margin=0.1, scale=8.0):
    @case("arcface", name)
    def run(r):
        cs = leaf(r.uniform(-0.95, 0.95, n, c))
        y = torch.arange(n) % c
        in_set = torch.ones(c, dtype=torch.bool) if target is None else torch.tensor(target, dtype=torch.bool)
        theta = torch.acos(torch.clamp(cs, -1, 1))
        add = F.one_hot(y, c).to(D) * in_set[y].to(D)[:, None] * margin
        out = scale * torch.cos(theta + add)
        dout = r.normal(*out.shape)
        backward(out, dout)
        t = dict(cos=cs, labels=y, out=out, dout=dout, dcos=cs.grad)
        if target is not None:
            t["target"] = in_set
        return dict(n=n, c=c, margin=repr(margin), scale=repr(scale),
                    has_target=int(target is not None)), t


arcface_case("all", 6, 5, None)
arcface_case("subset", 7, 5, [0, 1, 1, 0, 1])

# ---- optimizers ----


def optim_case(op, name, n, steps, **cfg):
    @case(op, name)
    def run(r):
        p = torch.nn.Parameter(r.normal(n))
        p0 = p.detach().clone()
        grads = r.normal(steps, n, scale=0.5)
        if op == "adam":
            opt = torch.optim.Adam([p], lr=cfg["lr"], betas=(cfg["beta1"], cfg["beta2"]),
                                   eps=cfg["eps"], weight_decay=cfg["weight_decay"])
        else:
            opt = torch.optim.SGD([p], lr=cfg["lr"], momentum=cfg["momentum"],
                                  weight_decay=cfg["weight_decay"])
        traj = []
        for k in range(steps):
            p.grad = grads[k].clone()
            opt.step()
            traj.append(p.detach().clone())
        st = opt.state[p]
        t = dict(param=p0, grads=grads, params_after=torch.stack(traj))
        if op == "adam":
            t.update(m=st["exp_avg"], v=st["exp_avg_sq"])
        else:
            t.update(buf=st["momentum_buffer"])
        meta = {k: repr(v) for k, v in cfg.items()}
        meta.update(n=n, steps=steps)
        return meta, t


optim_case("adam", "default", 37, 4, lr=5e-5, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=1e-4)
optim_case("adam", "large_lr_wd", 37, 5, lr=1e-2, beta1=0.9, beta2=0.999, eps=1e-8,
           weight_decay=0.1)
optim_case("sgd", "default", 29, 4, lr=1e-2, momentum=0.9, weight_decay=5e-4)
optim_case("sgd", "large_wd", 29, 4, lr=5e-2, momentum=0.9, weight_decay=0.1)


def clip_case(name, scale, max_norm=2.0):
    @case("clip_grad_norm", name)
    def run(r):
        sizes = (20, 17, 13)
        ps = [torch.nn.Parameter(torch.zeros(k, dtype=D)) for k in sizes]
        g_in = r.normal(sum(sizes), scale=scale)
        for p, g in zip(ps, torch.split(g_in, sizes)):
            p.grad = g.clone()
        norm = torch.nn.utils.clip_grad_norm_(ps, max_norm)
        g_out = torch.cat([p.grad for p in ps])
        return dict(n=sum(sizes), max_norm=repr(max_norm)), dict(grad=g_in, grad_out=g_out,
                                                                  norm=norm)


clip_case("clipped", 1.0)
clip_case("unclipped", 0.1)


# ---- writing ----

def write_case(out_dir, op, name, fn):
    torch.manual_seed(0)
    meta, tensors = fn(Rand(f"{op}_{name}"))
    meta = {"op": op, "case": name, **{k: str(v) for k, v in meta.items()}}
    path = os.path.join(out_dir, f"{op}_{name}.safetensors")
    safetensors_py.save(path, {k: arr(v) for k, v in tensors.items()}, meta)
    return path


def write_io_fixtures(out_dir):
    """Small files written by NumPy and by safetensors_py for tests/test_io_tensors.c."""
    os.makedirs(out_dir, exist_ok=True)
    rs = np.random.RandomState(7)
    f4 = rs.standard_normal((2, 3, 4)).astype("<f4")
    np.save(os.path.join(out_dir, "f4_rank3.npy"), f4)
    np.save(os.path.join(out_dir, "f8_rank1.npy"), np.arange(5, dtype="<f8") / 4)
    np.save(os.path.join(out_dir, "i8_rank2.npy"), np.arange(6, dtype="<i8").reshape(3, 2) - 2)
    np.save(os.path.join(out_dir, "i4_scalar.npy"), np.array(-7, dtype="<i4"))
    np.save(os.path.join(out_dir, "u1_rank1.npy"), np.array([0, 1, 255], dtype="u1"))
    np.save(os.path.join(out_dir, "b1_rank2.npy"), np.array([[True, False], [False, True]]))
    np.save(os.path.join(out_dir, "f4_rank8.npy"), np.ones((1, 2, 1, 2, 1, 2, 1, 2), "<f4"))
    for v in ((2, 0), (3, 0)):
        with open(os.path.join(out_dir, f"f4_v{v[0]}.npy"), "wb") as f:
            np.lib.format.write_array(f, f4, version=v)
    np.save(os.path.join(out_dir, "bad_fortran.npy"), np.asfortranarray(f4))
    np.save(os.path.join(out_dir, "bad_bigendian.npy"), f4.astype(">f4"))
    obj = np.empty(2, dtype=object)
    obj[0], obj[1] = np.arange(3), np.arange(2)
    np.save(os.path.join(out_dir, "bad_object.npy"), obj, allow_pickle=True)

    tensors = {"weight": f4.reshape(6, 4), "bias": np.linspace(-1, 1, 4).astype("<f8"),
               "steps": np.array(3, dtype="<i8"), "idx": np.arange(4, dtype="<i4").reshape(2, 2),
               "empty": np.zeros((0, 3), "<f4")}
    safetensors_py.save(os.path.join(out_dir, "py_writer.safetensors"), tensors,
                        {"format": "pt", "note": "caf\u00e9 \"quoted\""})
    write_torch_style(os.path.join(out_dir, "torch_state.safetensors"))


def write_torch_style(path):
    """A state dict laid out as the `safetensors` package lays it out (data
    sorted by dtype size then name, 8-byte padding, {"format": "pt"}), with
    the header keys in yet another order, as a reader must not assume any."""
    torch.manual_seed(3)
    m = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3, bias=False), torch.nn.BatchNorm2d(4))
    m.train()
    m(torch.randn(2, 3, 5, 5))
    sd = {k: v.detach().numpy() for k, v in m.state_dict().items()}
    names = sorted(sd, key=lambda k: (-sd[k].dtype.itemsize, k))
    header, blobs, off = {}, [], 0
    for k in names:
        b = np.ascontiguousarray(sd[k]).tobytes()
        dt = {"float32": "F32", "int64": "I64"}[str(sd[k].dtype)]
        header[k] = {"dtype": dt, "shape": list(sd[k].shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    ordered = {"__metadata__": {"format": "pt"}}
    for k in sorted(header, reverse=True):
        ordered[k] = header[k]
    text = json.dumps(ordered, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default="tests/fixtures/ops", help="directory for the op fixtures")
    ap.add_argument("--io-out", help="also write the small I/O fixtures into this directory")
    ap.add_argument("--only", help="only cases whose file name contains this")
    ap.add_argument("--dtype", choices=("float64", "float32"), default="float64",
                    help="precision of the reference computation (float32: PyTorch's own "
                         "float32 rounding; the files are float32 either way)")
    args = ap.parse_args()
    global D
    D = getattr(torch, args.dtype)
    torch.set_num_threads(1)
    os.makedirs(args.out, exist_ok=True)
    total = 0
    for op, name, fn in CASES:
        if args.only and args.only not in f"{op}_{name}":
            continue
        path = write_case(args.out, op, name, fn)
        total += os.path.getsize(path)
    print(f"wrote {len(CASES)} fixtures ({total} bytes) to {args.out}")
    if args.io_out:
        write_io_fixtures(args.io_out)
        print(f"wrote I/O fixtures to {args.io_out}")


if __name__ == "__main__":
    main()
