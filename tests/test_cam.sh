#!/usr/bin/env bash
# anomaly cam: Grad-CAM maps against a PyTorch Grad-CAM of the twin (forward
# hook + tensor gradient hook, tools/gradcam_reference.py) on the same
# weights and image, the picture decoded back and probed, and bad inputs.
# Prints ok/FAIL/skip lines like the C tests.
set -u
cd "$(dirname "$0")/.."
bin=${ANOMALY_BIN:-build/f32/anomaly}
py=/usr/bin/python3
names="cam_picture cam_grid cam_bad_inputs cam_vs_torch"

if [ ! -x "$bin" ]; then
    for n in $names; do echo "FAIL $n: no anomaly binary at $bin"; done
    exit 1
fi
if ! "$py" -c "import numpy, cv2" 2>/dev/null; then
    for n in $names; do echo "skip $n: numpy or cv2 is not available to $py"; done
    exit 0
fi
tmp=$(mktemp -d /tmp/anomaly_cam_sh.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
failed=0
fail() { echo "  $2"; echo "FAIL $1: details above"; failed=$((failed + 1)); }
b0=(--model efficientnet-b0 --num_classes 5 --threads 2)

# A noise image with a red square, at 96 px (a 3x3 map for B0) and 64 px.
"$py" - "$tmp" <<'PY'
import sys, numpy as np, cv2
d = sys.argv[1]
im = (np.random.default_rng(0).random((96, 96, 3)) * 255).astype(np.uint8)
im[30:60, 40:70] = (20, 20, 250)  # BGR: red
cv2.imwrite(f"{d}/img96.png", im)
cv2.imwrite(f"{d}/img64.png", im[16:80, 16:80])
PY
printf 'label\na-x\na-y\nb-z\nc-x\nc-y\n' > "$tmp/labels.csv"
"$bin" init "${b0[@]}" --seed 3 --out "$tmp/b0.safetensors" > /dev/null || fail cam_picture "init failed"

# ---- the picture: size, colour bar, heat over the hottest map cell ----
if "$bin" cam "${b0[@]}" --weights "$tmp/b0.safetensors" --image "$tmp/img96.png" --labels "$tmp/labels.csv" \
    --label c-x --scale 2 --out "$tmp/cam.png" --npy "$tmp/cam.npy" > "$tmp/cam.txt" 2>&1; then
    if ! "$py" - "$tmp" <<'PY' > "$tmp/probe.txt" 2>&1; then fail cam_picture "$(cat "$tmp/probe.txt")"; else echo "ok cam_picture"; fi
import sys, numpy as np, cv2
d = sys.argv[1]
pic = cv2.imread(f"{d}/cam.png")[:, :, ::-1].astype(int)
m = np.load(f"{d}/cam.npy")
assert m.shape == (1, 3, 3) and m.dtype == np.float32, (m.shape, m.dtype)
assert m.max() > 0, "the map is all zero: nothing to probe"
# 96 px at scale 2 = 192, 4 px margins, a 4 px gap and the 8 px colour bar
# (or wider for the text); two text lines of 9 px under it
assert pic.shape[0] == 4 + 192 + 2 + 18 + 4 and pic.shape[1] >= 4 + 192 + 4 + 8 + 4, pic.shape
bar_x = 4 + 192 + 4 + 3
assert tuple(pic[4, bar_x]) == (220, 0, 0), ("bar top", pic[4, bar_x])
assert tuple(pic[4 + 191, bar_x]) == (0, 0, 128), ("bar bottom", pic[4 + 191, bar_x])
# the hottest and coldest cells of the 3x3 map, at their centres (each
# cell 64 picture pixels): the blend moves red up where it is hot
img = cv2.imread(f"{d}/img96.png")[:, :, ::-1].astype(int)
hy, hx = np.unravel_index(np.argmax(m[0]), m[0].shape)
cy, cx = np.unravel_index(np.argmin(m[0]), m[0].shape)
def probe(cy_, cx_):
    y, x = 32 + 64 * cy_, 32 + 64 * cx_
    return pic[4 + y, 4 + x] - img[y // 2, x // 2]  # what the heat added
hot, cold = probe(hy, hx), probe(cy, cx)
# heat weight 0.5: the hottest cell adds (220 - p) / 2 of red
assert abs(hot[0] - (220 - img[(32 + 64 * hy) // 2, (32 + 64 * hx) // 2][0]) / 2) <= 1, ("hot", hot)
assert hot[0] - cold[0] > 20 or hot[2] < cold[2], ("hot vs cold", hot, cold)
PY
    grep -q '^.*img96.png c-x logit' "$tmp/cam.txt" || fail cam_picture "no summary line: $(cat "$tmp/cam.txt")"
else
    fail cam_picture "anomaly cam failed: $(cat "$tmp/cam.txt")"
fi

# ---- --grid: one cell per image of a folder ----
mkdir -p "$tmp/imgs"
cp "$tmp/img96.png" "$tmp/imgs/a.png"
"$py" -c "import cv2; cv2.imwrite('$tmp/imgs/b.png', cv2.flip(cv2.imread('$tmp/img96.png'), 1))"
if "$bin" cam "${b0[@]}" --weights "$tmp/b0.safetensors" --images "$tmp/imgs" --grid --scale 1 \
    --out "$tmp/grid.png" --npy "$tmp/grid.npy" > "$tmp/grid.txt" 2>&1 &&
    "$py" -c "
import numpy as np, cv2
g = cv2.imread('$tmp/grid.png'); m = np.load('$tmp/grid.npy')
assert m.shape == (2, 3, 3), m.shape
# two cells of 96+24 (or wider for the text) x 96+28 in a row, 6 px apart
assert g.shape[0] == 6 + 124 + 6 and g.shape[1] >= 6 + 2 * (116 + 6), g.shape
" > "$tmp/g.txt" 2>&1; then
    echo "ok cam_grid"
else
    fail cam_grid "$(cat "$tmp/grid.txt" "$tmp/g.txt" 2>/dev/null)"
fi

# ---- bad inputs: one line, non-zero exit, nothing written ----
bad() { # name, expected text, args...
    local what=$1 want=$2
    shift 2
    rm -f "$tmp/bad.png"
    if "$bin" cam "$@" --out "$tmp/bad.png" 2> "$tmp/bad.txt" > /dev/null; then
        fail cam_bad_inputs "$what: exit 0"
    elif [ "$(wc -l < "$tmp/bad.txt")" -ne 1 ] || ! grep -q "$want" "$tmp/bad.txt"; then
        fail cam_bad_inputs "$what: want one line with '$want', got: $(cat "$tmp/bad.txt")"
    elif [ -e "$tmp/bad.png" ]; then
        fail cam_bad_inputs "$what: wrote a picture"
    fi
}
f0=$failed
bad "missing weights" "missing.safetensors" "${b0[@]}" --weights "$tmp/missing.safetensors" --image "$tmp/img96.png"
bad "missing image" "nothing.png" "${b0[@]}" --weights "$tmp/b0.safetensors" --image "$tmp/nothing.png"
bad "unknown label" "no-such" "${b0[@]}" --weights "$tmp/b0.safetensors" --image "$tmp/img96.png" \
    --labels "$tmp/labels.csv" --label no-such
bad "label index out of range" "'7'" "${b0[@]}" --weights "$tmp/b0.safetensors" --image "$tmp/img96.png" --label 7
cp "$tmp/img64.png" "$tmp/imgs/c.png"
bad "an image of another size" "c.png is 64x64" "${b0[@]}" --weights "$tmp/b0.safetensors" --images "$tmp/imgs" --grid
bad "weights of another model" "" --model resnext50_32x4d --num_classes 5 --weights "$tmp/b0.safetensors" \
    --image "$tmp/img96.png"
bad "labels of another count" "lists 5 labels" --model efficientnet-b0 --num_classes 4 \
    --weights "$tmp/b0.safetensors" --image "$tmp/img96.png" --labels "$tmp/labels.csv"
[ "$failed" = "$f0" ] && echo "ok cam_bad_inputs"

# ---- against PyTorch: B0 at 96 px (_conv_head, 3x3), resnext50 at 64 px (layer4, 2x2) ----
if ! "$py" -c "import importlib.util, sys; sys.exit(importlib.util.find_spec('torch') is None)"; then
    echo "skip cam_vs_torch: torch is not available to $py (apt-get install python3-torch)"
else
    "$bin" init --model resnext50_32x4d --num_classes 5 --seed 3 --out "$tmp/rx.safetensors" > /dev/null
    bad_cases=""
    # model weights image label: the maps chosen are the ones that are not all zero
    for c in "efficientnet-b0 b0 img96 0" "efficientnet-b0 b0 img96 3" "resnext50_32x4d rx img64 0"; do
        set -- $c
        "$bin" cam --model "$1" --num_classes 5 --weights "$tmp/$2.safetensors" --image "$tmp/$3.png" --label "$4" \
            --out "$tmp/c.png" --npy "$tmp/c.npy" --threads 2 > "$tmp/c.txt" 2>&1 || { bad_cases="$bad_cases
  $1: $(cat "$tmp/c.txt")"; continue; }
        "$py" tools/gradcam_reference.py --model "$1" --num_classes 5 --weights "$tmp/$2.safetensors" \
            --image "$tmp/$3.png" --label "$4" --out "$tmp/r.npy" > "$tmp/r.txt" 2>&1 || { bad_cases="$bad_cases
  $1: $(cat "$tmp/r.txt")"; continue; }
        "$py" -c "
import numpy as np
c, r = np.load('$tmp/c.npy'), np.load('$tmp/r.npy')
assert c.shape == r.shape, (c.shape, r.shape)
top = np.abs(r).max()
assert top > 0, 'the reference map is all zero'
err = np.abs(c.astype(np.float64) - r).max() / top
print('  $1 label $4: map', r.shape[1:], 'max %.3g, max error / max %.2g' % (top, err))
assert err <= 1e-4, 'beyond 1e-4'
" > "$tmp/cmp.txt" 2>&1 && cat "$tmp/cmp.txt" || bad_cases="$bad_cases
  $1 label $4: $(cat "$tmp/cmp.txt")"
    done
    if [ -z "$bad_cases" ]; then echo "ok cam_vs_torch"; else fail cam_vs_torch "$(printf "%b" "$bad_cases")"; fi
fi
[ "$failed" -eq 0 ]
