#!/usr/bin/env bash
# The image transforms against OpenCV: every op of `anomaly augment --op` at
# fixed parameters next to tools/opencv_ops.py (cv2, as albumentations calls
# it) on a few generated images, and whole aug_ver 2 pipelines replayed op by
# op from their log, both through `--op` (must be byte-identical) and through
# OpenCV. Pass: mean |diff| <= 1 level and max <= 3 away from a 2-pixel border.
# Prints ok/FAIL/skip lines like the C tests; the OpenCV parts are skipped
# when /usr/bin/python3 has no cv2.
set -u
cd "$(dirname "$0")/.."
BIN=${ANOMALY_BIN:-build/f32/anomaly}
PY=${ANOMALY_PYTHON:-/usr/bin/python3}
fails=0

if [ ! -x "$BIN" ]; then
    echo "FAIL transforms_opencv: no executable at $BIN"
    exit 1
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

if [ ! -x "$PY" ]; then
    echo "skip transforms_opencv: $PY not found"
    exit 0
fi
have_cv2=1
if ! "$PY" -c "import cv2, numpy" 2>/dev/null; then have_cv2=0; fi

# Textures with hard edges, bright/dark border lines and odd sizes, written
# by the standard library alone so the byte-exact replay needs no cv2.
IMAGES="a:37:53 b:128:96 c:61:61"
if ! "$PY" - "$tmp" $IMAGES <<'EOF_PY'
import math
import random
import struct
import sys
import zlib

def png(path, w, h, rows):
    def chunk(tag, data):
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))
    raw = b"".join(b"\0" + bytes(r) for r in rows)
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
                + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))

