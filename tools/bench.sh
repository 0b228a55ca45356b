#!/bin/sh
# `make bench`: the C implementation and PyTorch side by side on this machine.
#
# For each case below both sides run the same model, input shape and thread
# count: one warm-up step, then BENCH_STEPS timed steps, whose median is
# reported with the peak resident set size of the process. A train step is
# forward + label-smoothing loss + backward + clipping + Adam (`anomaly
# step`, tools/bench_torch.py); eval is the inference forward.
#
#   b0-train-64      efficientnet-b0 train 64 px x 8 (the demo's shape)
#   b0-train-224     efficientnet-b0 train 224 px x 8
#   b0-train-128     efficientnet-b0 train 128 px x 16
#   b0-eval-224      efficientnet-b0 eval 224 px x 8
#   rx50-train-224   resnext50_32x4d train 224 px x 8
#   rs50-train-224   resnest50d_4s2x40d (the seed's ResNeSt) train 224 px x 8
#   b6-eval-528      efficientnet-b6 eval 528 px x 1
#   b0-train-224-1t  efficientnet-b0 train 224 px x 8 on one thread
#   b6-test-640      the real inference job: `anomaly test --profile` of an
#                    efficientnet-b6 experiment at 640 px (the seed's
#                    inference size) over BENCH_INFER_IMAGES (16) PNG images
#                    of 1024 x 1024 px (made by `anomaly synth` in the work
#                    directory, or BENCH_INFER_DATA), decoded and resized by
#                    the loader, batches of BENCH_INFER_BATCH (8); PyTorch:
#                    cv2.imread + cv2.resize + the b6 twin, one prefetch
#                    thread (tools/bench_torch.py --mode test). Reported:
#                    images/s end to end, the network's share of the time,
#                    the time it waited for data and the loader's busy time.
#
# Dispatch paths: one table per level in BENCH_ISA (default: every level
# this CPU has, of avx512 avx2 generic). Our binary runs with ANOMALY_ISA set
# to the level and OPENBLAS_CORETYPE unset, so that it picks the OpenBLAS
# kernels of that level itself (SkylakeX, Haswell, Prescott; src/core/blas.c);
# BENCH_KEEP_CORETYPE=1 keeps the caller's OPENBLAS_CORETYPE instead.
# PyTorch runs once per case as installed (its native oneDNN ISA), and once
# more for the avx2 table on a CPU with AVX-512, with ONEDNN_MAX_CPU_ISA=AVX2
# DNNL_MAX_CPU_ISA=AVX2 ATEN_CPU_CAPABILITY=avx2 OPENBLAS_CORETYPE=Haswell, so
# that both sides of that table run AVX2. The generic table (the portable C
# kernels, for reference) is compared with native PyTorch and runs only the
# cases of BENCH_GENERIC_CASES (default b0-train-64 b0-eval-224 b6-eval-528:
# the portable kernels take several times longer).
#
# PyTorch runs each case twice: as installed, and with glibc's allocator
# kept from returning memory to the system (GLIBC_TUNABLES: mmap_max=0,
# trim_threshold 64 GiB; "heap" in the tables). As installed, glibc serves
# every large tensor by a fresh mmap and unmaps it when freed, so each step
# faults its activations in page by page again; where a page fault is
# expensive (virtual machines) that is half of PyTorch's time or more (b0
# train 224 px x 8: 2.4 s as installed, 0.55 s heap, on the machine of the
# README's table). Our side allocates its arena once. Time ratios are
# against the faster of the two PyTorch runs, memory against the installed
# one (the heap run keeps freed memory, so its peak is higher).
# BENCH_TORCH_HEAP=0 leaves the heap run out. The heap run then profiles
# as many steps again (bench_torch.py --profile), and the report sets its
# time per op category (convolutions, depthwise, BatchNorm + activations,
# the rest) beside our --profile's: where the difference is.
#
# Each case (but the inference job) also runs once in the exact mode
# (--exact: the reference kernels and the reference GEMM, src/ops/ref, the
# same on every level, so run under the first level only), BENCH_EXACT_STEPS
# timed steps after one warm-up (default 1), reported as its time and its
# ratio to the fast path; BENCH_EXACT=0 leaves it out.
#
# Then the machine's single-threaded sgemm rate per level (the kernels'
# ceiling), the GFLOP/s each side achieves on the models' convolutions and
# linear layers, and the 1-thread / 2-thread scaling of the b0 train step.
#
# Environment: BENCH_THREADS (default 2), BENCH_STEPS (default 3, down from
# 5, so that the whole run, every level, the inference job and the exact
# mode included, stays within about 30 minutes on 2 idle cores),
# BENCH_TORCH_HEAP (default 1), BENCH_CASES (a subset of the
# case names, space separated), BENCH_ISA, BENCH_GENERIC_CASES,
# BENCH_INFER_IMAGES, BENCH_INFER_BATCH, BENCH_INFER_DATA (a data set to
# predict instead of the synthetic one: a test/ folder and test_df.csv),
# BENCH_QUICK=1 (a check that everything runs: one timed step, no exact
# mode, cases b0-train-64 b0-eval-224 b6-test-640 with 8 images, unless set
# otherwise), ANOMALY (the binary, default build/f32/anomaly), BENCH_KEEP (a
# directory to keep the raw outputs and the synthetic images in; a second run
# with the same BENCH_KEEP reuses the images). The anomaly binary sets its
# OpenMP spin limit itself (src/core/blas.c); PyTorch gets the same
# GOMP_SPINCOUNT when the user set neither that nor OMP_WAIT_POLICY, so both
# sides wait at barriers the same way. Every table names the BLAS kernels
# and oneDNN instruction set each side used.
set -eu

