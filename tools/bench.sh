#!/bin/sh
# `make bench`: the C implementation and PyTorch side by side on this machine.
#
# For each case below both sides run the same model, input shape and thread
# count: one warm-up step, then BENCH_STEPS timed steps (default 5), whose
# median is reported with the peak resident set size of the process. A train
# step is forward + label-smoothing loss + backward + clipping + Adam
# (`anomaly step`, tools/bench_torch.py); eval is the inference forward.
# Then the machine's single-threaded sgemm rate (the kernels' ceiling), the
# GFLOP/s each side achieves on the models' convolutions and linear layers,
# and the 1-thread / 2-thread scaling of the b0 train step.
#
# Each case also runs once more in the exact mode (--exact: the reference
# kernels and the reference GEMM, src/ops/ref), BENCH_EXACT_STEPS timed
# steps after one warm-up (default 1), reported as its time and its ratio to
# the fast path; BENCH_EXACT=0 leaves it out.
#
# Environment: BENCH_THREADS (default 2), BENCH_STEPS (default 5),
# BENCH_CASES (a subset of the case names, space separated), ANOMALY (the
# binary, default build/f32/anomaly), BENCH_KEEP (a directory to keep the raw
# outputs in). The anomaly binary picks its OpenBLAS kernels and OpenMP spin
# limit itself (src/core/blas.c); PyTorch runs as installed, except that it
# gets the same GOMP_SPINCOUNT when the user set neither that nor
# OMP_WAIT_POLICY, so both sides wait at barriers the same way. The table
# names the BLAS kernels and oneDNN instruction set each side used.
set -eu

ANOMALY=${ANOMALY:-build/f32/anomaly}
PY=/usr/bin/python3
THREADS=${BENCH_THREADS:-2}
STEPS=${BENCH_STEPS:-5}
EXACT=${BENCH_EXACT:-1}
EXACT_STEPS=${BENCH_EXACT_STEPS:-1}
CASES=${BENCH_CASES:-"b0-train-224 b0-train-128 b0-eval-224 rx50-train-224 b6-eval-528 b0-train-224-1t"}
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
cd "$ROOT"

[ -x "$ANOMALY" ] || { echo "bench: $ANOMALY not built (make PRECISION=32)" >&2; exit 1; }
if ! $PY -c "import torch, numpy" 2>/dev/null; then
    echo "bench: $PY lacks torch or numpy (Debian: python3-torch python3-numpy)" >&2
    exit 1
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

echo "bench: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg), $THREADS threads, $STEPS timed steps" >&2

# The sgemm ceiling, through the library's own gemm().
lib=$(dirname "$ANOMALY")/libanomaly.a
${CC:-cc} -std=c99 -O2 -fopenmp -Iinclude -D_POSIX_C_SOURCE=200809L tools/bench_gemm.c "$lib" \
    -lopenblas -lm -o "$work/bench_gemm"
"$work/bench_gemm" "$THREADS" 1024 > "$work/gemm.txt"

# case name -> model mode size batch threads
case_args() {
    case $1 in
        b0-train-224) echo "efficientnet-b0 train 224 8 $THREADS" ;;
        b0-train-128) echo "efficientnet-b0 train 128 16 $THREADS" ;;
        b0-eval-224) echo "efficientnet-b0 eval 224 8 $THREADS" ;;
        rx50-train-224) echo "resnext50_32x4d train 224 8 $THREADS" ;;
        b6-eval-528) echo "efficientnet-b6 eval 528 1 $THREADS" ;;
        b0-train-224-1t) echo "efficientnet-b0 train 224 8 1" ;;
        *) echo "bench: unknown case $1" >&2; exit 1 ;;
    esac
}

for name in $CASES; do
    set -- $(case_args "$name")
    model=$1 mode=$2 size=$3 batch=$4 threads=$5
    x="$work/x_${batch}_${size}.npy" y="$work/y_${batch}.npy" w="$work/$model.safetensors"
    [ -f "$x" ] || $PY -c "
import numpy as np
r = np.random.default_rng(0)
np.save('$x', r.standard_normal(($batch, 3, $size, $size)).astype(np.float32))
np.save('$y', (np.arange($batch) % 88).astype(np.int64))"
    [ -f "$w" ] || "$ANOMALY" init --model "$model" --num_classes 88 --seed 1 --out "$w" > /dev/null
    echo "bench: $name: anomaly" >&2
    if [ "$mode" = train ]; then
        "$ANOMALY" step --model "$model" --num_classes 88 --weights "$w" --input "$x" --labels "$y" \
            --out "$work/after.safetensors" --steps $((STEPS + 1)) --threads "$threads" --profile \
            > "$work/$name.c.txt"
    else
        "$ANOMALY" forward --model "$model" --num_classes 88 --weights "$w" --input "$x" \
            --out "$work/logits.npy" --repeat $((STEPS + 1)) --threads "$threads" --profile \
            > "$work/$name.c.txt"
    fi
    if [ "$EXACT" = 1 ]; then
        echo "bench: $name: anomaly --exact" >&2
        if [ "$mode" = train ]; then
            "$ANOMALY" --exact step --model "$model" --num_classes 88 --weights "$w" --input "$x" \
                --labels "$y" --out "$work/after.safetensors" --steps $((EXACT_STEPS + 1)) \
                --threads "$threads" --profile > "$work/$name.exact.txt"
        else
            "$ANOMALY" --exact forward --model "$model" --num_classes 88 --weights "$w" --input "$x" \
                --out "$work/logits.npy" --repeat $((EXACT_STEPS + 1)) --threads "$threads" \
                --profile > "$work/$name.exact.txt"
        fi
    fi
    echo "bench: $name: pytorch" >&2
    env $torch_env $PY tools/bench_torch.py --model "$model" --size "$size" --batch "$batch" \
        --mode "$mode" --threads "$threads" --steps "$STEPS" --warmup 1 > "$work/$name.torch.json"
