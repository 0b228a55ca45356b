"""EfficientNet-B0..B7 in torch primitives, numerically as lukemelas'
EfficientNet-PyTorch (the seed's model), with its state-dict names.

The one subtle part is TensorFlow "SAME" padding. lukemelas builds every conv
with *static* pads: they are computed once, at construction, from the image
size that conv would see if the input had the model's native resolution, and
kept whatever the real input is. The image size is threaded through the
network as it is built: the stem sees the native size, every block's expand
and depthwise conv see the size current at that block (the size before its
stride), and after each strided layer the size becomes ceil(size / stride).
Repeats of a stage all see the stage's output size. 1x1 convs never pad.
Stride-1 convs always pad k-1 (split evenly), so only the stride-2 layers
(the stem and the first depthwise conv of stages 2, 3, 4 and 6) can differ
from per-input ("dynamic") SAME, and only when the parity of the real size at
that layer differs from the native one.
"""
import math

import torch
from torch import nn
from torch.nn import functional as F

# name: (width, depth, native resolution, dropout)
COEFFS = {
    "efficientnet-b0": (1.0, 1.0, 224, 0.2),
    "efficientnet-b1": (1.0, 1.1, 240, 0.2),
    "efficientnet-b2": (1.1, 1.2, 260, 0.3),
    "efficientnet-b3": (1.2, 1.4, 300, 0.3),
    "efficientnet-b4": (1.4, 1.8, 380, 0.4),
    "efficientnet-b5": (1.6, 2.2, 456, 0.4),
    "efficientnet-b6": (1.8, 2.6, 528, 0.5),
    "efficientnet-b7": (2.0, 3.1, 600, 0.5),
}

# (repeats, kernel, stride, expand, in, out) before width/depth scaling.
STAGES = (
    (1, 3, 1, 1, 32, 16),
    (2, 3, 2, 6, 16, 24),
    (2, 5, 2, 6, 24, 40),
    (3, 3, 2, 6, 40, 80),
    (3, 5, 1, 6, 80, 112),
    (4, 5, 2, 6, 112, 192),
    (1, 3, 1, 6, 192, 320),
)

SE_RATIO = 0.25
BN_EPS = 1e-3
# TensorFlow's 0.99 in PyTorch's convention, computed as lukemelas does:
# 1 - 0.99 = 0.010000000000000009, not 0.01, which shows in float64 stats
BN_MOMENTUM = 1 - 0.99
DROP_CONNECT = 0.2
DIVISOR = 8