ANOMALY=${ANOMALY:-build/f32/anomaly}
PY=/usr/bin/python3
QUICK=${BENCH_QUICK:-0}
ALL_CASES="b0-train-64 b0-train-224 b0-train-128 b0-eval-224 rx50-train-224 rs50-train-224 b6-eval-528 b0-train-224-1t b6-test-640"
if [ "$QUICK" = 1 ]; then
    STEPS=${BENCH_STEPS:-1}
    EXACT=${BENCH_EXACT:-0}
    CASES=${BENCH_CASES:-"b0-train-64 b0-eval-224 b6-test-640"}
    INFER_IMAGES=${BENCH_INFER_IMAGES:-8}
else
    STEPS=${BENCH_STEPS:-3}
    EXACT=${BENCH_EXACT:-1}
    CASES=${BENCH_CASES:-$ALL_CASES}
    INFER_IMAGES=${BENCH_INFER_IMAGES:-16}
fi
THREADS=${BENCH_THREADS:-2}
EXACT_STEPS=${BENCH_EXACT_STEPS:-1}
TORCH_HEAP=${BENCH_TORCH_HEAP:-1}
INFER_BATCH=${BENCH_INFER_BATCH:-8}
GENERIC_CASES=${BENCH_GENERIC_CASES:-"b0-train-64 b0-eval-224 b6-eval-528"}
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
cd "$ROOT"

die() { echo "bench: $*" >&2; exit 1; }

# ---- check every setting before any work ----
positive() { # NAME VALUE
    case $2 in '' | *[!0-9]* | 0*) die "$1 must be a positive whole number, not '$2'" ;; esac
}
positive BENCH_THREADS "$THREADS"
positive BENCH_STEPS "$STEPS"
positive BENCH_EXACT_STEPS "$EXACT_STEPS"
positive BENCH_INFER_IMAGES "$INFER_IMAGES"
positive BENCH_INFER_BATCH "$INFER_BATCH"
case $EXACT in 0 | 1) ;; *) die "BENCH_EXACT must be 0 or 1, not '$EXACT'" ;; esac
case $TORCH_HEAP in 0 | 1) ;; *) die "BENCH_TORCH_HEAP must be 0 or 1, not '$TORCH_HEAP'" ;; esac
case $QUICK in 0 | 1) ;; *) die "BENCH_QUICK must be 0 or 1, not '$QUICK'" ;; esac
[ -z "${BENCH_INFER_DATA:-}" ] || [ -f "$BENCH_INFER_DATA/test_df.csv" ] ||
    die "BENCH_INFER_DATA=$BENCH_INFER_DATA: no test_df.csv there"
