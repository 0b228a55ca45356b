"""Grad-CAM of the PyTorch twin (tools/twin), the reference for
`anomaly cam --npy`: a forward hook keeps the target module's output and a
tensor hook its gradient; the map is relu(sum_k mean_xy(grad_k) * A_k).

    /usr/bin/python3 tools/gradcam_reference.py --model efficientnet-b0 \
        --num_classes N --weights W.safetensors --image IMG.png --label K \
        [--double] --out REF.npy

The image goes in at its own size, normalised as the C code does
(albumentations Normalize with ImageNet statistics in float32); eval mode.
REF.npy: float32 [1, h, w] (the C file's layout for one picture). Prints
the label's logit. --double runs the twin in float64 (for the double build).
"""
import argparse
import os
import sys

import cv2
import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from twin import registry  # noqa: E402

MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)


def normalised(path, dtype):
    bgr = cv2.imread(path, cv2.IMREAD_COLOR)
    if bgr is None:
        raise SystemExit(f"gradcam_reference: cannot read {path}")
    rgb = bgr[:, :, ::-1].astype(dtype)
    mean = np.array([255 * m for m in MEAN], dtype=dtype)
    inv = np.array([1 / (255 * s) for s in STD], dtype=dtype)
    x = (rgb - mean) * inv
    return np.ascontiguousarray(x.transpose(2, 0, 1)[None])


def target_name(model_name):
    return "_conv_head" if model_name.startswith("efficientnet") else "layer4"


def gradcam(model, x, label):
    module = dict(model.named_modules())[target_name(model.model_name)]
    seen = {}

    def hook(_m, _inp, out):
        seen["act"] = out
        out.register_hook(lambda g: seen.__setitem__("grad", g))

    handle = module.register_forward_hook(hook)
    try:
        logits = registry.logits(model, x)
        model.zero_grad()
        logits[0, label].backward()
    finally:
        handle.remove()
    act, grad = seen["act"].detach(), seen["grad"].detach()
    alpha = grad.mean(dim=(2, 3), keepdim=True)
    cam = torch.relu((alpha * act).sum(dim=1))
    return cam, logits[0, label].item()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", required=True)
    ap.add_argument("--num_classes", type=int, required=True)
    ap.add_argument("--weights", required=True)
    ap.add_argument("--image", required=True)
    ap.add_argument("--label", type=int, required=True)
    ap.add_argument("--double", action="store_true")
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    dtype = np.float64 if a.double else np.float32
    model = registry.build(a.model, a.num_classes)
    sd, _ = registry.load_safetensors(a.weights)
    registry.load_into(model, sd)
    model = model.double() if a.double else model.float()
    model.eval()
    x = torch.from_numpy(normalised(a.image, dtype))
    cam, logit = gradcam(model, x, a.label)
    np.save(a.out, cam.numpy().astype(np.float32))
    print(f"logit {logit:.9g} map {tuple(cam.shape[1:])} max {cam.max().item():.9g}")


if __name__ == "__main__":
    main()