done

$PY - "$work" "$THREADS" $CASES <<'EOF'
import json, os, re, statistics, sys

work, threads, cases = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
gemm = open(os.path.join(work, "gemm.txt")).read().split(maxsplit=5)
g1, gall, gnote = float(gemm[3]), float(gemm[4]), gemm[5].strip()

def c_side(name, kind="c"):
    text = open(os.path.join(work, f"{name}.{kind}.txt")).read()
    times = [float(t) for t in re.findall(r"^time (?:step|pass) \d+ ([0-9.]+) s", text, re.M)][1:]
    cpu = [float(t) for t in re.findall(r"^time (?:step|pass) \d+ [0-9.]+ s \(cpu ([0-9.]+) s\)", text, re.M)][1:]
    peak = float(re.search(r"peak RSS ([0-9.]+) MiB \(([0-9.]+) MiB", text).group(1))
    before = float(re.search(r"peak RSS [0-9.]+ MiB \(([0-9.]+) MiB", text).group(1))
    m = re.search(r"([0-9.]+) GFLOP per step", text)
    return {"median": statistics.median(times), "cpu_median": statistics.median(cpu),
            "peak": peak, "before": before,
            "gflop": float(m.group(1)) if m else 0.0}

def torch_side(name):
    d = json.load(open(os.path.join(work, name + ".torch.json")))
    d["peak"] = d["peak_rss"] / 2**20
    d["before"] = d["rss_before"] / 2**20
    return d

title = {"b0-train-224": "b0 train 224 px x8", "b0-train-128": "b0 train 128 px x16",
         "b0-eval-224": "b0 eval 224 px x8", "rx50-train-224": "resnext50 train 224 px x8",
         "b6-eval-528": "b6 eval 528 px x1", "b0-train-224-1t": "b0 train 224 px x8, 1 thread"}
batch = {"b0-train-224": 8, "b0-train-128": 16, "b0-eval-224": 8, "rx50-train-224": 8,
         "b6-eval-528": 1, "b0-train-224-1t": 8}
rows, info = [], None
print()
print(f"{'case':30} {'C s/step':>9} {'torch s':>9} {'C/torch':>8} {'C img/s':>8} {'torch img/s':>11}"
      f" {'C peak MiB':>10} {'torch MiB':>9} {'mem C/torch':>11} {'C GFLOP/s':>9} {'torch GFLOP/s':>13}"
      f" {'C cpu s':>8} {'torch cpu s':>11} {'cpu C/torch':>11}")
res = {}
for name in cases:
    c, t = c_side(name), torch_side(name)
    res[name] = (c, t)
    info = t
    n = batch[name]
    print(f"{title[name]:30} {c['median']:9.3f} {t['median']:9.3f} {c['median'] / t['median']:8.2f}"
          f" {n / c['median']:8.1f} {n / t['median']:11.1f} {c['peak']:10.0f} {t['peak']:9.0f}"
          f" {c['peak'] / t['peak']:11.2f} {c['gflop'] / c['median']:9.1f}"
          f" {c['gflop'] / t['median']:13.1f} {c['cpu_median']:8.3f} {t['cpu_median']:11.3f}"
          f" {c['cpu_median'] / t['cpu_median']:11.2f}")
exact = [name for name in cases if os.path.exists(os.path.join(work, name + ".exact.txt"))]
if exact:
    print()
    print(f"{'exact mode (--exact)':30} {'s/step':>9} {'fast s':>9} {'exact/fast':>10} {'peak MiB':>9}"
          f" {'GFLOP/s':>8}")
    for name in exact:
        e, c = c_side(name, "exact"), res[name][0]
        print(f"{title[name]:30} {e['median']:9.3f} {c['median']:9.3f} {e['median'] / c['median']:10.1f}"
              f" {e['peak']:9.0f} {e['gflop'] / e['median']:8.1f}")
print()
print(f"sgemm 1024^3, one core: {g1:.1f} GFLOP/s; {threads} cores at once: {gall:.1f} GFLOP/s ({gnote})")
if "b0-train-224" in res and "b0-train-224-1t" in res:
    c2, t2 = res["b0-train-224"]
    c1, t1 = res["b0-train-224-1t"]
    print(f"b0 train 224 px x8, 1 -> {threads} threads: C {c1['median'] / c2['median']:.2f}x faster,"
          f" PyTorch {t1['median'] / t2['median']:.2f}x faster")
if info:
    print(f"PyTorch {info['torch']}: oneDNN ISA {info['onednn_isa']}, OpenBLAS core {info['blas_core']}")
print("peak MiB: peak resident set of the whole process (before the first step:"
      + ", ".join(f" {name} C {res[name][0]['before']:.0f} / torch {res[name][1]['before']:.0f}"
                  for name in cases[:1]) + ")")
print("GFLOP/s: multiply-adds of the convolutions and linear layers (forward, and in training both"
      " gradients) per second of a whole step, the same count for both sides")
print("cpu s: CPU seconds of the whole process per step (all threads): what a step costs when other"
      " processes share the cores; wall seconds count the waits for a core as well")
load = open("/proc/loadavg").read().split()[:3]
print(f"load average at the end: {' '.join(load)} on {os.cpu_count()} cores")
EOF
