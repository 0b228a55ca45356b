#!/usr/bin/env bash
# A failing disk under every command that writes results: with
# tests/fault/fault_shim.c preloaded, the N-th file opened for writing hits a
# full disk, the disk fills up at the N-th write call (in the middle of a
# file), the N-th fsync() or the N-th rename() fails, for every N a clean
# run has (write calls: at most WRITES_FULL of them, spread). Each time the command must exit non-zero with one error
# line naming the file, leave no temporary file, and leave the results of
# the previous identical run byte for byte as they were. For `train` the
# interrupted run is resumed instead and must end with the uninterrupted
# run's bytes; so must runs killed with SIGKILL (half at the N-th file
# operation, spread over the run, so in the middle of saving; half at random
# moments). Tiny data (32 px, efficientnet-b0, 2 epochs) keeps it short.
#
# ANOMALY_FAULTS_FULL=1 is the whole campaign: every N of every kind (but
# 60 N spread over the write calls, which are thousands for synth's images)
# and 20 kills. By default (for make test) a kind with more than 3 calls
# (train; 2 for its write calls) or 8 (the rest; synth writes hundreds of
# images) gets that many N spread from the first call to the last, and 4
# kills.
# Prints ok/FAIL/skip lines like the C tests.
set -u
cd "$(dirname "$0")/.."
repo=$(pwd)
bin=${ANOMALY_BIN:-build/f32/anomaly}
names="faults_synth faults_folds_make faults_train faults_train_kill faults_test faults_ensemble faults_average"

if [ ! -x "$bin" ]; then
    for n in $names; do echo "FAIL $n: no anomaly binary at $bin"; done
    exit 1
fi
bin=$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")
shim=$(dirname "$bin")/tests/fault_shim.so
if [ ! -f "$shim" ]; then
    for n in $names; do echo "FAIL $n: no fault shim at $shim (make tests builds it)"; done
    exit 1
fi
# A sanitized binary needs its runtime first in the preload list.
preload=$shim
if ldd "$bin" | grep -q libasan; then
    preload="$(ldd "$bin" | awk '/libasan/ { print $3 }') $shim"
