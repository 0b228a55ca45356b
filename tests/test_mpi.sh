#!/usr/bin/env bash
# Data- and fold-parallel training and sharded inference over MPI, on one
# machine over loopback (mpirun --oversubscribe -np 1, 2, 3, 4): tiny runs
# (efficientnet-b0, 32 px, 16 train images of 12 labels, 2 epochs).
#
#   mpi_plain_refuses       the plain binary under mpirun -np 2 stops, saying to build with MPI=1
#   mpi_p1_equals_plain     -np 1 gives the plain binary's bytes
#   mpi_p2_deterministic    -np 2, 1 and 2 threads per rank: the same bytes, and not those of -np 1
#   mpi_p4_deterministic    -np 4 (batch 8: 2 images per rank), twice: the same bytes
#   mpi_batch_must_split    --batch_size 6 over 4 ranks is refused, nothing written
#   mpi_resume              -np 2 stopped after epoch 1 and resumed = uninterrupted;
#                           resuming it with -np 1 is refused
#   mpi_fold_parallel       -np 3 --fold_parallel = the sequential run's files
#   mpi_test_sharded        anomaly test over -np 2 writes the plain binary's bytes
#   mpi_rank_dies           a rank killed mid-run ends the job promptly, naming the rank
#   mpi_ddp_parity          3 steps over 2 ranks = PyTorch DDP (gloo) within 1e-6 in
#                           double (tools/ddp_parity.py; skipped without torch or
#                           with a float32 MPI build)
#
# ANOMALY_MPI_BIN (default build/f64-mpi/anomaly, made by `make MPI=1
# PRECISION=64`) is compared with the plain binary of its precision
# (build/f64/anomaly). Skips every test, with the reason, where OpenMPI's
# mpirun or the MPI build is missing.
set -u
cd "$(dirname "$0")/.."
repo=$(pwd)
mbin=${ANOMALY_MPI_BIN:-build/f64-mpi/anomaly}
pbin=${mbin%-mpi/anomaly}/anomaly
names="mpi_plain_refuses mpi_p1_equals_plain mpi_p2_deterministic mpi_p4_deterministic mpi_batch_must_split mpi_resume mpi_fold_parallel mpi_test_sharded mpi_rank_dies mpi_ddp_parity"

skip_all() { for n in $names; do echo "skip $n: $1"; done; exit 0; }
command -v mpirun > /dev/null || skip_all "no mpirun (Debian: openmpi-bin libopenmpi-dev)"
[ -x "$mbin" ] || skip_all "no MPI build at $mbin (make MPI=1 PRECISION=64)"
if [ ! -x "$pbin" ]; then
    for n in $names; do echo "FAIL $n: no plain binary at $pbin to compare with"; done
    exit 1
fi
mbin=$(cd "$(dirname "$mbin")" && pwd)/anomaly
pbin=$(cd "$(dirname "$pbin")" && pwd)/anomaly
tmp=$(mktemp -d /tmp/anomaly_mpi_sh.XXXXXX)
bg=
trap '[ -n "$bg" ] && kill -9 "$bg" 2>/dev/null; rm -rf "$tmp"' EXIT
cd "$tmp" || exit 1
# Both cores are shared: ranks must not be pinned, and may outnumber cores.
export OMPI_MCA_rmaps_base_oversubscribe=1 OMPI_MCA_hwloc_base_binding_policy=none
mpi() { # $1 ranks, rest: the command
    local np=$1
    shift
    timeout 300 mpirun --allow-run-as-root --oversubscribe --bind-to none -np "$np" "$@"
}
. "$repo/tests/lib.sh"

# The data: bottle, screw and toothbrush of a small look-alike set, 12 test images.
small_train_set "$pbin" . 12

common="--data_path d --arch 0 --img_size 32 --batch_size 4 --epochs 2 --fold 3 --folds 1 --lr 1e-3 --progress off"
run_dir=0/Fold1_E0

train() { # $1 ranks, $2 results, $3 threads, rest: more flags
    local np=$1 res=$2 th=$3
    shift 3
    if ! mpi "$np" "$mbin" train $common --results "$res" --threads "$th" "$@" > "$res.out" 2> "$res.err"; then
        note "-np $np --results $res failed: $(grep -m1 'error' "$res.err")"
        return 1
    fi
}

# ---- the plain binary refuses to run P copies ----
if mpi 2 "$pbin" train $common --results plainp > plainp.out 2> plainp.err; then
    note "the plain binary ran under mpirun -np 2"
fi
grep -q "built without MPI.*make MPI=1" plainp.err || note "no 'built without MPI ... make MPI=1' message: $(head -n 2 plainp.err)"
[ -e plainp ] && note "the refused run wrote plainp/"
report mpi_plain_refuses

# ---- -np 1 is the plain run ----
"$pbin" train $common --results plain --threads 1 > plain.out 2> plain.err || note "plain run failed: $(tail -n 1 plain.err)"
train 1 p1 1 && same_run plain/$run_dir p1/$run_dir "-np 1 vs plain"
report mpi_p1_equals_plain

# ---- -np 2: deterministic, and really sharded ----
train 2 p2a 1 && train 2 p2b 2 && same_run p2a/$run_dir p2b/$run_dir "-np 2, 1 vs 2 threads"
grep -q "data-parallel over 2 ranks (2 images each)" p2a.out || note "p2a.out does not announce 2 ranks of 2 images"
if [ -f p2a/$run_dir/model_1.safetensors ] && cmp -s plain/$run_dir/model_1.safetensors p2a/$run_dir/model_1.safetensors; then
    note "-np 2 gave the single-process weights: the batch was not sharded"
