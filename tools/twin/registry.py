"""One entry point for the PyTorch twins: build a model by name, initialise
it from a seed, move its state dict to and from safetensors, and capture
named module outputs for layer-by-layer comparison with the C code."""
import collections
import os
import sys

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from . import efficientnet, resnest, resnext

_FAMILIES = (
    (tuple(efficientnet.COEFFS), efficientnet),
    (tuple(resnext.CONFIGS), resnext),
    (tuple(resnest.CONFIGS), resnest),
)
NAMES = tuple(n for names, _ in _FAMILIES for n in names)
ARC_SCALE = 8.0


def _family(name):
    for names, mod in _FAMILIES:
        if name in names:
            return mod
    raise ValueError(f"unknown model {name!r}; known: {', '.join(NAMES)}")


class CosineHead(nn.Module):
    """ResNeXt / ResNeSt ArcFace head: a bare weight [num_classes, features]
    (no bias, the state-dict entry `fc.weight`; EfficientNet's is the
    original's bare parameter `_fc` instead, see build); outputs cos = normalize(x) .
    normalize(W)^T, which the ArcFace loss consumes. Inference logits are
    scale * cos (see `logits`)."""

    def __init__(self, features, num_classes, scale=ARC_SCALE):
        super().__init__()
        self.scale = scale
        self.weight = nn.Parameter(torch.empty(num_classes, features))
        nn.init.xavier_uniform_(self.weight)

    def forward(self, x):
        return F.linear(F.normalize(x, dim=1), F.normalize(self.weight, dim=1))


def build(name, num_classes, arcface=False, same_padding="static", image_size=None,
          dropout=None, drop_connect=None, arc_scale=ARC_SCALE):
    """A freshly initialised twin (PyTorch module-constructor defaults, drawn
    from torch's global RNG). same_padding / image_size / dropout /
    drop_connect only concern EfficientNet (image_size: the size its static
    pads are computed for; None = native)."""
    fam = _family(name)
    if fam is efficientnet:
        model = efficientnet.EfficientNet(name, num_classes, same_padding, image_size,
                                          dropout, drop_connect)
    elif fam is resnext:
        model = resnext.ResNeXt(name, num_classes)
    else:
        model = resnest.ResNeSt(name, num_classes)
    if arcface and fam is efficientnet:
        # the original's ArcFace head: a bare nn.Parameter `_fc` (state-dict
        # key `_fc`, listed first as the model's own parameter)
        del model._fc
        model._fc = nn.Parameter(torch.empty(num_classes, model.num_features))
        nn.init.xavier_uniform_(model._fc)
    elif arcface:
        # replacing the attribute keeps the head last in the state dict
        setattr(model, model.head_name, CosineHead(model.num_features, num_classes, arc_scale))
    model.arcface = bool(arcface)
    model.arc_scale = arc_scale
    return model


def init(name, num_classes, seed, **kwargs):
    """build() with its parameters drawn from torch.manual_seed(seed), without
    disturbing the caller's global RNG state."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return build(name, num_classes, **kwargs)


def logits(model, x):
    """Class scores for inference: the Linear output, or scale * cos."""
    out = model(x)
    return out * model.arc_scale if model.arcface else out


def param_count(model):
    return sum(p.numel() for p in model.parameters())


def to_arrays(model_or_sd):
    """State dict as {name: ndarray} in state-dict order; floats keep their
    dtype, num_batches_tracked stays a 0-d int64."""
    sd = model_or_sd.state_dict() if isinstance(model_or_sd, nn.Module) else model_or_sd
    out = collections.OrderedDict()
    for k, v in sd.items():
        if not torch.is_tensor(v):
            raise TypeError(f"{k}: not a tensor ({type(v).__name__})")
        v = v.detach().cpu()
        if v.dtype == torch.bfloat16:
            v = v.float()  # numpy has no bfloat16
        a = v.contiguous().numpy()
        if k.endswith("num_batches_tracked"):
            a = a.astype(np.int64)
        out[k] = a
    return out


def from_arrays(arrays):
    """{name: ndarray} -> an OrderedDict of torch tensors. A one-element
    num_batches_tracked becomes 0-d again, as PyTorch keeps it (older
    safetensors_py files stored it with shape [1])."""
    out = collections.OrderedDict()
    for k, v in arrays.items():
        a = np.array(v, copy=True)
        if k.endswith("num_batches_tracked") and a.size == 1:
            a = a.reshape(())
        out[k] = torch.from_numpy(a)
    return out


def _st():
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    if here not in sys.path:
        sys.path.insert(0, here)
    import safetensors_py
    return safetensors_py


def save_safetensors(model_or_sd, path, metadata=None):
    _st().save(path, to_arrays(model_or_sd), metadata)


def load_safetensors(path):
    """Returns (OrderedDict of tensors, metadata)."""
    arrays, meta = _st().load(path)
    return from_arrays(arrays), meta


def check_state_dict(model, sd):
    """Differences between a state dict and the model's, as readable lines:
    missing and unexpected keys, shape mismatches, a non-int64 counter."""
    want = model.state_dict()
    problems = [f"missing: {k} {tuple(want[k].shape)}" for k in want if k not in sd]
    problems += [f"unexpected: {k} {tuple(sd[k].shape)}" for k in sd if k not in want]
    for k in want:
        if k in sd and tuple(sd[k].shape) != tuple(want[k].shape):
            problems.append(f"shape: {k} is {tuple(sd[k].shape)}, model has {tuple(want[k].shape)}")
        if k in sd and k.endswith("num_batches_tracked") and sd[k].dtype != torch.int64:
            problems.append(f"dtype: {k} is {sd[k].dtype}, expected int64")
    return problems


def load_into(model, sd):
    """Strict load with one readable error listing every difference."""
    problems = check_state_dict(model, sd)
    if problems:
        raise ValueError("state dict does not fit the model:\n  " + "\n  ".join(problems))
    model.load_state_dict(sd, strict=True)
    return model


def dump_names(model):
    """Module names whose outputs a layer-by-layer dump should report, in
    forward order; the C code's tape_named names are these."""
    return _family(model.model_name).dump_names(model)


def capture(model, x, names=None):
    """Runs model(x) and returns (output, OrderedDict name -> output clone)
    for the named modules (default: dump_names), in the order they ran."""
    names = dump_names(model) if names is None else names
    mods = dict(model.named_modules())
    # a bare-parameter head has no module to hook: its output is the model's
    head = getattr(model, "head_name", None)
    bare = head if head and isinstance(getattr(model, head, None), nn.Parameter) else None
    missing = [n for n in names if n not in mods and n != bare]
    if missing:
        raise KeyError(f"no such module: {', '.join(missing)}")
    seen = collections.OrderedDict()
    handles = []
    for n in names:
        if n == bare:
            continue

        def hook(_m, _inp, out, n=n):
            seen[n] = out.detach().clone()  # clone: later in-place ops must not leak in
        handles.append(mods[n].register_forward_hook(hook))
    try:
        out = model(x)
    finally:
        for h in handles:
            h.remove()
    if bare in names:
        seen[bare] = out.detach().clone()
    return out, seen
