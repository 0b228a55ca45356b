"""ResNeSt (timm's resnest50d_4s2x40d, the seed's --model_name default) in
torch primitives, with timm's state-dict names and op order.

What timm does for this variant, and what is easy to get wrong:
- deep stem: conv1.0 3x3 s2 3->32, conv1.1 BN, ReLU, conv1.3 3x3 32->32,
  conv1.4 BN, ReLU, conv1.6 3x3 32->64; then bn1, ReLU, maxpool 3x3 s2 p1.
- block width (conv1 out, conv2 in/out): group_width =
  int(planes * base_width / 64) * cardinality = 80, 160, 320, 640.
- avd + avd_first: a block that strides moves its stride to an AvgPool2d(3,
  stride, padding 1, count_include_pad) placed after conv1/bn1/ReLU and before
  the split-attention conv, which then runs at stride 1. timm passes no
  is_first, so the first block of layer1 (stride 1) has no pool.
- split attention (conv2.*): grouped 3x3 to radix*C (groups card*radix), bn0,
  ReLU; the radix splits are the outer channel index (split r = channels
  [r*C, (r+1)*C)); their sum is pooled, fc1 (grouped 1x1 with bias, groups
  card) -> bn1 -> ReLU -> fc2 (grouped 1x1 with bias) to radix*C; fc2's
  channels are ordered (card, radix, C/card) and the softmax runs over radix
  within each cardinal group; the output is the attention-weighted sum of the
  splits. There is no bn2/ReLU after it (timm's Identity).
- attention width make_divisible(C*radix*0.25, divisor 8, min 32): round to
  nearest multiple of 8 (int(v + 4)//8*8), at least 32, +8 if that lost more
  than 10 % (= C here: 80, 160, 320, 640).
- "d" shortcut on the first block of every layer: downsample.0 =
  AvgPool2d(2, 2, ceil_mode, count_include_pad=False) when the layer strides,
  Identity in layer1 (no parameters either way), downsample.1 1x1 conv,
  downsample.2 BN.
- every block ends with ReLU after the residual add; BN eps 1e-5, momentum 0.1.
"""
import torch
from torch import nn
from torch.nn import functional as F

# name: (blocks per layer, stem width, cardinality, base width, radix)
CONFIGS = {
    "resnest50d_4s2x40d": ((3, 4, 6, 3), 32, 2, 40, 4),
}


