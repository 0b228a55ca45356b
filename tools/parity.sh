#!/usr/bin/env bash
# Live PyTorch parity (`make parity`): regenerates every kernel fixture with
# torch into a temporary directory, then runs tests/test_parity_ops of each
# build against it (default build/f32 and build/f64; pass other build
# directories as arguments). Also says whether the fresh fixtures match the
# committed ones in tests/fixtures/ops byte for byte (they differ only when
# the installed torch rounds differently; the comparison tolerances allow it).
set -u
cd "$(dirname "$0")/.."
PY=${PYTHON:-/usr/bin/python3}
builds=("$@")
[ ${#builds[@]} -eq 0 ] && builds=(build/f32 build/f64)

if ! "$PY" -c 'import torch, numpy' 2>/dev/null; then
    echo "parity: $PY cannot import torch and numpy (tools/setup_deps.sh --torch)" >&2
    exit 1
fi
dir=$(mktemp -d "${TMPDIR:-/tmp}/anomaly_parity.XXXXXX")
trap 'rm -rf "$dir"' EXIT

echo "== generating fixtures with torch $("$PY" -c 'import torch; print(torch.__version__)')"
"$PY" tools/make_op_fixtures.py --out "$dir" || { echo "parity: fixture generation failed" >&2; exit 1; }

same=0 differ=0
for f in "$dir"/*.safetensors; do
    if cmp -s "$f" "tests/fixtures/ops/$(basename "$f")"; then same=$((same + 1)); else differ=$((differ + 1)); fi
done
echo "== $same fixtures identical to tests/fixtures/ops, $differ differ"

status=0 pass=0 fail=0
for b in "${builds[@]}"; do
    exe="$b/tests/test_parity_ops"
    if [ ! -x "$exe" ]; then
        echo "parity: $exe is missing (make PRECISION=32|64 tests)" >&2
        status=1; fail=$((fail + 1))
        continue
    fi
    echo "== $exe"
    out=$(ANOMALY_FIXTURES="$dir" "$exe" 2>&1)
    rc=$?
    printf '%s\n' "$out" | sed "s|^|[$(basename "$b")] |"
    p=$(printf '%s\n' "$out" | grep -c '^ok ')
    f=$(printf '%s\n' "$out" | grep -c '^FAIL ')
    [ "$rc" -ne 0 ] && [ "$f" -eq 0 ] && f=1
    pass=$((pass + p)); fail=$((fail + f))
    [ "$rc" -ne 0 ] && status=1
done
# Whole models against the PyTorch twin (tools/compare_model.py): eval
# logits and every module's output in float32; 3 Adam steps in the double
# build against a float64 twin (float32 training steps are ill-conditioned:
# see compare_model.py). PARITY_MODELS narrows the list (all by default).
models=${PARITY_MODELS:-"efficientnet-b0 efficientnet-b1 efficientnet-b2 efficientnet-b3 efficientnet-b4 efficientnet-b5 efficientnet-b6 efficientnet-b7 resnext50_32x4d resnext101_32x8d resnest50d_4s2x40d"}
run_model() { # name, then compare_model.py flags
    local name=$1; shift
    if "$PY" tools/compare_model.py "$@" > "$dir/model.log" 2>&1; then
        echo "ok $name"; pass=$((pass + 1))
    else
        sed 's/^/    /' "$dir/model.log" | tail -15
        echo "FAIL $name"; fail=$((fail + 1)); status=1
    fi
}
for m in $models; do
    batch=2
    [ "$m" = resnest50d_4s2x40d ] && batch=4  # batch 2: two values per split-attention BN channel
    run_model "model $m float32" --model "$m" --size 64 --batch "$batch" --eval_only --anomaly build/f32/anomaly
    run_model "model $m float64 steps" --model "$m" --size 64 --batch "$batch" --no_dump --double --anomaly build/f64/anomaly
done
case " $models " in *" efficientnet-b6 "*)
    # b6 at 576: static pads (computed at 528) and per-input pads differ at _blocks.31
    for pad in static dynamic; do
        run_model "model efficientnet-b6 576 $pad" --model efficientnet-b6 --size 576 --batch 1 --eval_only \
            --no_dump --same_padding "$pad" --anomaly build/f32/anomaly
    done ;;
esac

echo
echo "parity: $pass passed, $fail failed"
exit $status