def round_filters(filters, width):
    scaled = filters * width
    new = max(DIVISOR, int(scaled + DIVISOR / 2) // DIVISOR * DIVISOR)
    if new < 0.9 * scaled:  # never round down by more than 10 %
        new += DIVISOR
    return int(new)


def round_repeats(repeats, depth):
    return int(math.ceil(depth * repeats))


def same_pads(size, k, s):
    """TF SAME pads (left, right, top, bottom), F.pad's order, for an input
    of `size` (int or (h, w)); the odd pixel goes right/bottom."""
    h, w = (size, size) if isinstance(size, int) else size
    out = []
    for i in (w, h):
        o = -(-i // s)
        p = max((o - 1) * s + k - i, 0)
        out += [p // 2, p - p // 2]
    return tuple(out)


def out_size(size, s):
    h, w = (size, size) if isinstance(size, int) else size
    return (-(-h // s), -(-w // s))


class SameConv2d(nn.Conv2d):
    """Conv2d with TF SAME padding. `image_size` given: static pads for that
    size, kept for any input (lukemelas' Conv2dStaticSamePadding); None:
    computed from each input (Conv2dDynamicSamePadding)."""

    def __init__(self, cin, cout, k, stride=1, groups=1, bias=False, image_size=None):
        super().__init__(cin, cout, k, stride, padding=0, groups=groups, bias=bias)
        self.static_pads = None if image_size is None else same_pads(image_size, k, stride)

    def pads_for(self, x):
        if self.static_pads is not None:
            return self.static_pads
        return same_pads(tuple(x.shape[-2:]), self.kernel_size[0], self.stride[0])

    def forward(self, x):
        pads = self.pads_for(x)
        if any(pads):
            x = F.pad(x, pads)
        return F.conv2d(x, self.weight, self.bias, self.stride, 0, 1, self.groups)


class _SwishFn(torch.autograd.Function):
    """x*sigmoid(x) with lukemelas' MemoryEfficientSwish gradient formula
    (the default in the seed), s*(1 + x*(1 - s)), which rounds differently
    from autograd's s + x*s*(1 - s)."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * torch.sigmoid(x)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        s = torch.sigmoid(x)
        return g * (s * (1 + x * (1 - s)))


def swish(x):
    return _SwishFn.apply(x)


def drop_connect(x, rate, training):
    """Per-sample stochastic depth, as lukemelas: keep with p = 1 - rate and
    scale the kept samples by 1/(1 - rate)."""
    if not training or not rate:
        return x
    keep = 1.0 - rate
    mask = torch.floor(keep + torch.rand([x.shape[0], 1, 1, 1], dtype=x.dtype, device=x.device))
    return x / keep * mask


class MBConvBlock(nn.Module):
    """Inverted bottleneck: [expand 1x1] -> depthwise kxk -> SE -> project 1x1,
    identity skip (with drop-connect) when stride 1 and in == out."""

    def __init__(self, cin, cout, k, stride, expand, image_size=None):
        super().__init__()
        mid = cin * expand
        self.expand, self.stride = expand, stride
        self.skip = stride == 1 and cin == cout
        if expand != 1:
            self._expand_conv = SameConv2d(cin, mid, 1, image_size=image_size)
            self._bn0 = nn.BatchNorm2d(mid, eps=BN_EPS, momentum=BN_MOMENTUM)
        self._depthwise_conv = SameConv2d(mid, mid, k, stride, groups=mid, image_size=image_size)
        self._bn1 = nn.BatchNorm2d(mid, eps=BN_EPS, momentum=BN_MOMENTUM)
        # the squeeze width follows the block's *input* channels, not mid
        squeezed = max(1, int(cin * SE_RATIO))
        se_size = None if image_size is None else (1, 1)
        self._se_reduce = SameConv2d(mid, squeezed, 1, bias=True, image_size=se_size)
        self._se_expand = SameConv2d(squeezed, mid, 1, bias=True, image_size=se_size)
        after = None if image_size is None else out_size(image_size, stride)
        self._project_conv = SameConv2d(mid, cout, 1, image_size=after)
        self._bn2 = nn.BatchNorm2d(cout, eps=BN_EPS, momentum=BN_MOMENTUM)
        self.drop_connect_rate = 0.0  # set by the network from the block index

    def forward(self, inputs):
        x = inputs
        if self.expand != 1:
            x = swish(self._bn0(self._expand_conv(x)))
        x = swish(self._bn1(self._depthwise_conv(x)))
        s = F.adaptive_avg_pool2d(x, 1)
        s = self._se_expand(swish(self._se_reduce(s)))
        x = torch.sigmoid(s) * x
        x = self._bn2(self._project_conv(x))
        if self.skip:
            x = drop_connect(x, self.drop_connect_rate, self.training) + inputs
        return x


class EfficientNet(nn.Module):
    head_name = "_fc"

    def __init__(self, name, num_classes, same_padding="static", image_size=None,
                 dropout=None, drop_connect_rate=None):
        super().__init__()
        if name not in COEFFS:
            raise ValueError(f"unknown EfficientNet {name!r}; known: {', '.join(COEFFS)}")
        if same_padding not in ("static", "dynamic"):
            raise ValueError(f"same_padding must be 'static' or 'dynamic', not {same_padding!r}")
        width, depth, native, default_dropout = COEFFS[name]
        self.model_name = name
        self.native_size = native
        self.same_padding = same_padding
        size = (image_size or native) if same_padding == "static" else None
        self.pad_image_size = size
        self.dropout_rate = default_dropout if dropout is None else dropout
        dc = DROP_CONNECT if drop_connect_rate is None else drop_connect_rate

        stem = round_filters(32, width)
        self._conv_stem = SameConv2d(3, stem, 3, 2, image_size=size)
        self._bn0 = nn.BatchNorm2d(stem, eps=BN_EPS, momentum=BN_MOMENTUM)
        size = None if size is None else out_size(size, 2)

        blocks = []
        for repeats, k, s, e, cin, cout in STAGES:
            cin, cout = round_filters(cin, width), round_filters(cout, width)
            for r in range(round_repeats(repeats, depth)):
                first = r == 0
                blocks.append(MBConvBlock(cin if first else cout, cout, k, s if first else 1, e, size))
                if first and size is not None:
                    size = out_size(size, s)
            last = cout
        self._blocks = nn.ModuleList(blocks)
        for i, b in enumerate(self._blocks):
            b.drop_connect_rate = dc * i / len(self._blocks)

        self.num_features = round_filters(1280, width)
        self._conv_head = SameConv2d(last, self.num_features, 1, image_size=size)
        self._bn1 = nn.BatchNorm2d(self.num_features, eps=BN_EPS, momentum=BN_MOMENTUM)
        self._avg_pooling = nn.AdaptiveAvgPool2d(1)
        self._dropout = nn.Dropout(self.dropout_rate)
        self._fc = nn.Linear(self.num_features, num_classes)

    def features(self, x):
        x = swish(self._bn0(self._conv_stem(x)))
        for b in self._blocks:
            x = b(x)
        return swish(self._bn1(self._conv_head(x)))

    def forward(self, x):
        x = self._dropout(self._avg_pooling(self.features(x)).flatten(1))
        if isinstance(self._fc, nn.Parameter):  # ArcFace: cos = normalize(x) . normalize(W)^T
            return F.linear(F.normalize(x, dim=1), F.normalize(self._fc, dim=1))
        return self._fc(x)


def pad_table(model, input_size=None):
    """[(module name, kernel, stride, input size, static pads, dynamic pads)]
    for every conv with k > 1, at `input_size` (default: the native size).
    Sizes follow the real tensors (static pads can shrink an odd input)."""
    size = input_size or model.native_size
    rows, seen = [], []

    def hook(mod, inp, _out):
        seen.append((mod, tuple(inp[0].shape[-2:])))

    names = {m: n for n, m in model.named_modules()}
    handles = [m.register_forward_hook(hook) for m in model.modules()
               if isinstance(m, SameConv2d) and m.kernel_size[0] > 1]
    was_training = model.training
    model.eval()  # a train-mode pass would move the BN running statistics
    try:
        param = next(model.parameters())
        with torch.no_grad():
            model.features(torch.zeros(1, 3, size, size, dtype=param.dtype))
    finally:
        model.train(was_training)
        for h in handles:
            h.remove()
    for mod, hw in seen:
        k, s = mod.kernel_size[0], mod.stride[0]
        dyn = same_pads(hw, k, s)
        rows.append((names[mod], k, s, hw, mod.static_pads or dyn, dyn))
    return rows


def dump_names(model):
    """Module names a layer-by-layer dump should report, in forward order."""
    out = ["_conv_stem", "_bn0"]
    for i, b in enumerate(model._blocks):
        p = f"_blocks.{i}"
        if b.expand != 1:
            out += [f"{p}._expand_conv", f"{p}._bn0"]
        out += [f"{p}._depthwise_conv", f"{p}._bn1", f"{p}._se_reduce", f"{p}._se_expand",
                f"{p}._project_conv", f"{p}._bn2", p]
    return out + ["_conv_head", "_bn1", "_avg_pooling", "_fc"]
