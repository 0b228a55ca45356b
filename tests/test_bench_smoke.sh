#!/usr/bin/env bash
# The instrument of `make bench`, without timing anything (speed is measured
# by `make bench` only):
#   bench_settings   tools/bench.sh refuses a bad setting (unknown case or
#                    level, a step count of 0, a missing data set) with one
#                    line naming it and exit status 1, before any work
#   test_profile     `anomaly test --profile` prints one profile line per run
#                    whose counts are those of the job (images, batches) and
#                    whose parts fit in it (network and waiting <= the wall);
#                    without --profile there is none
#   bench_report     tools/bench_report.py makes the per-level tables, the
#                    exact-mode table and the inference job's lines from real
#                    `anomaly step/forward/test --profile` outputs and
#                    PyTorch-side JSON lines, with the right ratios; a
#                    malformed output is an error naming the file
# Tiny shapes (efficientnet-b0, 32 px): a few seconds.
set -u
cd "$(dirname "$0")/.."
bin=${ANOMALY_BIN:-build/f32/anomaly}
py=/usr/bin/python3
names="bench_settings test_profile bench_report"
if [ ! -x "$bin" ]; then
    for n in $names; do echo "FAIL $n: no anomaly binary at $bin"; done
    exit 1
fi
tmp=$(mktemp -d /tmp/anomaly_bench_smoke.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
export OMP_WAIT_POLICY=passive
failed=0
bad=""
note() { echo "  $*"; bad=1; }
report() {
    if [ -n "$bad" ]; then echo "FAIL $1: details above"; failed=1; else echo "ok $1"; fi
    bad=""
}

# ---- bench_settings ----
refused() { # $1 expected text, then VAR=VALUE settings
    local want=$1
    shift
    env "$@" ANOMALY="$bin" BENCH_KEEP="$tmp/keep" sh tools/bench.sh > "$tmp/out" 2> "$tmp/err"
    local rc=$?
    [ "$rc" -eq 1 ] || note "$*: exit status $rc, expected 1"
    [ "$(wc -l < "$tmp/err")" -eq 1 ] || note "$*: expected one line on stderr, got: $(cat "$tmp/err")"
    grep -q "^bench: .*$want" "$tmp/err" || note "$*: the line should say '$want': $(cat "$tmp/err")"
    [ ! -e "$tmp/keep" ] || note "$*: work began before the refusal"
    rm -rf "$tmp/keep"
}
refused "unknown case 'b0-train-999'" BENCH_CASES="b0-train-64 b0-train-999"
refused "unknown case 'nope'" BENCH_GENERIC_CASES=nope
refused "unknown level 'sse2'" BENCH_ISA="avx2 sse2"
refused "BENCH_STEPS must be a positive whole number, not '0'" BENCH_STEPS=0
refused "BENCH_INFER_BATCH must be a positive whole number, not 'x'" BENCH_INFER_BATCH=x
refused "no test_df.csv" BENCH_INFER_DATA="$tmp/none"
refused "BENCH_QUICK must be 0 or 1" BENCH_QUICK=yes
refused "BENCH_TORCH_HEAP must be 0 or 1" BENCH_TORCH_HEAP=2
cpu=$(env -u ANOMALY_ISA "$bin" --version | sed -n 's/^kernels: \([a-z0-9]*\).*/\1/p')
if [ "$cpu" = avx2 ] || [ "$cpu" = generic ]; then
    refused "this CPU has no avx512" BENCH_ISA=avx512
fi
report bench_settings

# ---- test_profile ----
"$bin" synth --out "$tmp/data" --train 176 --test 10 --size 32 > /dev/null || exit 1
R=$tmp/results
mkdir -p "$R/1/Fold1_E0" "$R/1/Fold2_E0"
printf 'key,value\nmodel,efficientnet\narch,0\nimg_size,32\nbatch_size,4\nfold,2\ntrain_method,baseline\n' \
    > "$R/1/train_args.csv"
awk 'BEGIN { print "label"; for (i = 0; i < 88; i++) printf "label_%02d\n", i }' > "$R/1/labels.csv"
for k in 1 2; do
    "$bin" init --model efficientnet-b0 --num_classes 88 --init hash --seed $k \
        --out "$R/1/Fold${k}_E0/model_1.safetensors" > /dev/null
done
"$bin" test --exp_num 1 --results "$R" --data_path "$tmp/data" --output "$tmp/o1" --progress off --threads 2 \
    --profile > "$tmp/test.txt" 2>&1 || note "anomaly test --profile failed: $(cat "$tmp/test.txt")"
[ "$(grep -c '^profile Fold[12]_E0: 10 images in 3 batches, ' "$tmp/test.txt")" -eq 2 ] ||
    note "expected a profile line of 10 images in 3 batches per fold: $(grep '^profile' "$tmp/test.txt")"
awk '/^profile / {
        for (i = 1; i <= NF; i++) {
            if ($(i + 1) == "s" && $(i + 2) == "end") wall = $i
            if ($i == "network") net = $(i + 1)
            if ($i == "data") wait = $(i + 1)
            if ($i == "busy") busy = $(i + 1)
        }
        if (!(wall > 0 && net > 0 && net <= wall && wait >= 0 && wait <= wall && busy > 0)) {
            print "  inconsistent: " $0; bad = 1
        }
     }
     END { exit bad }' "$tmp/test.txt" || note "a profile line's parts do not fit in its wall time"
