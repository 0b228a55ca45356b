#!/usr/bin/env bash
# The exact mode's promise: the same bytes on every CPU, instruction set,
# thread count and compiler. Runs, in the exact mode,
#   step_b0        2 Adam steps of efficientnet-b0 on a fixed 2x3x32x32 batch
#   step_resnext   1 Adam step of resnext50_32x4d on the same batch
#   train_test     synth, 2 epochs of b0 training on one fold, anomaly test
#   augment        the SPEC section 2 augmentation trace of one image
# under every ANOMALY_ISA this CPU has (avx512, avx2, generic) at 1 and 2
# threads, and checks that all of them give identical bytes and that those
# bytes are the golden SHA-256 sums in tests/golden/exact_f32.sha256 (so a
# change of CPU, compiler or code that moves one bit fails here).
#
#   ANOMALY_BIN   the binary (default build/f32/anomaly)
#   ANOMALY_RUN   a prefix to run it with, e.g. "qemu-aarch64 -L /usr/aarch64-linux-gnu"
#   ANOMALY_TAG   a name for this binary in the output (default: its build folder)
#   GOLDEN_THREADS  the thread counts to run (default "1 2")
#   UPDATE_GOLDEN=1  write the golden file from this run instead of checking
set -u
cd "$(dirname "$0")/.."
root=$(pwd)
bin=${ANOMALY_BIN:-build/f32/anomaly}
tag=${ANOMALY_TAG:-$(basename "$(dirname "$bin")")}
golden=$root/tests/golden/exact_f32.sha256
cases="step_b0 step_resnext train_test augment"

if [ ! -x "$bin" ]; then
    echo "FAIL exact_golden: no anomaly binary at $bin"
    exit 1
