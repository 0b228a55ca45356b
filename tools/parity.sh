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
echo
echo "parity: $pass passed, $fail failed"
exit $status
