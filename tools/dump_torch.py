#!/usr/bin/python3
"""Every module's output of a PyTorch model, written with the names that
`anomaly forward --dump` uses, so `anomaly compare` can diff the two:

    anomaly forward --model M --num_classes N --weights W --input X.npy --out Y.npy --dump ours.st
    /usr/bin/python3 tools/dump_torch.py --model M --num_classes N --weights W --input X.npy --out theirs.st
    anomaly compare ours.st theirs.st

The model code is the seed's own when it is installed: lukemelas
`efficientnet_pytorch` (EfficientNet.from_name) for efficientnet-b*, `timm`
(timm.create_model) for resnext50_32x4d, resnext101_32x8d and
resnest50d_4s2x40d. When the package is not importable (Debian packages
neither, and pip may have no network), the project's PyTorch twin
(tools/twin, the same modules and state-dict names written from torch
primitives) is used instead, and the tool says so on its first line;
--impl real|twin forces one.

W is one of our checkpoints (safetensors) or a PyTorch .pth state dict
(torch.load with weights_only=True; a 'state_dict' or 'model' wrapper and a
'module.' prefix are removed, an ArcFace head's old `_fc.weight` becomes
`_fc`). X is float32 NCHW, already normalised. Outputs of shape [N, C, 1, 1]
are stored as [N, C], as ours are. Eval mode; on CUDA, TF32 is switched off
(it would differ by about 1e-3) unless --allow_tf32. --logits Y.npy also
writes the model's logits (ArcFace: scale * cos).

--grads G.st --labels L.npy: then one train-mode pass (batch statistics,
dropout and drop-connect off) of the loss on the batch, and every
parameter's gradient under its state-dict name: what
`anomaly step ... --dropout 0 --drop_connect 0 --clipping 0 --weight_decay 0
--arc_targets all --grads G.st` writes (--criterion ce|smoothing, --arcloss).
"""
import argparse
import collections
import importlib
import os
import sys

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import convert_checkpoint  # noqa: E402
import safetensors_py  # noqa: E402
from twin import registry  # noqa: E402

REAL = {"efficientnet": "efficientnet_pytorch", "resnext": "timm", "resnest": "timm"}


def fail(msg):
    print(f"dump_torch: {msg}", file=sys.stderr)
    sys.exit(1)


def family(name):
    if name.startswith("efficientnet-"):
        return "efficientnet"
    return "resnest" if name.startswith("resnest") else "resnext"


def real_package(name):
    try:
        return importlib.import_module(REAL[family(name)])
    except ImportError:
        return None


class ArcHead(nn.Module):
    """A cosine head for the real packages' models (their `_fc` / `fc` is a
    Linear): cos = normalize(x) . normalize(W)^T."""

    def __init__(self, features, classes):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(classes, features))

    def forward(self, x):
        return F.linear(F.normalize(x, dim=1), F.normalize(self.weight, dim=1))


def build_real(pkg, a, train=False):
    if family(a.model) == "efficientnet":
        size = None if a.same_padding == "dynamic" else (a.image_size or None)
        over = {"num_classes": a.num_classes}
        if train:
            over.update(dropout_rate=0.0, drop_connect_rate=0.0)
        if a.same_padding == "dynamic" or size:
            over["image_size"] = size
        model = pkg.EfficientNet.from_name(a.model, **over)
        head, features = "_fc", model._fc.in_features
    else:
        extra = {"drop_rate": 0.0, "drop_path_rate": 0.0} if train else {}
        model = pkg.create_model(a.model, pretrained=False, num_classes=a.num_classes, **extra)
        head, features = "fc", model.fc.in_features
    if a.arcface:
        setattr(model, head, ArcHead(features, a.num_classes))
    return model


def make_model(pkg, a, sd, train=False):
    """The model with the weights loaded: the twin (pkg None) or the real one."""
    drop = 0.0 if train else None
    if pkg is None:
        twin = registry.build(a.model, a.num_classes, arcface=a.arcface, same_padding=a.same_padding,
                              image_size=a.image_size or None, arc_scale=a.scale, dropout=drop,
                              drop_connect=drop)
        return registry.load_into(twin, sd)
    model = build_real(pkg, a, train)
    if a.arcface and "_fc" in sd:  # our bare parameter is the ArcHead's weight
        sd = collections.OrderedDict(("_fc.weight" if k == "_fc" else k, v) for k, v in sd.items())
    try:
        model.load_state_dict(sd, strict=True)
    except RuntimeError as e:
        fail(f"{a.weights} does not fit {pkg.__name__}'s {a.model}: {e}")
    return model


