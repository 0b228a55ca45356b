#!/usr/bin/env bash
# The GPU check of the CUDA twin, for a machine with an NVIDIA GPU (sm_90 or
# newer) and CUDA at /usr/local/cuda: builds `make CUDA=1` in both
# precisions, runs the whole `anomaly check-cuda` table in each (twice, to
# show the GPU side is bit-reproducible), and writes everything to $OUT
# (default build/gpu_check): env.txt (date, GPU, driver, nvcc), the build
# logs, check_f32.txt / check_f64.txt (the tables), their CSVs, and
# summary.txt; then tools/cuda_model_diff.py for efficientnet-b0,
# efficientnet-b6 (96 px) and resnext50_32x4d at 128 px in each precision:
# forward (every module's output), first-step gradients and two Adam steps
# with `--device cuda` against the CPU (models_f32.txt, models_f64.txt;
# the float32 step is printed as information, the double one gates).
# Exit status 0 only when everything is OK and the tables reproducible.
# Takes a few minutes on 16 cores.
#
# PREBUILT=DIR: use DIR/anomaly-f32 and DIR/anomaly-f64 (with DIR/lib on
# the library path) instead of building, for a machine without the build
# dependencies.
set -u
cd "$(dirname "$0")/.."
OUT=${OUT:-build/gpu_check}
mkdir -p "$OUT"
jobs=$(nproc 2> /dev/null || echo 4)
{
    echo "date: $(date -u '+%Y-%m-%d %H:%M UTC')"
    nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>&1
    nvidia-smi 2>&1 | sed -n 3p
    /usr/local/cuda/bin/nvcc --version 2>&1 | tail -2
    lscpu 2>/dev/null | grep 'Model name'
} > "$OUT/env.txt"
cat "$OUT/env.txt"

status=0
bins=()
for p in 32 64; do
    if [ -n "${PREBUILT:-}" ]; then
        bins+=("$PREBUILT/anomaly-f$p")
        continue
    fi
    (make -j"$jobs" CUDA=1 PRECISION=$p WERROR=1 all > "$OUT/build_f$p.log" 2>&1; echo $? > "$OUT/build_f$p.rc") &
    bins+=("build/cuda-f$p/anomaly")
done
wait
[ -n "${PREBUILT:-}" ] && export LD_LIBRARY_PATH="$PREBUILT/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"

: > "$OUT/summary.txt"
for i in 0 1; do
    p=$((32 + 32 * i))
    bin=${bins[$i]}
    if [ -z "${PREBUILT:-}" ] && [ "$(cat "$OUT/build_f$p.rc")" != 0 ]; then
        echo "float$p: build failed (tail of $OUT/build_f$p.log):" | tee -a "$OUT/summary.txt"
        tail -15 "$OUT/build_f$p.log"
        status=1
        continue
    fi
    start=$(date +%s)
    timeout 240 "$bin" check-cuda > "$OUT/check_f$p.txt" 2> "$OUT/check_f$p.err"
    rc=$?
    secs=$(($(date +%s) - start))
    timeout 240 "$bin" check-cuda --csv > "$OUT/check_f$p.csv" 2> /dev/null
    timeout 240 "$bin" check-cuda --csv > "$OUT/check_f$p.again.csv" 2> /dev/null
    same=reproducible
    cmp -s "$OUT/check_f$p.csv" "$OUT/check_f$p.again.csv" || { same="NOT reproducible"; status=1; }
    [ $rc -ne 0 ] && status=1
    {
        echo "float$p: $(tail -1 "$OUT/check_f$p.txt") (exit $rc, ${secs}s), second run $same"
        cat "$OUT/check_f$p.err"
        grep 'NOT OK' "$OUT/check_f$p.txt"
    } | tee -a "$OUT/summary.txt"
done
for i in 0 1; do
    p=$((32 + 32 * i))
    bin=${bins[$i]}
    [ -x "$bin" ] || continue
    for spec in efficientnet-b0:128 efficientnet-b6:96 resnext50_32x4d:128; do
        timeout 300 /usr/bin/python3 tools/cuda_model_diff.py --anomaly "$bin" --model "${spec%%:*}" \
            --size "${spec##*:}" >> "$OUT/models_f$p.txt" 2>&1 || status=1
    done
    echo "float$p models:" | tee -a "$OUT/summary.txt"
    tee -a "$OUT/summary.txt" < "$OUT/models_f$p.txt"
done
echo "gpu_check: status $status"
exit $status