fi
tmp=$(mktemp -d /tmp/anomaly_faults_sh.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp" || exit 1
export ANOMALY_KEEP_ENV=1 GOMP_SPINCOUNT=${GOMP_SPINCOUNT:-10000}
. "$repo/tests/lib.sh"

# Runs the command under the shim: $1 fault ("" = none, only count), rest the command.
faulty() {
    local fault=$1
    shift
    rm -f counts
    if [ -n "$fault" ]; then
        LD_PRELOAD="$preload" ANOMALY_FAULT=$fault ANOMALY_FAULT_LOG=$tmp/counts "$@"
    else
        LD_PRELOAD="$preload" ANOMALY_FAULT_LOG=$tmp/counts "$@"
    fi
}
count_of() { # $1 opens|writes|fsyncs|renames: from the last run's log
    awk -v k="$1" '{ for (i = 1; i < NF; i++) if ($i == k) print $(i + 1) }' counts | tail -n 1
}
# The counts of the clean run just made, as "open:O write:W fsync:F rename:R".
totals() { echo "open:$(count_of opens) write:$(count_of writes) fsync:$(count_of fsyncs) rename:$(count_of renames)"; }
full=${ANOMALY_FAULTS_FULL:-0}
WRITES_FULL=60
# The N to try out of $1 calls of kind $3: all, or $2 spread from the first to the last.
pick() {
    local most=$2
    if [ "$full" = 1 ]; then
        most=$1
        [ "${3:-}" = write ] && [ "$most" -gt $WRITES_FULL ] && most=$WRITES_FULL
    fi
    if [ "$1" -le "$most" ]; then
        seq 1 "$1"
    else
        for i in $(seq 0 $((most - 1))); do echo $((1 + i * ($1 - 1) / (most - 1))); done | uniq
    fi
}
# The failed run's stderr: one line, an error naming a file of ours.
one_line() { # $1 what, $2 stderr file
    [ "$(wc -l < "$2")" = 1 ] && grep -q '^anomaly: error: .*cannot .*/' "$2" ||
        note "$1: expected one 'anomaly: error: cannot ... FILE' line, got: $(head -c 300 "$2")"
}
no_temporaries() { # $1 what, $2... folders
    local what=$1 left
    shift
    left=$(find "$@" -name '*.tmp.*' 2>/dev/null | head -n 3)
    [ -z "$left" ] || note "$what: temporary files left: $left"
}

# Every fault of a command that rewrites its outputs: $1 test name, $2 the
# folder or file of results to compare, rest the command (run once cleanly
# first, so that every fault run meets the previous run's results).
every_fault() {
    local name=$1 out=$2 kind n total trials=0
    shift 2
    if ! faulty "" "$@" > clean.out 2> clean.err; then
        note "clean run failed: $(head -n 2 clean.err)"
        report "$name"
        return
    fi
    rm -rf snap && cp -a "$out" snap
    local all
    all=$(totals)
    for kind in $all; do
        total=${kind#*:}
        kind=${kind%:*}
        [ "${total:-0}" -gt 0 ] || note "$kind: the clean run made no such call"
        for n in $(pick "${total:-0}" 8 "$kind"); do
            trials=$((trials + 1))
            faulty "$kind:$n" "$@" > f.out 2> f.err && note "$kind:$n: exit status 0"
            grep -q 'fired 1' counts || note "$kind:$n: the fault never fired"
            one_line "$kind:$n" f.err
            diff -r snap "$out" > /dev/null 2>&1 || note "$kind:$n: the previous results changed: $(diff -rq snap "$out" 2>&1 | head -n 2)"
            no_temporaries "$kind:$n" "$(dirname "$out")"
        done
    done
    report "$name" "$trials faults"
}

# ---- the data: 24 images of 3 classes, as tests/test_train.sh makes them ----
small_train_set "$bin" . 4

mkdir -p s
every_fault faults_synth s/out "$bin" synth --out s/out --train 176 --test 4 --size 16 --sheet --force
mkdir -p fm
every_fault faults_folds_make fm/3-Fold_idx.npy "$bin" folds make --data_path d --k 3 --out fm/3-Fold_idx.npy

# ---- train: every fault, then --resume must give the uninterrupted bytes ----
common="--data_path d --arch 0 --img_size 32 --batch_size 8 --epochs 2 --fold 3 --folds 1 --lr 1e-3 --progress off --threads 2"
run_dir=0/Fold1_E0
trials=0
if ! faulty "" "$bin" train $common --results ra > ra.out 2> ra.err; then
    note "clean run failed: $(tail -n 2 ra.err)"
else
    trials=0
    for kind in $(totals); do
        total=${kind#*:}
        kind=${kind%:*}
        most=3
        [ "$kind" = write ] && most=2
        for n in $(pick "${total:-0}" $most "$kind"); do
            trials=$((trials + 1))
            rm -rf rx
            faulty "$kind:$n" "$bin" train $common --results rx > f.out 2> f.err && note "$kind:$n: exit status 0"
            grep -q 'fired 1' counts || note "$kind:$n: the fault never fired"
            one_line "$kind:$n" f.err
            no_temporaries "$kind:$n" rx
            if ! "$bin" train $common --results rx --resume > r.out 2> r.err; then
                note "$kind:$n: --resume failed: $(tail -n 1 r.err)"
            else
                same_run ra/$run_dir rx/$run_dir "$kind:$n + resume"
            fi
        done
    done
fi
report faults_train "$trials faults, each resumed"

# ---- kill -9 during train, then --resume ----
kill_trial() { # $1 what; the killed run is already over
    if ! "$bin" train $common --results rk --resume > r.out 2> r.err; then
        note "$1: --resume failed: $(tail -n 1 r.err)"
    else
        same_run ra/$run_dir rk/$run_dir "$1 + resume"
        no_temporaries "$1 + resume" rk
    fi
}
start=$(date +%s%N)
faulty "" "$bin" train $common --results rcount > /dev/null 2>&1
ms=$((($(date +%s%N) - start) / 1000000))
ops=$(($(count_of opens) + $(count_of writes) + $(count_of fsyncs) + $(count_of renames)))
rm -rf rcount
kills=2
[ "$full" = 1 ] && kills=10
killed=0
for i in $(seq 1 $kills); do
    n=$(((i * ops + kills - 1) / kills))
    rm -rf rk
    faulty "kill:$n" "$bin" train $common --results rk > /dev/null 2>&1
    [ $? -eq 137 ] && killed=$((killed + 1))
    kill_trial "killed at file operation $n of $ops"
done
RANDOM=17
for i in $(seq 1 $kills); do
    rm -rf rk
    delay=$((RANDOM % ms))
    "$bin" train $common --results rk > /dev/null 2>&1 &
    pid=$!
    sleep "$((delay / 1000)).$(printf %03d $((delay % 1000)))"
    kill -9 $pid 2>/dev/null && killed=$((killed + 1))
    wait $pid 2>/dev/null
    kill_trial "killed after ${delay} ms"
done
[ $killed -ge $((kills * 3 / 2)) ] || note "only $killed of $((2 * kills)) runs were killed before they finished"
report faults_train_kill "$((2 * kills)) kills, $killed before the run finished"

# ---- test, ensemble and average on the trained run ----
every_fault faults_test ra/0 "$bin" test --data_path d --results ra --exp_num 0 --threads 2 --progress off
cat > blend.recipe <<'EOF'
labels d/train/train_df.csv
rows d/sample_submission.csv
let f = load(ra/0/features_0.npy)
let final = decode(mean(f))
write final to e/sub.csv
EOF
mkdir -p e av
every_fault faults_ensemble e/sub.csv "$bin" ensemble blend.recipe
every_fault faults_average av/avg.safetensors "$bin" average ra/$run_dir/model_1.safetensors \
    ra/$run_dir/model_1.safetensors --weights 1 3 --out av/avg.safetensors
exit $failed
