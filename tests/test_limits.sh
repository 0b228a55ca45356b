#!/usr/bin/env bash
# The size limits on input files (anomaly/limits.h) as users set them: a
# file just above a limit is refused with one error line naming the file,
# the limit and its variable; raising the variable by one admits it. A bad
# value of any variable is one error line and exit status 2.
#   ANOMALY_MAX_IMAGE_SIDE / _PIXELS  augment on a 24 x 16 JPEG and a 7 x 9 PNG
#   ANOMALY_MAX_IDX_SIDE              import-idx on 28 x 28 images
#   ANOMALY_MAX_TENSOR_BYTES          compare on a .pth whose one float
#                                     expands to 100000 (400000 bytes)
# Prints ok/FAIL lines like the C tests.
set -u
cd "$(dirname "$0")/.."
bin=${ANOMALY_BIN:-build/f32/anomaly}
if [ ! -x "$bin" ]; then
    echo "FAIL limits: no anomaly binary at $bin"
    exit 1
fi
tmp=$(mktemp -d /tmp/anomaly_limits.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
. tests/lib.sh
# $1 what, $2 VAR=value, $3 text the one error line must hold (a regex), rest the command
refused() {
    local what=$1 setting=$2 want=$3
    shift 3
    (export "$setting" && "$@") > "$tmp/out" 2> "$tmp/err" && note "$what: $setting: exit status 0"
    [ "$(wc -l < "$tmp/err")" = 1 ] && grep -q -E "^anomaly: error: .*$want" "$tmp/err" ||
        note "$what: $setting: expected one error line matching '$want', got: $(head -c 300 "$tmp/err")"
}
# $1 what, $2 VAR=value, rest the command
accepted() {
    local what=$1 setting=$2
    shift 2
    (export "$setting" && "$@") > "$tmp/out" 2> "$tmp/err" || note "$what: $setting: failed: $(head -c 300 "$tmp/err")"
}

# ---- images: 24 x 16 = 384 pixels (JPEG), 7 x 9 = 63 (PNG) ----
jpg=tests/fixtures/data/photo.jpg png=tests/fixtures/data/gray16.png
aug() { "$bin" augment "$1" --op vflip --out "$tmp/a.png"; }
refused image_side ANOMALY_MAX_IMAGE_SIDE=23 "$jpg: .*24 x 16 is out of range \(at most 23 per side.*ANOMALY_MAX_IMAGE_SIDE" aug "$jpg"
accepted image_side ANOMALY_MAX_IMAGE_SIDE=24 aug "$jpg"
refused image_pixels ANOMALY_MAX_IMAGE_PIXELS=383 "$jpg: .*383 pixels.*ANOMALY_MAX_IMAGE_PIXELS" aug "$jpg"
accepted image_pixels ANOMALY_MAX_IMAGE_PIXELS=384 aug "$jpg"
refused image_pixels_png ANOMALY_MAX_IMAGE_PIXELS=62 "$png: .*7 x 9 is out of range.*62 pixels" aug "$png"
accepted image_pixels_png ANOMALY_MAX_IMAGE_PIXELS=63 aug "$png"
report limits_image

# ---- IDX: ten 28 x 28 images ----
{ printf '\0\0\10\3\0\0\0\12\0\0\0\34\0\0\0\34'; head -c 7840 /dev/zero; } > "$tmp/img.idx"
{ printf '\0\0\10\1\0\0\0\12'; printf '\0\1\2\3\4\5\6\7\10\11'; } > "$tmp/lab.idx"
idx() { rm -rf "$tmp/f"; "$bin" import-idx --images "$tmp/img.idx" --labels "$tmp/lab.idx" \
    --test_images "$tmp/img.idx" --test_labels "$tmp/lab.idx" --out "$tmp/f"; }
refused idx_side ANOMALY_MAX_IDX_SIDE=27 "$tmp/img.idx: images of 28x28 pixels .*at most 27 a side: ANOMALY_MAX_IDX_SIDE" idx
accepted idx_side ANOMALY_MAX_IDX_SIDE=28 idx
[ -f "$tmp/f/train/train_df.csv" ] || note "idx_side: import-idx wrote no data set"
report limits_idx

# ---- .pth: 750 bytes whose tensor gathers to 400000 ----
pth=tests/fixtures/pth/expanded.pth
cmp_pth() { "$bin" compare "$pth" "$pth"; }
refused tensor_bytes ANOMALY_MAX_TENSOR_BYTES=399999 "$pth: the tensors would take more than 399999 bytes \(ANOMALY_MAX_TENSOR_BYTES" cmp_pth
accepted tensor_bytes ANOMALY_MAX_TENSOR_BYTES=400000 cmp_pth
accepted tensor_bytes_default ANOMALY_MAX_TENSOR_BYTES=268435456 cmp_pth
report limits_tensor

# ---- bad values: one line naming the variable, exit status 2 ----
for setting in ANOMALY_MAX_IMAGE_PIXELS=abc ANOMALY_MAX_IMAGE_SIDE=0 ANOMALY_MAX_IDX_SIDE=-5 \
    ANOMALY_MAX_TENSOR_BYTES=12x ANOMALY_MAX_IMAGE_PIXELS= ANOMALY_MAX_IDX_SIDE=65536 \
    ANOMALY_MAX_TENSOR_BYTES=99999999999999999999; do
    env "$setting" "$bin" models > "$tmp/out" 2> "$tmp/err"
    rc=$?
    [ $rc -eq 2 ] || note "$setting: exit status $rc, expected 2"
    [ "$(wc -l < "$tmp/err")" = 1 ] && grep -q "^anomaly: error: ${setting%%=*}=.*: expected a whole number from 1 to" "$tmp/err" ||
        note "$setting: expected one line naming the variable, got: $(head -c 300 "$tmp/err")"
    [ -s "$tmp/out" ] && note "$setting: the command ran anyway"
done
report limits_bad_values
exit $failed