known() { # WORD LIST
    for k in $2; do [ "$k" = "$1" ] && return 0; done
    return 1
}
for name in $CASES $GENERIC_CASES; do
    known "$name" "$ALL_CASES" || die "unknown case '$name' (known: $ALL_CASES)"
done
[ -n "$(echo $CASES)" ] || die "BENCH_CASES names no case (known: $ALL_CASES)"

[ -x "$ANOMALY" ] || die "$ANOMALY not built (make PRECISION=32)"
# The CPU's level: the first word of the kernels line without ANOMALY_ISA.
cpu_isa=$(env -u ANOMALY_ISA "$ANOMALY" --version | sed -n 's/^kernels: \([a-z0-9]*\).*/\1/p')
case $cpu_isa in
    avx512) cpu_levels="avx512 avx2 generic" ;;
    avx2) cpu_levels="avx2 generic" ;;
    generic) cpu_levels="generic" ;;
    *) die "cannot tell this CPU's level from '$ANOMALY --version'" ;;
esac
ISAS=${BENCH_ISA:-$cpu_levels}
for isa in $ISAS; do
    known "$isa" "avx512 avx2 generic" || die "BENCH_ISA: unknown level '$isa' (avx512, avx2 or generic)"
    known "$isa" "$cpu_levels" || die "BENCH_ISA: this CPU has no $isa (its levels: $cpu_levels)"
done
[ -n "$(echo $ISAS)" ] || die "BENCH_ISA names no level"
if ! $PY -c "import torch, numpy" 2>/dev/null; then
    die "$PY lacks torch or numpy (Debian: python3-torch python3-numpy)"
fi
if known b6-test-640 "$CASES" && ! $PY -c "import cv2" 2>/dev/null; then
    die "$PY lacks cv2 for the b6-test-640 case (Debian: python3-opencv)"
fi

if [ -n "${BENCH_KEEP:-}" ]; then
    work=$BENCH_KEEP
    mkdir -p "$work"
else
    work=$(mktemp -d)
    trap 'rm -rf "$work"' EXIT INT TERM
fi

torch_env=""
if [ -z "${GOMP_SPINCOUNT:-}" ] && [ -z "${OMP_WAIT_POLICY:-}" ]; then
    torch_env="GOMP_SPINCOUNT=10000"
fi
# PyTorch held to AVX2 for the avx2 table (only needed on a CPU with more).
torch_avx2_env="ONEDNN_MAX_CPU_ISA=AVX2 DNNL_MAX_CPU_ISA=AVX2 ATEN_CPU_CAPABILITY=avx2 OPENBLAS_CORETYPE=Haswell"
# glibc's allocator keeping freed memory (see the top): PyTorch's "heap" run.
torch_heap_env="GLIBC_TUNABLES=glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=68719476736"
torch_mode() { # ISA -> native | avx2
    if [ "$1" = avx2 ] && [ "$cpu_isa" = avx512 ]; then echo avx2; else echo native; fi
}
# Our binary at one level: ANOMALY_ISA, and OpenBLAS left to follow it.
run_c() { # ISA COMMAND...
    isa=$1
    shift
    if [ "${BENCH_KEEP_CORETYPE:-0}" = 1 ]; then
        env ANOMALY_ISA="$isa" "$@"
    else
        env -u OPENBLAS_CORETYPE ANOMALY_ISA="$isa" "$@"
    fi
}

