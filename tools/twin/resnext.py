"""ResNeXt (resnext50_32x4d, resnext101_32x8d) in torch primitives, with the
torchvision / timm state-dict names and op order, so a torchvision state dict
loads strictly and gives the same logits bit for bit."""
import torch
from torch import nn

# name: (blocks per layer, cardinality, base width)
CONFIGS = {
    "resnext50_32x4d": ((3, 4, 6, 3), 32, 4),
    "resnext101_32x8d": ((3, 4, 23, 3), 32, 8),
}


class Bottleneck(nn.Module):
    """1x1 -> grouped 3x3 (carries the stride) -> 1x1 to planes*4, ReLU after
    the residual add."""
    expansion = 4

    def __init__(self, inplanes, planes, stride, cardinality, base_width, downsample=None):
        super().__init__()
        width = int(planes * (base_width / 64.0)) * cardinality
        self.conv1 = nn.Conv2d(inplanes, width, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, stride, 1, groups=cardinality, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = nn.Conv2d(width, planes * 4, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * 4)
        self.relu = nn.ReLU()
        self.downsample = downsample

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        # torchvision's order (shortcut after the main branch) keeps forward
        # hooks firing in the same sequence; no in-place ops, so a hook's
        # saved output is never overwritten later
        identity = x if self.downsample is None else self.downsample(x)
        return self.relu(out + identity)


class ResNeXt(nn.Module):
    head_name = "fc"

    def __init__(self, name, num_classes):
        super().__init__()
        if name not in CONFIGS:
            raise ValueError(f"unknown ResNeXt {name!r}; known: {', '.join(CONFIGS)}")
        layers, cardinality, base_width = CONFIGS[name]
        self.model_name = name
        self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU()
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        inplanes = 64
        for i, (n, planes) in enumerate(zip(layers, (64, 128, 256, 512))):
            stride = 1 if i == 0 else 2
            down = nn.Sequential(nn.Conv2d(inplanes, planes * 4, 1, stride, bias=False),
                                 nn.BatchNorm2d(planes * 4))
            blocks = [Bottleneck(inplanes, planes, stride, cardinality, base_width, down)]
            inplanes = planes * 4
            blocks += [Bottleneck(inplanes, planes, 1, cardinality, base_width) for _ in range(n - 1)]
            self.add_module(f"layer{i + 1}", nn.Sequential(*blocks))
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.num_features = 512 * 4
        self.fc = nn.Linear(self.num_features, num_classes)

    def features(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        for i in range(1, 5):
            x = getattr(self, f"layer{i}")(x)
        return x

    def forward(self, x):
        return self.fc(torch.flatten(self.avgpool(self.features(x)), 1))


def dump_names(model):
    """Module names a layer-by-layer dump should report, in forward order
    (bn outputs are before their ReLU; a block's output is after its ReLU)."""
    out = ["conv1", "bn1", "maxpool"]
    for i in range(1, 5):
        for j, b in enumerate(getattr(model, f"layer{i}")):
            p = f"layer{i}.{j}"
            out += [f"{p}.conv1", f"{p}.bn1", f"{p}.conv2", f"{p}.bn2", f"{p}.conv3", f"{p}.bn3"]
            if b.downsample is not None:
                out += [f"{p}.downsample.0", f"{p}.downsample.1"]
            out.append(p)
        out.append(f"layer{i}")  # the layer's output: its last block's
    return out + ["fc"]
