#!/usr/bin/python3
"""Moves model weights between PyTorch .pth files and the safetensors files
the C code reads and writes.

  convert_checkpoint.py pth2st IN.pth OUT.safetensors [--check MODEL --num_classes N [--arcface]]
  convert_checkpoint.py st2pth IN.safetensors OUT.pth [--check MODEL --num_classes N [--arcface]]

pth2st accepts a bare state dict or a dict holding it under 'state_dict' or
'model' (training checkpoints), and strips a 'module.' prefix (DataParallel).
Both directions write an ArcFace head as the original's bare `_fc`: an
older `_fc.weight` without `_fc.bias` is renamed to `_fc`.
Tensors keep their dtype (bfloat16 becomes float32) unless --dtype says f32
or f64; num_batches_tracked is always int64. With --check the keys, shapes
and counter dtype are compared with the twin of MODEL (strict: a missing or
extra key, or a shape difference, is an error and nothing is written).
.pth files are read with torch.load(weights_only=True), which loads tensors
and plain containers only; --allow-pickle lifts that for trusted files.
"""
import argparse
import collections
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from twin import registry  # noqa: E402


def fail(msg):
    print(f"convert_checkpoint: {msg}", file=sys.stderr)
    sys.exit(1)


def unwrap(obj):
    """The state dict inside whatever torch.load returned."""
    if isinstance(obj, dict):
        for key in ("state_dict", "model"):
            if key in obj and isinstance(obj[key], dict):
                obj = obj[key]
                break
    if not isinstance(obj, dict):
        fail(f"expected a state dict, got {type(obj).__name__}")
    out = collections.OrderedDict()
    for k, v in obj.items():
        if not isinstance(k, str):
            fail(f"non-string key {k!r}")
        if not torch.is_tensor(v):
            fail(f"{k}: not a tensor ({type(v).__name__}); is this a state dict?")
        name = k[len("module."):] if k.startswith("module.") else k
        if name in out:
            fail(f"{name}: present both with and without the 'module.' prefix")
        out[name] = v
    if not out:
        fail("the state dict is empty")
    return arcface_key(out)


def arcface_key(sd):
    """The original's ArcFace head is the bare parameter `_fc`; older files
    of this project called it `_fc.weight`. A `_fc.weight` without
    `_fc.bias` is that head and is renamed, keeping its place."""
    if "_fc.weight" not in sd or "_fc.bias" in sd:
        return sd
    if "_fc" in sd:
        fail("both _fc and _fc.weight are present")
    return collections.OrderedDict(("_fc" if k == "_fc.weight" else k, v) for k, v in sd.items())


def cast(sd, dtype):
    want = {"f32": torch.float32, "f64": torch.float64}.get(dtype)
    out = collections.OrderedDict()
    for k, v in sd.items():
        v = v.detach().cpu()
        if k.endswith("num_batches_tracked"):
            v = v.to(torch.int64)
        elif v.is_floating_point():
            if want is not None:
                v = v.to(want)
            elif v.dtype == torch.bfloat16:
                v = v.float()
        out[k] = v
    return out


def check(sd, args):
    try:
        model = registry.build(args.check, args.num_classes, arcface=args.arcface)
    except ValueError as e:
        fail(str(e))
    problems = registry.check_state_dict(model, sd)
    if problems:
        fail(f"does not fit {args.check} with {args.num_classes} classes"
             f"{' (arcface)' if args.arcface else ''}:\n  " + "\n  ".join(problems))
    print(f"checked: fits {args.check}, {len(sd)} tensors, "
          f"{registry.param_count(model):,} parameters")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("direction", choices=("pth2st", "st2pth"))
    ap.add_argument("src")
    ap.add_argument("dst")
    ap.add_argument("--check", metavar="MODEL", help=f"one of: {', '.join(registry.NAMES)}")
    ap.add_argument("--num_classes", type=int)
    ap.add_argument("--arcface", action="store_true", help="the model has the cosine head")
    ap.add_argument("--dtype", choices=("keep", "f32", "f64"), default="keep")
    ap.add_argument("--allow-pickle", action="store_true",
                    help="torch.load a trusted .pth with full pickle")
    args = ap.parse_args(argv)
    if args.check and args.num_classes is None:
        ap.error("--check needs --num_classes")

    if args.direction == "pth2st":
        try:
            obj = torch.load(args.src, map_location="cpu", weights_only=not args.allow_pickle)
        except Exception as e:  # torch raises a variety of pickle errors
            fail(f"cannot read {args.src}: {e}")
        sd = cast(unwrap(obj), args.dtype)
        if args.check:
            check(sd, args)
        registry.save_safetensors(sd, args.dst)
    else:
        try:
            sd, _meta = registry.load_safetensors(args.src)
        except (OSError, ValueError, KeyError) as e:
            fail(f"cannot read {args.src}: {e}")
        sd = cast(arcface_key(sd), args.dtype)
        if args.check:
            check(sd, args)
        tmp = f"{args.dst}.tmp.{os.getpid()}"
        torch.save(sd, tmp)
        os.replace(tmp, args.dst)
    print(f"wrote {args.dst}: {len(sd)} tensors")


if __name__ == "__main__":
    main()