for i, spec in enumerate(sys.argv[2:]):
    name, w, h = spec.split(":")
    w, h = int(w), int(h)
    rnd = random.Random(10 + i)
    waves = [(rnd.uniform(0.05, 0.5), rnd.uniform(0.05, 0.5), rnd.uniform(0, 6)) for _ in range(3)]
    img = [[[min(255, max(0, int(128 + 90 * math.sin(fx * x + fy * y + ph) + rnd.gauss(0, 20))))
             for fx, fy, ph in waves] for x in range(w)] for y in range(h)]
    for _ in range(4):
        x0, y0 = rnd.randrange(w), rnd.randrange(h)
        x1, y1 = x0 + rnd.randrange(1, w // 2 + 4), y0 + rnd.randrange(1, h // 2 + 4)
        colour = [rnd.randrange(256) for _ in range(3)]
        for y in range(y0, min(y1 + 1, h)):
            for x in range(x0, min(x1 + 1, w)):
                img[y][x] = list(colour)
    for x in range(w):
        img[0][x] = [255, 255, 255]
    for y in range(h):
        img[y][w - 1] = [0, 0, 0]
    png(f"{sys.argv[1]}/{name}.png", w, h, [[v for p in row for v in p] for row in img])
EOF_PY
then
    echo "FAIL transforms_opencv: could not write the test images"
    exit 1
fi

# ---- one op at a time, C against OpenCV ----
CASES=(
    "rotate|--op rotate --angle 12.5"
    "rotate_neg|--op rotate --angle -41.25"
    "shift_scale_rotate|--op shift_scale_rotate --angle 33 --scale 0.92 --dx 0.05 --dy -0.04"
    "shift_scale_rotate_up|--op shift_scale_rotate --angle -17 --scale 1.1 --dx -0.0625 --dy 0.0625"
    "rotate90_k1|--op rotate90 --k 1"
    "rotate90_k3|--op rotate90 --k 3"
    "vflip|--op vflip"
    "contrast|--op contrast --alpha 1.17"
    "contrast_low|--op contrast --alpha 0.83"
    "gamma|--op gamma --gamma 0.82"
    "gamma_high|--op gamma --gamma 1.19"
    "brightness|--op brightness --beta 0.15"
    "brightness_neg|--op brightness --beta -0.18"
    "motion_blur_5|--op motion_blur --kernel 5 --line 0,1,4,3"
    "motion_blur_3|--op motion_blur --kernel 3 --line 2,0,0,2"
    "motion_blur_vertical|--op motion_blur --kernel 5 --line 3,4,3,0"
    "median_blur_3|--op median_blur --kernel 3"
    "median_blur_5|--op median_blur --kernel 5"
    "gaussian_blur_3|--op gaussian_blur --kernel 3"
    "gaussian_blur_5|--op gaussian_blur --kernel 5"
    "resize_down|--op resize --img_size 24"
    "resize_up|--op resize --img_size 77"
    "resize_big|--op resize --img_size 150"
)
manifest="$tmp/manifest.txt"
: > "$manifest"
if [ "$have_cv2" = 1 ]; then
    for case in "${CASES[@]}"; do
        name=${case%%|*}
        args=${case#*|}
        for spec in $IMAGES; do
            img=${spec%%:*}
            c_out="$tmp/c_${name}_$img.png"
            # shellcheck disable=SC2086
            if ! "$BIN" augment "$tmp/$img.png" $args --out "$c_out" > "$tmp/log" 2>&1; then
                echo "  $(cat "$tmp/log")"
                echo "FAIL opencv_$name: anomaly augment failed on $img"
                fails=$((fails + 1))
                continue
            fi
            printf '%s\t%s\t%s\t%s\n' "opencv_${name}_$img" "$c_out" "$tmp/$img.png" "$args" >> "$manifest"
        done
    done
else
    for case in "${CASES[@]}"; do echo "skip opencv_${case%%|*}: cv2 not available in $PY"; done
fi

# ---- whole pipelines: replay the log through --op (exact) and OpenCV ----
replay_img="$tmp/b.png"
for index in 0 1 2 3 4 5 6 7; do
    name="replay_index$index"
    final="$tmp/pipe_$index.png"
    if ! "$BIN" augment "$replay_img" --aug_ver 2 --img_size 72 --seed 5 --epoch 1 --index "$index" \
        --out "$final" > "$tmp/pipe_$index.log" 2> "$tmp/err"; then
        echo "  $(cat "$tmp/err")"
        echo "FAIL $name: pipeline run failed"
        fails=$((fails + 1))
        continue
    fi
    cur="$replay_img"
    step=0
    chain=""
    noise=0
    ok=1
    while IFS= read -r line; do
        [ -n "$line" ] || continue
        op=${line%% *}
        flags="--op $op"
        rest=${line#"$op"}
        for kv in $rest; do flags="$flags --${kv%%=*} ${kv#*=}"; done
        [ "$op" = gauss_noise ] && noise=1
        chain="$chain$flags;"
        step=$((step + 1))
        # shellcheck disable=SC2086
        if ! "$BIN" augment "$cur" $flags --out "$tmp/step_${index}_$step.png" > /dev/null 2> "$tmp/err"; then
            echo "  $(cat "$tmp/err")"
            ok=0
            break
        fi
        cur="$tmp/step_${index}_$step.png"
    done < "$tmp/pipe_$index.log"
    if [ "$ok" = 1 ] && [ "$step" -ge 2 ] && cmp -s "$cur" "$final"; then
        echo "ok $name"
    else
        sed 's/^/  log: /' "$tmp/pipe_$index.log"
        echo "FAIL $name: replaying the $step logged ops does not give the pipeline's bytes"
        fails=$((fails + 1))
    fi
    if [ "$have_cv2" = 0 ]; then
        echo "skip opencv_pipeline_index$index: cv2 not available in $PY"
    elif [ "$noise" = 1 ]; then
        echo "skip opencv_pipeline_index$index: gauss_noise draws from our generator, OpenCV cannot replay it"
    else
        printf '%s\t%s\t%s\t%s\n' "opencv_pipeline_index$index" "$final" "$replay_img" "$chain" >> "$manifest"
    fi
done

# ---- the OpenCV side, one Python process for every comparison ----
if [ "$have_cv2" = 1 ] && [ -s "$manifest" ]; then
    "$PY" - "$manifest" <<'EOF'
import shlex
import sys

import cv2
import numpy as np

sys.path.insert(0, "tools")
import opencv_ops  # noqa: E402

bad = 0
for row in open(sys.argv[1]):
    name, c_path, in_path, chain = row.rstrip("\n").split("\t")
    img = opencv_ops.read_rgb(in_path)
    for step in chain.split(";"):
        if step.strip():
            img = opencv_ops.apply(img, shlex.split(step))
    ours = opencv_ops.read_rgb(c_path).astype(np.int32)
    ref = img.astype(np.int32)
    if ours.shape != ref.shape:
        print(f"FAIL {name}: shape {ours.shape} vs OpenCV {ref.shape}")
        bad += 1
        continue
    d = np.abs(ours - ref)
    inner = d[2:-2, 2:-2] if d.shape[0] > 4 and d.shape[1] > 4 else d
    mean, mx = float(d.mean()), int(inner.max()) if inner.size else 0
    if mean <= 1.0 and mx <= 3:
        print(f"ok {name}")
    else:
        y, x, c = np.unravel_index(int(np.argmax(d)), d.shape)
        print(f"  mean |diff| {mean:.4f}, max {mx} inside the border, worst at y={y} x={x} c={c}: "
              f"ours {ours[y, x, c]} OpenCV {ref[y, x, c]}; ops: {chain}")
        print(f"FAIL {name}: mean {mean:.4f} max {mx}")
        bad += 1
sys.exit(1 if bad else 0)
EOF
    [ $? -eq 0 ] || fails=$((fails + 1))
fi

[ "$fails" -eq 0 ]