fi
bin=$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")
run=${ANOMALY_RUN:-}
tmp=$(mktemp -d /tmp/anomaly_exact_golden.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp" || exit 1
an() { $run "$bin" "$@"; }

if ! an --version | grep -q float32; then
    echo "skip exact_golden[$tag]: the golden sums are for the float32 build"
    exit 0
fi

# A fixed batch, written without any floating-point library: values k/8
# for k in -8..8 (exact in float32) as a float32 NCHW .npy, and labels.
npy_header() { # $1 descr, $2 shape: a version 1.0 header, padded to a multiple of 64 bytes
    local h="{'descr': '$1', 'fortran_order': False, 'shape': $2, }"
    local total=$(((10 + ${#h} + 1 + 63) / 64 * 64))
    local len=$((total - 10))
    printf '\223NUMPY\001\000'"\\$(printf '%03o' $((len % 256)))\\$(printf '%03o' $((len / 256)))"
    printf '%s%*s\n' "$h" $((len - ${#h} - 1)) ""
}
{
    npy_header '<f4' '(2, 3, 32, 32)'
    perl -e 'print pack("f<*", map { (($_ * 7) % 17 - 8) / 8 } 0 .. 2 * 3 * 32 * 32 - 1)'
} > x.npy
{
    npy_header '<i8' '(2,)'
    perl -e 'print pack("q<*", 3, 11)'
} > labels.npy

# The data set of train_test and the image of augment: written once, in the
# exact mode (synth draws with the portable functions in any mode).
if ! an --exact synth --out syn --train 176 --test 8 --size 32 --seed 5 > /dev/null 2> synth.err; then
    echo "FAIL exact_golden[$tag]: anomaly synth failed: $(head -n 1 synth.err)"
    exit 1
fi
mkdir -p data/train
cp -r syn/test syn/test_df.csv syn/sample_submission.csv data/
awk -F, 'NR == 1 || $3 == "bottle" || $3 == "screw"' syn/train/train_df.csv > data/train/train_df.csv
for f in $(awk -F, 'NR > 1 { print $2 }' data/train/train_df.csv); do cp "syn/train/$f" data/train/; done
image=data/train/$(awk -F, 'NR == 2 { print $2 }' data/train/train_df.csv)

# One run of every case into directory $1 at $2 threads; prints "sum case"
# lines to $1/sums (a failed command leaves its case's sum as "failed").
run_cases() { # $1 dir, $2 threads
    local d=$1 t=$2 step_flags
    mkdir -p "$d"
    step_flags="--num_classes 12 --input x.npy --labels labels.npy --criterion smoothing --optimizer Adam --lr 1e-3 --clipping 2 --threads $t"
    {
        if an --exact init --model efficientnet-b0 --num_classes 12 --init hash --seed 1 --out "$d/b0.st" > /dev/null &&
            an --exact step --model efficientnet-b0 $step_flags --steps 2 --weights "$d/b0.st" \
                --out "$d/b0_2.st" --grads "$d/b0_g.st" > "$d/b0.out"; then
            echo "$(cat "$d/b0_2.st" "$d/b0_g.st" "$d/b0.out" | sha256sum | cut -c1-64) step_b0"
        else echo "failed step_b0"; fi

        if an --exact init --model resnext50_32x4d --num_classes 12 --init hash --seed 2 --out "$d/rx.st" > /dev/null &&
            an --exact step --model resnext50_32x4d $step_flags --weights "$d/rx.st" \
                --out "$d/rx_1.st" --grads "$d/rx_g.st" > "$d/rx.out"; then
            echo "$(cat "$d/rx_1.st" "$d/rx_g.st" "$d/rx.out" | sha256sum | cut -c1-64) step_resnext"
        else echo "failed step_resnext"; fi

        if an --exact train --data_path data --results "$d/res" --exp_num 1 --arch 0 --img_size 32 \
            --batch_size 4 --epochs 2 --fold 3 --folds 1 --lr 1e-3 --aug_ver 2 --progress off \
            --threads "$t" > "$d/train.out" 2>&1 &&
            an --exact test --data_path data --results "$d/res" --exp_num 1 --threads "$t" \
                --progress off > "$d/test.out" 2>&1; then
            # the checkpoints, the logged numbers (log.csv's seventh column is
            # wall-clock seconds), the test features and the submission
            local run_dir files
            run_dir=$(echo "$d"/res/1/Fold1_*)
            files=$(ls "$run_dir"/model_*.safetensors "$d/res/1/features_1.npy" "$d/res/1/sub_baseline_1.csv" \
                "$run_dir/log.csv" 2>/dev/null | wc -l)
            if [ "$files" -ge 4 ]; then
                echo "$(cat "$run_dir"/model_*.safetensors "$d/res/1/features_1.npy" "$d/res/1/sub_baseline_1.csv" \
                    <(cut -d, -f1-6,8 "$run_dir/log.csv") | sha256sum | cut -c1-64) train_test"
            else echo "failed train_test"; fi
        else echo "failed train_test"; fi

        if an --exact augment "$image" --out "$d/aug.png" --aug_ver 2 --img_size 32 --seed 9 \
            --epoch 1 --index 3 > "$d/aug.log"; then
            echo "$(cat "$d/aug.png" "$d/aug.log" | sha256sum | cut -c1-64) augment"
        else echo "failed augment"; fi
    } > "$d/sums"
}

# The instruction sets to try: every level this CPU has.
cpu_isa=$(an --version | sed -n 's/^kernels: [a-z0-9]* (this CPU: \([a-z0-9]*\).*/\1/p')
case "$cpu_isa" in
avx512) isas="avx512 avx2 generic" ;;
avx2) isas="avx2 generic" ;;
*) isas="generic" ;;
esac

first=
for isa in $isas; do
    for t in ${GOLDEN_THREADS:-1 2}; do
        ANOMALY_ISA=$isa run_cases "r_${isa}_$t" "$t"
        [ -z "$first" ] && first="r_${isa}_$t"
    done
done

status=0
for c in $cases; do
    ref=$(awk -v c="$c" '$2 == c { print $1 }' "$first/sums")
    bad=""
    for d in r_*; do
        got=$(awk -v c="$c" '$2 == c { print $1 }' "$d/sums")
        [ "$got" = "$ref" ] || bad="$bad ${d#r_}"
    done
    if [ "$ref" = failed ] || grep -q "^failed $c" r_*/sums; then
        echo "FAIL exact_$c[$tag]: a command failed:"
        grep -l "^failed $c" r_*/sums | sed 's/^/  in /'
        status=1
    elif [ -n "$bad" ]; then
        echo "FAIL exact_$c[$tag]: bytes differ between ISA/thread runs:$bad (vs ${first#r_})"
        status=1
    elif [ "${UPDATE_GOLDEN:-0}" = 1 ]; then
        echo "ok exact_$c[$tag] (identical under $isas x ${GOLDEN_THREADS:-1 2} threads; golden written)"
    elif ! grep -q "^$ref  $c\$" "$golden" 2>/dev/null; then
        echo "FAIL exact_$c[$tag]: identical under $isas x ${GOLDEN_THREADS:-1 2} threads, but $ref is not the golden sum $(awk -v c="$c" '$2 == c { print $1 }' "$golden" 2>/dev/null)"
        status=1
    else
        echo "ok exact_$c[$tag] (identical under $isas x ${GOLDEN_THREADS:-1 2} threads, golden sum)"
    fi
done
if [ "${UPDATE_GOLDEN:-0}" = 1 ] && [ $status = 0 ]; then
    mkdir -p "$(dirname "$golden")"
    awk '{ print $1 "  " $2 }' "$first/sums" > "$golden.tmp" && mv "$golden.tmp" "$golden"
fi
exit $status