t_start=$(date +%s)
echo "bench: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg), $THREADS threads," \
    "$STEPS timed steps, levels: $ISAS, cases: $(echo $CASES)" >&2

# The sgemm ceiling per level, through the library's own gemm().
lib=$(dirname "$ANOMALY")/libanomaly.a
${CC:-cc} -std=c99 -O2 -fopenmp -Iinclude -D_POSIX_C_SOURCE=200809L tools/bench_gemm.c "$lib" \
    -lopenblas -lm -o "$work/bench_gemm"
for isa in $ISAS; do
    mkdir -p "$work/$isa"
    run_c "$isa" "$ANOMALY" --version > "$work/$isa/version.txt"
    run_c "$isa" "$work/bench_gemm" "$THREADS" 1024 > "$work/$isa/gemm.txt"
done

# case name -> model mode size batch threads
case_args() {
    case $1 in
        b0-train-64) echo "efficientnet-b0 train 64 8 $THREADS" ;;
        b0-train-224) echo "efficientnet-b0 train 224 8 $THREADS" ;;
        b0-train-128) echo "efficientnet-b0 train 128 16 $THREADS" ;;
        b0-eval-224) echo "efficientnet-b0 eval 224 8 $THREADS" ;;
        rx50-train-224) echo "resnext50_32x4d train 224 8 $THREADS" ;;
        rs50-train-224) echo "resnest50d_4s2x40d train 224 8 $THREADS" ;;
        b6-eval-528) echo "efficientnet-b6 eval 528 1 $THREADS" ;;
        b0-train-224-1t) echo "efficientnet-b0 train 224 8 1" ;;
        b6-test-640) echo "efficientnet-b6 test 640 $INFER_BATCH $THREADS" ;;
    esac
}

# The inference job's data set and experiment: an efficientnet-b6 fold run at
# 640 px whose checkpoint is a fresh initialisation (the time does not depend
# on the weights), and 88 placeholder labels (nothing is scored).
infer_setup() {
    data=${BENCH_INFER_DATA:-$work/infer_data}
    n=$(((INFER_IMAGES + 1) / 2 * 2)) # anomaly synth makes an even number
    if [ -z "${BENCH_INFER_DATA:-}" ] && [ "$(ls "$data/test" 2>/dev/null | wc -l)" != "$n" ]; then
        echo "bench: b6-test-640: $n synthetic test images of 1024 x 1024 px" >&2
        "$ANOMALY" synth --out "$data" --train 176 --test "$n" --size 1024 --force > /dev/null
    fi
    exp=$work/infer_results/1
    if [ ! -f "$exp/Fold1_E6/model_1.safetensors" ]; then
        mkdir -p "$exp/Fold1_E6"
        printf 'key,value\nmodel,efficientnet\narch,6\nimg_size,640\nfold,1\ntrain_method,baseline\n' \
            > "$exp/train_args.csv"
        awk 'BEGIN { print "label"; for (i = 0; i < 88; i++) printf "label_%02d\n", i }' > "$exp/labels.csv"
        "$ANOMALY" init --model efficientnet-b6 --num_classes 88 --seed 1 \
            --out "$exp/Fold1_E6/model_1.safetensors" > /dev/null
    fi
}