fi
[ "$(grep -c 'epoch .*/2 train_loss' p2a.out)" = 2 ] || note "p2a.out: not one epoch line per epoch (rank 0 alone prints)"
report mpi_p2_deterministic

# ---- -np 4 ----
train 4 p4a 1 --batch_size 8 && train 4 p4b 1 --batch_size 8 && same_run p4a/$run_dir p4b/$run_dir "-np 4 twice"
grep -q "data-parallel over 4 ranks (2 images each)" p4a.out || note "p4a.out does not announce 4 ranks of 2 images"
report mpi_p4_deterministic

# ---- a batch that does not split ----
if mpi 4 "$mbin" train $common --batch_size 6 --results nosplit > nosplit.out 2> nosplit.err; then
    note "--batch_size 6 over 4 ranks was accepted"
fi
grep -q "batch_size 6 does not split evenly over 4 ranks" nosplit.err || note "no clear message: $(grep -m1 error nosplit.err)"
[ -e nosplit ] && note "the refused run wrote nosplit/"
report mpi_batch_must_split

# ---- resume ----
if train 2 rs 1 --stop_after_epoch 1; then
    ls rs/$run_dir/rank_state_1.safetensors > /dev/null 2>&1 || note "no rank_state_1.safetensors after epoch 1"
    if mpi 1 "$mbin" train $common --results rs --threads 1 --resume > rs1.out 2> rs1.err; then
        note "a 2-rank run resumed with -np 1"
    else
        grep -q "same mpirun -np" rs1.err || note "resuming with -np 1: no clear message: $(grep -m1 error rs1.err)"
    fi
    train 2 rs 2 --resume && same_run p2a/$run_dir rs/$run_dir "-np 2 stopped and resumed"
    ls rs/$run_dir | grep -q 'rank_state_1' && note "rank_state_1 left behind after epoch 2"
fi
report mpi_resume

# ---- fold-parallel = sequential ----
all="--data_path d --arch 0 --img_size 32 --batch_size 4 --epochs 1 --fold 3 --lr 1e-3 --progress off --threads 1"
if "$pbin" train $all --results fs > fs.out 2> fs.err; then
    if mpi 3 "$mbin" train $all --fold_parallel --results fp > fp.out 2> fp.err; then
        for k in 1 2 3; do same_run fs/0/Fold${k}_E0 fp/0/Fold${k}_E0 "fold $k"; done
        for f in train_args.csv labels.csv 3-Fold_idx.npy; do
            cmp -s fs/0/$f fp/0/$f || note "$f differs"
        done
    else
        note "fold-parallel run failed: $(grep -m1 error fp.err)"
    fi
else
    note "sequential run failed: $(tail -n 1 fs.err)"
fi
report mpi_fold_parallel

# ---- sharded inference ----
if [ -d plain/0 ]; then
    "$pbin" test --data_path d --results plain --output ts --progress off --threads 1 > ts.out 2> ts.err ||
        note "plain test failed: $(tail -n 1 ts.err)"
    mpi 2 "$mbin" test --data_path d --results plain --output tp --progress off --threads 1 > tp.out 2> tp.err ||
        note "-np 2 test failed: $(grep -m1 error tp.err)"
    for f in features_0.npy sub_baseline_0.csv; do
        [ -f ts/$f ] && ! cmp -s ts/$f tp/$f && note "$f differs"
    done
    [ -f tp/features_0.npy ] || note "-np 2 wrote no features"
else
    note "no trained experiment to test"
fi
report mpi_test_sharded

# ---- a rank dies ----
mpi 2 "$mbin" train $common --epochs 200 --results die --threads 1 > die.out 2> die.err &
bg=$!
victim=
for _ in $(seq 1 100); do
    for p in $(pgrep -f "$mbin train" 2>/dev/null); do
        tr '\0' '\n' < /proc/$p/environ 2>/dev/null | grep -qx 'OMPI_COMM_WORLD_RANK=1' && victim=$p
    done
    [ -n "$victim" ] && [ -f die/$run_dir/log.csv ] && break
    sleep 0.2
done
if [ -z "$victim" ]; then
    note "rank 1 never appeared"
else
    start=$(date +%s)
    kill -9 "$victim"
    wait "$bg"
    rc=$?
    bg=
    secs=$(($(date +%s) - start))
    [ "$rc" -ne 0 ] || note "the job ended with status 0"
    [ "$secs" -le 60 ] || note "the other rank went on for ${secs} s"
    grep -q "rank 1" die.err || note "mpirun did not name rank 1: $(head -n 3 die.err | tr '\n' ' ')"
fi
report mpi_rank_dies

# ---- against PyTorch DDP ----
py=/usr/bin/python3
if [ "$(basename "$(dirname "$mbin")")" != f64-mpi ]; then
    echo "skip mpi_ddp_parity: the strict comparison needs the double build (make MPI=1 PRECISION=64)"
elif ! $py -c "import torch, numpy" 2>/dev/null; then
    echo "skip mpi_ddp_parity: $py lacks torch (Debian: python3-torch)"
else
    root=$(cd "$(dirname "$mbin")/../.." && pwd)
    if ! $py "$root/tools/ddp_parity.py" --anomaly "$mbin" > ddp.out 2>&1; then
        note "$(tail -n 3 ddp.out | tr '\n' ' ')"
    fi
    grep -q "within tolerance" ddp.out || note "no 'within tolerance' line"
    report mpi_ddp_parity
fi

exit $failed
