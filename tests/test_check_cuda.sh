#!/usr/bin/env bash
# `anomaly check-cuda`: its host-side behaviour in every build (the case
# list, an unknown op, the one-line error of a binary built without CUDA or
# of a machine without a device), and the whole case table where a CUDA
# build meets a GPU. Without one the table is skipped with the reason
# ("built without CUDA", "no CUDA device"), never counted as passed. A
# binary of make CUDA=emu runs the table on its CPU emulation of the
# kernels, reported as check_cuda_table_emulated (and the GPU table as
# skipped). ANOMALY_BIN picks the binary (build/cuda-f32/anomaly,
# build/cudaemu-f32/anomaly).
set -u
cd "$(dirname "$0")/.."
bin=${ANOMALY_BIN:-build/f32/anomaly}
names="check_cuda_list check_cuda_unknown_op check_cuda_table"
if [ ! -x "$bin" ]; then
    for n in $names; do echo "FAIL $n: no anomaly binary at $bin"; done
    exit 1
fi
tmp=$(mktemp -d /tmp/anomaly_check_cuda.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
failed=0
fail() { echo "  $2"; echo "FAIL $1: details above"; failed=1; }

# 1. --list works without a GPU and names every op of the table
if ! "$bin" check-cuda --list > "$tmp/list" 2> "$tmp/err"; then
    fail check_cuda_list "check-cuda --list failed: $(cat "$tmp/err")"
elif ! grep -q '^conv2d ' "$tmp/list" || ! grep -q '^adam ' "$tmp/list" ||
     ! grep -q 'resnext grouped' "$tmp/list"; then
    fail check_cuda_list "the list lacks conv2d, adam or the resnext grouped case: $(head -3 "$tmp/list")"
elif [ "$("$bin" check-cuda --list --op depthwise | grep -c '^  ')" -lt 3 ]; then
    fail check_cuda_list "--list --op depthwise shows fewer than 3 cases"
else
    echo "ok check_cuda_list"
fi

# 2. an unknown op: one error line naming it, non-zero exit
if "$bin" check-cuda --op no_such_op > "$tmp/out" 2> "$tmp/err"; then
    fail check_cuda_unknown_op "exit status 0 for an unknown op"
elif [ "$(wc -l < "$tmp/err")" -ne 1 ] || ! grep -q "unknown op 'no_such_op'" "$tmp/err"; then
    fail check_cuda_unknown_op "expected one line naming the op, got: $(cat "$tmp/err")"
else
    echo "ok check_cuda_unknown_op"
fi

# 3. the table: runs only where a CUDA build meets a device
"$bin" check-cuda --op relu > "$tmp/out" 2> "$tmp/err"
rc=$?
has_gpu=0
command -v nvidia-smi > /dev/null 2>&1 && nvidia-smi -L 2> /dev/null | grep -q '^GPU ' && has_gpu=1
if grep -q 'built without CUDA' "$tmp/err"; then
    if [ $rc -eq 0 ] || [ "$(wc -l < "$tmp/err")" -ne 1 ]; then
        fail check_cuda_table "a build without CUDA must give one error line and a non-zero exit (status $rc)"
    else
        echo "skip check_cuda_table: built without CUDA"
    fi
elif grep -q 'no CUDA device' "$tmp/err"; then
    if [ $rc -eq 0 ] || [ "$(wc -l < "$tmp/err")" -ne 1 ]; then
        fail check_cuda_table "no device must give one error line and a non-zero exit (status $rc)"
    elif [ $has_gpu -eq 1 ]; then
        fail check_cuda_table "nvidia-smi lists a GPU, yet: $(cat "$tmp/err")"
    else
        echo "skip check_cuda_table: no CUDA device"
    fi
elif [ $rc -ne 0 ] || ! grep -q '^# check-cuda: ' "$tmp/out"; then
    fail check_cuda_table "check-cuda --op relu failed (status $rc): $(cat "$tmp/err")"
elif grep -q 'CPU emulation' "$tmp/out"; then
    # make CUDA=emu: the kernels' code on the CPU; a pass here is not a GPU pass
    if ! "$bin" check-cuda --csv > "$tmp/t1" 2> "$tmp/err"; then
        fail check_cuda_table_emulated "NOT OK lines: $(grep -c 'NOT OK' "$tmp/t1"); $(tail -1 "$tmp/err")"
    elif [ "$(grep -c ',OK$' "$tmp/t1")" -lt 200 ]; then
        fail check_cuda_table_emulated "fewer than 200 compared outputs"
    else
        echo "ok check_cuda_table_emulated"
    fi
    echo "skip check_cuda_table: no CUDA device (ran the CPU emulation instead)"
else
    # a device: the whole table must be OK, and a second run bit-identical
    if ! "$bin" check-cuda --csv > "$tmp/t1" 2> "$tmp/err"; then
        fail check_cuda_table "NOT OK lines: $(grep -c 'NOT OK' "$tmp/t1"); $(tail -1 "$tmp/err")"
    elif ! "$bin" check-cuda --csv > "$tmp/t2" 2> /dev/null || ! cmp -s "$tmp/t1" "$tmp/t2"; then
        fail check_cuda_table "a second run differs (not deterministic)"
    elif [ "$(grep -c ',OK$' "$tmp/t1")" -lt 200 ]; then
        fail check_cuda_table "fewer than 200 compared outputs"
    else
        echo "ok check_cuda_table"
    fi
fi
exit $failed