c_case() { # ISA NAME MODEL MODE SIZE BATCH THREADS OUT [--exact STEPS]
    isa=$1 name=$2 model=$3 mode=$4 size=$5 batch=$6 threads=$7 out=$8
    steps=$STEPS exact=""
    if [ $# -gt 8 ]; then exact=--exact steps=$EXACT_STEPS; fi
    x="$work/x_${batch}_${size}.npy" y="$work/y_${batch}.npy" w="$work/$model.safetensors"
    case $mode in
        train)
            run_c "$isa" "$ANOMALY" $exact step --model "$model" --num_classes 88 --weights "$w" \
                --input "$x" --labels "$y" --out "$work/after.safetensors" --steps $((steps + 1)) \
                --threads "$threads" --profile > "$out" ;;
        eval)
            run_c "$isa" "$ANOMALY" $exact forward --model "$model" --num_classes 88 --weights "$w" \
                --input "$x" --out "$work/logits.npy" --repeat $((steps + 1)) --threads "$threads" \
                --profile > "$out" ;;
        test)
            run_c "$isa" "$ANOMALY" test --exp_num 1 --data_path "$data" --results "$work/infer_results" \
                --output "$work/infer_out" --batch_size "$batch" --threads "$threads" --progress off \
                --profile > "$out" ;;
    esac
}

for name in $CASES; do
    set -- $(case_args "$name")
    model=$1 mode=$2 size=$3 batch=$4 threads=$5
    if [ "$mode" = test ]; then
        infer_setup
    else
        x="$work/x_${batch}_${size}.npy" y="$work/y_${batch}.npy" w="$work/$model.safetensors"
        [ -f "$x" ] || $PY -c "
import numpy as np
r = np.random.default_rng(0)
np.save('$x', r.standard_normal(($batch, 3, $size, $size)).astype(np.float32))
np.save('$y', (np.arange($batch) % 88).astype(np.int64))"
        [ -f "$w" ] || "$ANOMALY" init --model "$model" --num_classes 88 --seed 1 --out "$w" > /dev/null
    fi
    first=""
    for isa in $ISAS; do
        [ "$isa" = generic ] && ! known "$name" "$GENERIC_CASES" && continue
        echo "bench: $name: anomaly, $isa ($(($(date +%s) - t_start)) s)" >&2
        c_case "$isa" "$name" "$model" "$mode" "$size" "$batch" "$threads" "$work/$isa/$name.c.txt"
        [ -n "$first" ] || first=$isa
    done
    if [ "$EXACT" = 1 ] && [ "$mode" != test ] && [ -n "$first" ]; then
        echo "bench: $name: anomaly --exact ($(($(date +%s) - t_start)) s)" >&2
        mkdir -p "$work/exact"
        c_case "$first" "$name" "$model" "$mode" "$size" "$batch" "$threads" "$work/exact/$name.c.txt" --exact
        echo "$first" > "$work/exact/$name.isa"
    fi
    done_modes=""
    for isa in $ISAS; do
        [ "$isa" = generic ] && ! known "$name" "$GENERIC_CASES" && continue
        tm=$(torch_mode "$isa")
        known "$tm" "$done_modes" && continue
        done_modes="$done_modes $tm"
        extra=""
        [ "$tm" = avx2 ] && extra=$torch_avx2_env
        allocs=installed
        [ "$TORCH_HEAP" = 1 ] && allocs="installed heap"
        for alloc in $allocs; do
            echo "bench: $name: pytorch, $tm, $alloc ($(($(date +%s) - t_start)) s)" >&2
            dir=$work/torch-$tm
            heap=""
            if [ "$alloc" = heap ]; then dir=$work/torch-$tm-heap heap=$torch_heap_env; fi
            mkdir -p "$dir"
            if [ "$mode" = test ]; then
                env $torch_env $extra $heap $PY tools/bench_torch.py --model "$model" --size "$size" \
                    --batch "$batch" --mode test --threads "$threads" --data "$data" > "$dir/$name.torch.json"
            else
                prof=""
                [ "$alloc" = heap ] && prof=--profile
                env $torch_env $extra $heap $PY tools/bench_torch.py --model "$model" --size "$size" \
                    --batch "$batch" --mode "$mode" --threads "$threads" --steps "$STEPS" --warmup 1 \
                    $prof > "$dir/$name.torch.json"
            fi
        done
    done
done

$PY tools/bench_report.py "$work" "$THREADS" "$cpu_isa" "$ISAS" "$CASES"
echo "bench: done in $(($(date +%s) - t_start)) s" >&2