def write_grads(model, x, a):
    """One train-mode pass of the loss; every parameter's gradient."""
    try:
        labels = torch.from_numpy(np.load(a.labels)).to(a.device)
    except (OSError, ValueError) as e:
        fail(f"cannot read {a.labels}: {e}")
    if labels.dtype != torch.int64 or tuple(labels.shape) != (x.shape[0],):
        fail(f"{a.labels}: expected int64 [{x.shape[0]}], got {labels.dtype} {tuple(labels.shape)}")
    out = model(x)
    if a.arcface:
        # ArcFace: the margin on the true class's angle (every sample: --arc_targets all)
        margin = a.margin if a.arcloss == "arcface" else 0.0
        theta = torch.acos(torch.clamp(out, -1, 1))
        out = a.scale * torch.cos(theta + margin * F.one_hot(labels, a.num_classes).to(out.dtype))
    if a.criterion == "ce":
        loss = F.cross_entropy(out, labels)
    else:
        eps = 0.1
        q = torch.full_like(out, eps / (a.num_classes - 1))
        q.scatter_(1, labels[:, None], 1 - eps)
        loss = (-(q * F.log_softmax(out, dim=1)).sum(1)).mean()
    loss.backward()
    grads = collections.OrderedDict()
    for n, p in model.named_parameters():
        name = "_fc" if a.arcface and n == "_fc.weight" and family(a.model) == "efficientnet" else n
        grads[name] = p.grad.detach().float().cpu().numpy()
    safetensors_py.save(a.grads, grads, {"model": a.model, "loss": f"{loss.item():.9g}"})
    print(f"wrote {a.grads}: {len(grads)} gradients, loss {loss.item():.9g}")


def load_weights(path):
    try:
        with open(path, "rb") as f:
            zipped = f.read(2) == b"PK"  # torch.save's zip format, whatever the name
    except OSError as e:
        fail(f"cannot read {path}: {e.strerror}")
    if not zipped:
        try:
            sd, _ = registry.load_safetensors(path)
        except (OSError, ValueError, KeyError) as e:
            fail(f"cannot read {path}: {e}")
    else:
        try:
            sd = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as e:  # torch raises several pickle errors
            fail(f"cannot read {path}: {e}")
    return convert_checkpoint.unwrap(sd) if isinstance(sd, dict) else fail(f"{path}: not a state dict")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True, help=", ".join(registry.NAMES))
    ap.add_argument("--num_classes", type=int, required=True)
    ap.add_argument("--arcface", action="store_true", help="the cosine head (state-dict key _fc, or fc.weight)")
    ap.add_argument("--scale", type=float, default=8.0, help="ArcFace logit scale for --logits")
    ap.add_argument("--same_padding", choices=("static", "dynamic"), default="static")
    ap.add_argument("--image_size", type=int, default=0, help="size the static pads are computed for (0: native)")
    ap.add_argument("--weights", required=True, help="our safetensors checkpoint or a PyTorch .pth state dict")
    ap.add_argument("--input", required=True, help="float32 NCHW .npy, normalised")
    ap.add_argument("--out", required=True, help="the safetensors dump to write")
    ap.add_argument("--logits", help="also write the logits to this .npy")
    ap.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1, ...")
    ap.add_argument("--impl", choices=("auto", "real", "twin"), default="auto",
                    help="the seed's packages (real), the project's twin, or real when installed (auto)")
    ap.add_argument("--allow_tf32", action="store_true", help="keep CUDA's TF32 convolutions and matmuls")
    ap.add_argument("--grads", help="also write one train-mode pass's gradients here (needs --labels)")
    ap.add_argument("--labels", help="int64 [N] .npy of class indices, for --grads")
    ap.add_argument("--criterion", choices=("ce", "smoothing"), default="smoothing")
    ap.add_argument("--arcloss", choices=("none", "arcface"), default="none")
    ap.add_argument("--margin", type=float, default=0.1)
    a = ap.parse_args(argv)
    if a.model not in registry.NAMES:
        fail(f"unknown model {a.model!r}; known: {', '.join(registry.NAMES)}")
    if not a.allow_tf32:
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False

    if a.grads and not a.labels:
        fail("--grads needs --labels")
    pkg = None if a.impl == "twin" else real_package(a.model)
    if a.impl == "real" and pkg is None:
        fail(f"--impl real: the package {REAL[family(a.model)]} is not installed")
    sd = load_weights(a.weights)
    if pkg is None:
        print(f"dump_torch: {a.model} from the project's twin (tools/twin; "
              f"{REAL[family(a.model)]} is {'not installed' if a.impl == 'auto' else 'not used'})")
    else:
        print(f"dump_torch: {a.model} from {pkg.__name__} {getattr(pkg, '__version__', '')}".rstrip())
    names = registry.dump_names(make_model(None, a, sd))
    model = make_model(pkg, a, sd).to(a.device).eval()
    try:
        x = torch.from_numpy(np.load(a.input)).to(a.device)
    except (OSError, ValueError) as e:
        fail(f"cannot read {a.input}: {e}")
    if x.dtype != torch.float32 or x.dim() != 4:
        fail(f"{a.input}: expected a float32 array of rank 4, got {x.dtype} {tuple(x.shape)}")
    with torch.no_grad():
        out, seen = registry.capture(model, x, names)
    missing = [n for n in names if n not in seen]
    if missing:
        fail(f"modules that never ran: {', '.join(missing[:5])}")
    arrays = collections.OrderedDict()
    for n in names:
        t = seen[n].float().cpu()
        if t.dim() == 4 and t.shape[2] == 1 and t.shape[3] == 1:
            t = t.flatten(1)
        arrays[n] = t.numpy()
    safetensors_py.save(a.out, arrays, {"model": a.model, "impl": pkg.__name__ if pkg else "twin",
                                        "device": a.device})
    if a.logits:
        y = (out * a.scale if a.arcface else out).float().cpu().numpy()
        np.save(a.logits, y)
    print(f"wrote {a.out}: {len(arrays)} module outputs")
    if a.grads:
        write_grads(make_model(pkg, a, sd, train=True).to(a.device).train(), x, a)


if __name__ == "__main__":
    main()