"$bin" test --exp_num 1 --results "$R" --data_path "$tmp/data" --output "$tmp/o2" --progress off --threads 2 \
    > "$tmp/plain.txt" 2>&1 || note "anomaly test failed"
! grep -q '^profile' "$tmp/plain.txt" || note "a profile line without --profile"
cmp -s "$tmp/o1/features_1.npy" "$tmp/o2/features_1.npy" || note "--profile changed the features"
report test_profile

# ---- bench_report ----
W=$tmp/work
mkdir -p "$W/avx2" "$W/generic" "$W/exact" "$W/torch-native" "$W/torch-native-heap"
$py -c "
import numpy as np
np.save('$tmp/x.npy', np.random.default_rng(0).standard_normal((2, 3, 32, 32)).astype(np.float32))
np.save('$tmp/y.npy', np.arange(2).astype(np.int64))" || exit 1
"$bin" init --model efficientnet-b0 --num_classes 88 --init hash --seed 1 --out "$tmp/w.safetensors" > /dev/null
for isa in avx2 generic; do
    "$bin" --version > "$W/$isa/version.txt"
    echo "gemm 1024 2 50.0 95.5 OpenBLAS Haswell" > "$W/$isa/gemm.txt"
    "$bin" step --model efficientnet-b0 --num_classes 88 --weights "$tmp/w.safetensors" --input "$tmp/x.npy" \
        --labels "$tmp/y.npy" --out "$tmp/after.safetensors" --steps 3 --threads 1 --profile \
        > "$W/$isa/b0-train-64.c.txt" || note "anomaly step --profile failed"
done
cp "$tmp/test.txt" "$W/avx2/b6-test-640.c.txt"
cp "$W/avx2/b0-train-64.c.txt" "$W/exact/b0-train-64.c.txt"
echo avx2 > "$W/exact/b0-train-64.isa"
common='"torch": "1.13", "blas_core": "Haswell", "onednn_isa": "avx2_fixture", "peak_rss": 2147483648, "rss_before": 1073741824'
echo "{\"median\": 2.0, \"times\": [2.0, 2.5, 1.5], \"cpu_median\": 4.0, $common}" \
    > "$W/torch-native/b0-train-64.torch.json"
# the heap run: faster (time ratios use it), more memory (not used)
echo "{\"median\": 1.0, \"times\": [1.0, 1.25, 0.5], \"cpu_median\": 3.0, ${common/2147483648/4294967296}," \
    "\"profile\": {\"categories\": {\"conv\": 0.5, \"depthwise\": 0.25, \"bn_act\": 0.125," \
    "\"other\": 0.375}, \"ops\": {}}}" > "$W/torch-native-heap/b0-train-64.torch.json"
echo "{\"median\": 4.0, \"cpu_median\": 8.0, \"images\": 10, \"batches\": 3, \"wall\": 12.0, \"network\": 11.0," \
    "\"wait\": 0.5, \"busy\": 2.0, \"decode\": 1.5, \"resize\": 0.5, $common}" > "$W/torch-native/b6-test-640.torch.json"