def make_divisible(v, divisor=8, min_value=None, round_limit=0.9):
    min_value = min_value or divisor
    new = max(min_value, int(v + divisor / 2) // divisor * divisor)
    if new < round_limit * v:
        new += divisor
    return new


class SplitAttn(nn.Module):
    def __init__(self, channels, stride, cardinality, radix):
        super().__init__()
        self.radix, self.cardinality = radix, cardinality
        mid = channels * radix
        attn = make_divisible(channels * radix * 0.25, 8, 32)
        self.conv = nn.Conv2d(channels, mid, 3, stride, 1, groups=cardinality * radix, bias=False)
        self.bn0 = nn.BatchNorm2d(mid)
        self.act0 = nn.ReLU()
        self.fc1 = nn.Conv2d(channels, attn, 1, groups=cardinality)
        self.bn1 = nn.BatchNorm2d(attn)
        self.act1 = nn.ReLU()
        self.fc2 = nn.Conv2d(attn, mid, 1, groups=cardinality)

    def radix_softmax(self, a):
        n = a.shape[0]
        if self.radix == 1:
            return torch.sigmoid(a).reshape(n, -1)
        a = a.view(n, self.cardinality, self.radix, -1).transpose(1, 2)
        return F.softmax(a, dim=1).reshape(n, -1)

    def forward(self, x):
        x = self.act0(self.bn0(self.conv(x)))
        n, rc, h, w = x.shape
        if self.radix > 1:
            x = x.reshape(n, self.radix, rc // self.radix, h, w)
            gap = x.sum(dim=1)
        else:
            gap = x
        gap = gap.mean((2, 3), keepdim=True)
        gap = self.act1(self.bn1(self.fc1(gap)))
        attn = self.radix_softmax(self.fc2(gap))
        if self.radix > 1:
            return (x * attn.reshape(n, self.radix, rc // self.radix, 1, 1)).sum(dim=1)
        return x * attn.view(n, -1, 1, 1)


class ResNestBottleneck(nn.Module):
    expansion = 4

    def __init__(self, inplanes, planes, stride, cardinality, base_width, radix, downsample=None):
        super().__init__()
        width = int(planes * (base_width / 64.0)) * cardinality
        self.conv1 = nn.Conv2d(inplanes, width, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.act1 = nn.ReLU()
        # avd_first: the stride moves from the 3x3 to a pool before it
        self.avd_first = nn.AvgPool2d(3, stride, padding=1) if stride > 1 else None
        self.conv2 = SplitAttn(width, 1, cardinality, radix)
        self.conv3 = nn.Conv2d(width, planes * 4, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * 4)
        self.act3 = nn.ReLU()
        self.downsample = downsample

    def forward(self, x):
        out = self.act1(self.bn1(self.conv1(x)))
        if self.avd_first is not None:
            out = self.avd_first(out)
        out = self.bn3(self.conv3(self.conv2(out)))
        shortcut = x if self.downsample is None else self.downsample(x)
        return self.act3(out + shortcut)


class ResNeSt(nn.Module):
    head_name = "fc"

    def __init__(self, name, num_classes):
        super().__init__()
        if name not in CONFIGS:
            raise ValueError(f"unknown ResNeSt {name!r}; known: {', '.join(CONFIGS)}")
        layers, stem, cardinality, base_width, radix = CONFIGS[name]
        self.model_name = name
        inplanes = stem * 2
        self.conv1 = nn.Sequential(
            nn.Conv2d(3, stem, 3, 2, 1, bias=False), nn.BatchNorm2d(stem), nn.ReLU(),
            nn.Conv2d(stem, stem, 3, 1, 1, bias=False), nn.BatchNorm2d(stem), nn.ReLU(),
            nn.Conv2d(stem, inplanes, 3, 1, 1, bias=False))
        self.bn1 = nn.BatchNorm2d(inplanes)
        self.act1 = nn.ReLU()
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        for i, (n, planes) in enumerate(zip(layers, (64, 128, 256, 512))):
            stride = 1 if i == 0 else 2
            pool = (nn.AvgPool2d(2, stride, ceil_mode=True, count_include_pad=False)
                    if stride > 1 else nn.Identity())
            down = nn.Sequential(pool, nn.Conv2d(inplanes, planes * 4, 1, bias=False),
                                 nn.BatchNorm2d(planes * 4))
            blocks = [ResNestBottleneck(inplanes, planes, stride, cardinality, base_width, radix, down)]
            inplanes = planes * 4
            blocks += [ResNestBottleneck(inplanes, planes, 1, cardinality, base_width, radix)
                       for _ in range(n - 1)]
            self.add_module(f"layer{i + 1}", nn.Sequential(*blocks))
        self.num_features = 512 * 4
        self.fc = nn.Linear(self.num_features, num_classes)

    def features(self, x):
        x = self.maxpool(self.act1(self.bn1(self.conv1(x))))
        for i in range(1, 5):
            x = getattr(self, f"layer{i}")(x)
        return x

    def forward(self, x):
        return self.fc(self.features(x).mean((2, 3)))


def dump_names(model):
    """Module names a layer-by-layer dump should report, in forward order
    (BN outputs before their ReLU; a block's output after its final ReLU)."""
    out = ["conv1.0", "conv1.1", "conv1.3", "conv1.4", "conv1.6", "bn1", "maxpool"]
    for i in range(1, 5):
        for j, b in enumerate(getattr(model, f"layer{i}")):
            p = f"layer{i}.{j}"
            out += [f"{p}.conv1", f"{p}.bn1"]
            if b.avd_first is not None:
                out.append(f"{p}.avd_first")
            out += [f"{p}.conv2.conv", f"{p}.conv2.bn0", f"{p}.conv2.fc1", f"{p}.conv2.bn1",
                    f"{p}.conv2.fc2", f"{p}.conv2", f"{p}.conv3", f"{p}.bn3"]
            if b.downsample is not None:
                if not isinstance(b.downsample[0], nn.Identity):
                    out.append(f"{p}.downsample.0")
                out += [f"{p}.downsample.1", f"{p}.downsample.2"]
            out.append(p)
        out.append(f"layer{i}")  # the layer's output: its last block's
    return out + ["fc"]
