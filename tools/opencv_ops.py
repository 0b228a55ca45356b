#!/usr/bin/python3
"""Applies one augmentation op with OpenCV, the way albumentations 1.x does it.

The twin of `anomaly augment IMAGE --op NAME ...`: same flags, same meaning,
so the two outputs can be compared pixel by pixel
(tests/test_transforms_opencv.sh does). Images are read as RGB (cv2 reads
BGR; we convert, as the original pipeline did) and written back as PNG.

    /usr/bin/python3 tools/opencv_ops.py IMAGE --op rotate --angle 12.5 --out OUT.png

gauss_noise has no twin: its noise comes from the project's own generator.
"""
import argparse
import sys

import cv2
import numpy as np

REFLECT_101 = cv2.BORDER_REFLECT_101


def centre(img):
    # albumentations >= 1.1 rotates about the centre in pixel-centre coordinates.
    h, w = img.shape[:2]
    return (w / 2 - 0.5, h / 2 - 0.5)


def rotate(img, a):
    h, w = img.shape[:2]
    m = cv2.getRotationMatrix2D(centre(img), a.angle, 1.0)
    return cv2.warpAffine(img, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=REFLECT_101)


def shift_scale_rotate(img, a):
    h, w = img.shape[:2]
    m = cv2.getRotationMatrix2D(centre(img), a.angle, a.scale)
    m[0, 2] += a.dx * w
    m[1, 2] += a.dy * h
    return cv2.warpAffine(img, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=REFLECT_101)


def contrast(img, a):
    # albumentations' brightness_contrast_adjust on uint8: a float32 table.
    lut = np.arange(0, 256).astype("float32")
    lut *= a.alpha
    return cv2.LUT(img, np.clip(lut, 0, 255).astype(np.uint8))


def brightness(img, a):
    lut = np.arange(0, 256).astype("float32")
    lut += a.beta * 255
    return cv2.LUT(img, np.clip(lut, 0, 255).astype(np.uint8))


def gamma(img, a):
    table = (np.arange(0, 256.0 / 255, 1.0 / 255) ** a.gamma) * 255
    return cv2.LUT(img, table.astype(np.uint8))


def motion_blur(img, a):
    k = a.kernel
    x0, y0, x1, y1 = (int(v) for v in a.line.split(","))
    kernel = np.zeros((k, k), dtype=np.uint8)
    cv2.line(kernel, (x0, y0), (x1, y1), 1, thickness=1)
    kernel = kernel.astype(np.float32) / np.sum(kernel)
    return cv2.filter2D(img, ddepth=-1, kernel=kernel)


OPS = {
    "rotate90": lambda img, a: np.ascontiguousarray(np.rot90(img, a.k)),
    "rotate": rotate,
    "vflip": lambda img, a: cv2.flip(img, 0),
    "shift_scale_rotate": shift_scale_rotate,
    "contrast": contrast,
    "gamma": gamma,
    "brightness": brightness,
    "motion_blur": motion_blur,
    "median_blur": lambda img, a: cv2.medianBlur(img, a.kernel),
    "gaussian_blur": lambda img, a: cv2.GaussianBlur(img, ksize=(a.kernel, a.kernel), sigmaX=0),
    "resize": lambda img, a: cv2.resize(img, (a.img_size, a.img_size), interpolation=cv2.INTER_LINEAR),
}


def parser():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("image")
    p.add_argument("--op", required=True, choices=sorted(OPS))
    p.add_argument("--out")
    p.add_argument("--angle", type=float)
    p.add_argument("--scale", type=float)
    p.add_argument("--dx", type=float)
    p.add_argument("--dy", type=float)
    p.add_argument("--border", choices=["reflect101"])
    p.add_argument("--alpha", type=float)
    p.add_argument("--gamma", type=float)
    p.add_argument("--beta", type=float)
    p.add_argument("--kernel", type=int)
    p.add_argument("--line")
    p.add_argument("--k", type=int)
    p.add_argument("--img_size", type=int)
    return p


def read_rgb(path):
    bgr = cv2.imread(path, cv2.IMREAD_COLOR)
    if bgr is None:
        sys.exit(f"opencv_ops: cannot read {path}")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def apply(rgb, argv):
    """Applies the op that `argv` (flags without IMAGE) names to an RGB image."""
    a = parser().parse_args(["-"] + list(argv))
    return np.ascontiguousarray(OPS[a.op](rgb, a))


def main():
    a = parser().parse_args()
    if not a.out:
        sys.exit("opencv_ops: --out is required")
    out = OPS[a.op](read_rgb(a.image), a)
    if not cv2.imwrite(a.out, cv2.cvtColor(np.ascontiguousarray(out), cv2.COLOR_RGB2BGR)):
        sys.exit(f"opencv_ops: cannot write {a.out}")


if __name__ == "__main__":
    main()
