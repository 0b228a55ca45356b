#!/usr/bin/env bash
# Runs every test executable of each build directory given (build/f32,
# build/f64), then the shell tests (tests/test_*.sh) once against build/f32,
# and prints the closing line "N passed, M failed, K skipped".
# A test executable that crashes or exits non-zero without a FAIL line counts
# as one failure. ANOMALY_SKIP_TESTS="test_models test_train.sh ..." skips
# those (each printed as a skip with the variable as its reason); .ci/run
# uses it for the slowest tests of the sanitized run.
set -u
cd "$(dirname "$0")/.."
# OpenMP threads wait at barriers briefly instead of spinning for long: on a
# shared machine long spins starve the other thread (results do not depend on it).
export GOMP_SPINCOUNT=${GOMP_SPINCOUNT:-10000}
pass=0 fail=0 skip=0
failed_names=()

count_output() { # $1 prefix, $2 output file, $3 exit code, $4 what ran
    local p f s
    p=$(grep -c '^ok ' "$2")
    f=$(grep -c '^FAIL ' "$2")
    s=$(grep -c '^skip ' "$2")
    sed -e "s/^/[$1] /" "$2"
    if [ "$3" -ne 0 ] && [ "$f" -eq 0 ]; then
        echo "[$1] FAIL $4: exited with status $3"
        f=1
    fi
    while IFS= read -r line; do failed_names+=("[$1] $line"); done < <(grep '^FAIL ' "$2")
    [ "$3" -ne 0 ] && [ "$(grep -c '^FAIL ' "$2")" -eq 0 ] && failed_names+=("[$1] FAIL $4: exit $3")
    pass=$((pass + p)); fail=$((fail + f)); skip=$((skip + s))
}

skipped() { [[ " ${ANOMALY_SKIP_TESTS:-} " == *" $(basename "$1") "* ]]; }

out=$(mktemp)
trap 'rm -f "$out"' EXIT
for build in "$@"; do
    prec=$(basename "$build")
    for t in "$build"/tests/test_*; do
        [ -x "$t" ] || continue
        if skipped "$t"; then
            echo "skip $(basename "$t"): in ANOMALY_SKIP_TESTS" > "$out"
            count_output "$prec" "$out" 0 "$(basename "$t")"
            continue
        fi
        timeout 600 "$t" > "$out" 2>&1
        count_output "$prec" "$out" $? "$(basename "$t")"
    done
done
if [ $# -gt 0 ]; then
    for t in tests/test_*.sh; do
        [ -f "$t" ] || continue
        if skipped "$t"; then
            echo "skip $(basename "$t"): in ANOMALY_SKIP_TESTS" > "$out"
            count_output "sh" "$out" 0 "$(basename "$t")"
            continue
        fi
        ANOMALY_BIN="$1/anomaly" timeout 600 bash "$t" > "$out" 2>&1
        count_output "sh" "$out" $? "$(basename "$t")"
    done
fi
# The exact mode's golden sums once more from the clang build, when there is one.
if [ -x build/clang-f32/anomaly ] && [ -f tests/test_exact_golden.sh ] && ! skipped test_exact_golden.sh; then
    ANOMALY_BIN=build/clang-f32/anomaly ANOMALY_TAG=clang timeout 600 bash tests/test_exact_golden.sh > "$out" 2>&1
    count_output "clang" "$out" $? "test_exact_golden.sh"
fi
if [ "$fail" -gt 0 ]; then
    echo
    echo "Failed:"
    printf '  %s\n' "${failed_names[@]}"
fi
echo
echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
