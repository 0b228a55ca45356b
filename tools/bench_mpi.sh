#!/bin/sh
# `make bench-mpi`: data-parallel scaling of one training step on this
# machine. An efficientnet-b0 train step (forward, label smoothing, backward,
# gradient average, clipping, Adam) on a global batch of 8 images of 224 px:
# one rank of one thread (8 images), then two ranks of one thread (4 images
# each, over loopback), each `anomaly step --profile` with one warm-up step
# and the median of BENCH_STEPS (default 5). Prints the seconds per step,
# the speed-up, the bytes all-reduced per step (the gradient vector) and the
# time rank 0 spent in the average (which includes waiting for the other
# rank). The CPU seconds per step of rank 0 tell what a rank computes when
# the machine is shared (wall-clock scaling then says little).
#
# Environment: ANOMALY_MPI (default build/f32-mpi/anomaly), BENCH_STEPS,
# BENCH_MODEL (default efficientnet-b0), BENCH_SIZE (224), BENCH_BATCH (8).
set -eu

ANOMALY=${ANOMALY_MPI:-build/f32-mpi/anomaly}
STEPS=${BENCH_STEPS:-5}
MODEL=${BENCH_MODEL:-efficientnet-b0}
SIZE=${BENCH_SIZE:-224}
BATCH=${BENCH_BATCH:-8}
PY=/usr/bin/python3
cd "$(dirname "$0")/.."
[ -x "$ANOMALY" ] || { echo "bench-mpi: $ANOMALY not built (make MPI=1)" >&2; exit 1; }
command -v mpirun > /dev/null || { echo "bench-mpi: no mpirun (Debian: openmpi-bin)" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT INT TERM

echo "bench-mpi: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg), $MODEL ${SIZE} px x$BATCH" >&2
$PY -c "
import numpy as np
r = np.random.default_rng(0)
np.save('$work/x.npy', r.standard_normal(($BATCH, 3, $SIZE, $SIZE)).astype(np.float32))
np.save('$work/y.npy', (np.arange($BATCH) % 88).astype(np.int64))"
"$ANOMALY" init --model "$MODEL" --num_classes 88 --seed 1 --out "$work/w.safetensors" > /dev/null
for np in 1 2; do
    echo "bench-mpi: $np rank(s)" >&2
    mpirun --allow-run-as-root --oversubscribe --bind-to none -np $np "$ANOMALY" step --model "$MODEL" \
        --num_classes 88 --weights "$work/w.safetensors" --input "$work/x.npy" --labels "$work/y.npy" \
        --out "$work/after.safetensors" --steps $((STEPS + 1)) --threads 1 --profile > "$work/np$np.txt"
done

$PY - "$work" "$BATCH" <<'EOF'
import os, re, statistics, sys

work, batch = sys.argv[1], int(sys.argv[2])

def side(np_):
    text = open(os.path.join(work, f"np{np_}.txt")).read()
    times = [float(t) for t in re.findall(r"^time step \d+ ([0-9.]+) s", text, re.M)][1:]
    cpu = [float(t) for t in re.findall(r"^time step \d+ [0-9.]+ s \(cpu ([0-9.]+) s\)", text, re.M)][1:]
    m = re.search(r"(\d+) bytes all-reduced per step", text)
    a = re.search(r"all-reduce ([0-9.]+) s per step", text)
    return (statistics.median(times), statistics.median(cpu), int(m.group(1)) if m else 0,
            float(a.group(1)) if a else 0.0)

t1, c1, _, _ = side(1)
t2, c2, nbytes, ar = side(2)
print()
print(f"{'ranks x threads':16} {'s/step':>8} {'img/s':>7} {'speed-up':>8} {'cpu s/step/rank':>15} {'all-reduce s':>12}")
print(f"{'1 x 1':16} {t1:8.3f} {batch / t1:7.2f} {1.0:8.2f} {c1:15.3f} {'-':>12}")
print(f"{'2 x 1':16} {t2:8.3f} {batch / t2:7.2f} {t1 / t2:8.2f} {c2:15.3f} {ar:12.3f}")
print(f"gradient all-reduced per step: {nbytes} bytes ({nbytes / 2**20:.1f} MiB); each rank sends and receives"
      f" 2 (P-1)/P of it ({nbytes / 2**20:.1f} MiB at P = 2)")
print(f"per image: {t1 / batch:.3f} s on one thread")
EOF