$py tools/bench_report.py "$W" 2 avx2 "avx2 generic" "b0-train-64 b6-test-640" > "$tmp/report.txt" 2>&1 ||
    note "bench_report.py failed: $(cat "$tmp/report.txt")"
[ "$(grep -c '^== avx2: ours ' "$tmp/report.txt")" -eq 1 ] || note "no avx2 table"
[ "$(grep -c '^== generic: ours ' "$tmp/report.txt")" -eq 1 ] || note "no generic table"
grep -q 'oneDNN ISA avx2_fixture' "$tmp/report.txt" || note "the table does not name PyTorch's oneDNN ISA"
# C/torch of the train row: our median step over the heap run's 1.0 s (the
# faster PyTorch run); best C/t: our fastest step over the fastest of both
# runs (0.5 s); memory over the installed run's 2048 MiB
want=$($py -c "
import re, statistics
t = open('$W/avx2/b0-train-64.c.txt').read()
s = [float(x) for x in re.findall(r'^time step \d+ ([0-9.]+) s', t, re.M)][1:]
m = float(re.search(r'peak RSS ([0-9.]+) MiB', t).group(1))
print(f'{statistics.median(s) / 1.0:8.2f} {min(s) / 0.5:8.2f} {m / 2048:11.2f}')")
row=$(grep '^b0 train 64 px x8 ' "$tmp/report.txt" | head -1)
got=$(echo "$row" | awk '{ printf "%8.2f %8.2f %11.2f", $9, $10, $15 }') # after the title's 5 words
[ "$(echo $got)" = "$(echo $want)" ] || note "train row's ratios are '$got', expected '$want': $row"
# where the time goes: our op table summed by category (conv2d*, depthwise*,
# batchnorm2d* and the activations, the rest) beside the heap run's profile
want=$($py -c "
import re
t = open('$W/avx2/b0-train-64.c.txt').read()
rows = re.search(r'^op \(seconds per step\).*\n((?:.+\n)+)', t, re.M).group(1).split(chr(10))
c = dict(conv=0.0, dw=0.0, bn=0.0, other=0.0)
for r in rows:
    f = r.split()
    if len(f) < 7: continue
    k = 'dw' if f[0].startswith('depthwise') else 'conv' if f[0].startswith('conv2d') else \
        'bn' if f[0].startswith('batchnorm2d') or f[0] in ('swish', 'sigmoid', 'relu') else 'other'
    c[k] += float(f[4])
tot = sum(c.values())
print(f\"{c['conv']:.3f} {c['conv'] / 0.5:.2f} {c['dw']:.3f} {c['bn'] / 0.125:.2f} {tot:.3f} {tot / 1.25:.2f} +0.250\")")
row=$(grep -A3 '^where the time goes' "$tmp/report.txt" | grep '^b0 train 64 px x8 ' | head -1)
got=$(echo "$row" | awk '{ print $6, $8, $9, $14, $18, $20, $22 }')
[ -n "$row" ] && [ "$got" = "$want" ] || note "category row is '$got', expected '$want': $row"
# two tables and the exact-mode table
# (two tables, their two category tables, the exact-mode table)
[ "$(grep -c '^b0 train 64 px x8 ' "$tmp/report.txt")" -eq 5 ] || note "the train row should be in every table"
[ "$(grep -c '^b6 test 640 px' "$tmp/report.txt")" -eq 1 ] || note "the inference row should be in the avx2 table only"
grep -q '^  ours, avx2: 10 images in ' "$tmp/report.txt" || note "no inference breakdown of our side"
grep -q '^  PyTorch, native: 10 images in 12.0 s, 0.83 images/s' "$tmp/report.txt" ||
    note "no inference breakdown of PyTorch's side"
grep -q '^exact mode' "$tmp/report.txt" || note "no exact-mode table"
echo "time step 1 garbage" > "$W/generic/b0-train-64.c.txt"
if $py tools/bench_report.py "$W" 2 avx2 "avx2 generic" "b0-train-64" > "$tmp/bad.txt" 2>&1; then
    note "a malformed output was accepted"
else
    grep -q "generic/b0-train-64.c.txt" "$tmp/bad.txt" || note "the error does not name the file: $(cat "$tmp/bad.txt")"
fi
report bench_report
exit $failed
