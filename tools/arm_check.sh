#!/usr/bin/env bash
# The ARM64 check: cross-builds the project with Debian's aarch64-linux-gnu-gcc
# (`make CROSS=aarch64` -> build/aarch64-f32: library, anomaly, tests) and runs
# test executables or an `anomaly` command under qemu-aarch64.
#
#   tools/arm_check.sh                      the default set: test_pmath (whose
#                                           golden bits must be those committed
#                                           from x86-64) and a few fast unit tests
#   tools/arm_check.sh test_core test_csv   these test executables
#   tools/arm_check.sh anomaly ARGS...      the ARM64 anomaly binary with ARGS
#   tools/arm_check.sh golden               the exact mode's golden test: the
#                                           same sums as on x86-64 (make arm-golden)
#
# Installs what it needs when run as root (dpkg --add-architecture arm64,
# gcc-aarch64-linux-gnu, qemu-user, the :arm64 OpenBLAS, libpng, libjpeg and
# libgomp); otherwise prints the apt-get lines and stops. Not part of
# `make test`: installing takes minutes, the build 1-4 minutes on 2 cores.
#
# Environment: PRECISION (32 or 64; default 32), ARM_JOBS (make -j; 2),
# ARM_TIMEOUT (seconds per run; 600), PMATH_TEST_N (random inputs per function
# in test_pmath; 100000 here, since the 113-bit long-double reference is
# emulated), ARM_THREADS (OMP_NUM_THREADS; 1, see below).
#
# Threads: Debian 12's qemu-user 7.2 hangs in clone() -- any thread creation
# or fork -- on some kernels (seen on Linux 6.18), so runs use one OpenMP and
# one OpenBLAS thread unless ARM_THREADS says otherwise, and the default set
# leaves out the tests that fork a child (run_child). The library's results do
# not depend on the thread count.
set -u
cd "$(dirname "$0")/.." || exit 1
PREC=${PRECISION:-32}
BUILD=build/aarch64-f$PREC
QEMU=(qemu-aarch64 -L /usr/aarch64-linux-gnu)
DEFAULT_TESTS=(test_pmath test_core test_csv test_sched)
PKGS_HOST=(gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user)
PKGS_ARM=(libopenblas-dev:arm64 libpng-dev:arm64 libjpeg-dev:arm64 libgomp1:arm64)

now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }

# ---- install ----
t0=$(now)
missing=()
for p in "${PKGS_HOST[@]}" "${PKGS_ARM[@]}"; do
    dpkg -s "$p" > /dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "arm_check: missing ${missing[*]}; as root run:" >&2
        echo "  dpkg --add-architecture arm64 && apt-get update && apt-get install -y --no-install-recommends ${PKGS_HOST[*]} ${PKGS_ARM[*]}" >&2
        exit 1
    fi
    echo "arm_check: installing ${missing[*]}"
    if ! dpkg --print-foreign-architectures | grep -qx arm64; then
        dpkg --add-architecture arm64 || exit 1
    fi
    apt-get update -q || exit 1
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
        "${PKGS_HOST[@]}" "${PKGS_ARM[@]}" || exit 1
fi
t1=$(now)
echo "arm_check: tools ready ($(secs "$t0" "$t1") s)"

# ---- build ----
mkdir -p build
if ! make --no-print-directory -j"${ARM_JOBS:-2}" CROSS=aarch64 PRECISION="$PREC" WERROR=1 tests \
        > "$BUILD.log" 2>&1; then
    tail -20 "$BUILD.log"
    echo "arm_check: FAIL build (log: $BUILD.log)"
    exit 1
fi
t2=$(now)
echo "arm_check: built $BUILD with $(aarch64-linux-gnu-gcc -dumpfullversion) ($(secs "$t1" "$t2") s)"

# ---- run ----
export OMP_NUM_THREADS=${ARM_THREADS:-1} OPENBLAS_NUM_THREADS=1
unset OPENBLAS_CORETYPE # an x86-64 core name means nothing to the ARM64 OpenBLAS
export PMATH_TEST_N=${PMATH_TEST_N:-100000}
run() { # $@: command line for qemu
    timeout "${ARM_TIMEOUT:-600}" "${QEMU[@]}" "$@"
}

# `golden`: the exact mode's golden test (tests/test_exact_golden.sh) with
# the ARM64 binary under qemu, one thread (see above) and the data loader
# without its background thread (ANOMALY_PREFETCH=0, same bytes): the same
# sums as x86-64.
if [ $# -gt 0 ] && [ "$1" = golden ]; then
    ANOMALY_BIN=$BUILD/anomaly ANOMALY_TAG=aarch64 ANOMALY_KEEP_ENV=1 GOLDEN_THREADS=1 ANOMALY_PREFETCH=0 \
        ANOMALY_RUN="timeout ${ARM_TIMEOUT:-600} ${QEMU[*]}" bash tests/test_exact_golden.sh
    rc=$?
    echo "arm_check: golden test exited $rc ($(secs "$t2" "$(now)") s)"
    exit $rc
fi
if [ $# -gt 0 ] && [ "$1" = anomaly ]; then
    shift
    run "$BUILD/anomaly" "$@"
    rc=$?
    echo "arm_check: anomaly exited $rc ($(secs "$t2" "$(now)") s)"
    exit $rc
fi

tests=("$@")
[ ${#tests[@]} -eq 0 ] && tests=("${DEFAULT_TESTS[@]}")
pass=0 fail=0 skip=0
out=$(mktemp)
trap 'rm -f "$out"' EXIT
for t in "${tests[@]}"; do
    bin=$BUILD/tests/$t
    if [ ! -x "$bin" ]; then
        echo "[aarch64] FAIL $t: no such test executable $bin"
        fail=$((fail + 1))
        continue
    fi
    s=$(now)
    run "$bin" > "$out" 2>&1
    rc=$?
    sed -e 's/^/[aarch64] /' "$out"
    p=$(grep -c '^ok ' "$out") f=$(grep -c '^FAIL ' "$out") k=$(grep -c '^skip ' "$out")
    if [ $rc -ne 0 ] && [ "$f" -eq 0 ]; then
        echo "[aarch64] FAIL $t: exited with status $rc$([ $rc -eq 124 ] && echo ' (timed out)')"
        f=1
    fi
    echo "arm_check: $t $(secs "$s" "$(now)") s"
    pass=$((pass + p)) fail=$((fail + f)) skip=$((skip + k))
done
echo
echo "aarch64: $pass passed, $fail failed, $skip skipped (install $(secs "$t0" "$t1") s, build $(secs "$t1" "$t2") s, runs $(secs "$t2" "$(now)") s)"
[ "$fail" -eq 0 ]
