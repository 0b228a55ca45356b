#!/usr/bin/env bash
# The kernel tests again with ANOMALY_EXACT=1: every kernel then runs its
# reference (src/ops/ref), which must pass the same checks, including the
# bit-for-bit comparisons with PyTorch's float32 optimizer sequences
# (test_optim) and the PyTorch op fixtures (test_parity_ops).
# Usage: ANOMALY_BIN=build/f32/anomaly bash tests/test_exact_kernels.sh
set -u
build=$(dirname "${ANOMALY_BIN:-build/f32/anomaly}")
failed=0
for name in act_pool attn batchnorm conv fused fused_add linear_ew loss optim parity_ops; do
    t="$build/tests/test_$name"
    if [ ! -x "$t" ]; then
        echo "skip exact_$name: $t is not built"
        continue
    fi
    out=$(ANOMALY_EXACT=1 "$t" 2>&1)
    if [ $? -eq 0 ] && ! grep -q '^FAIL ' <<< "$out"; then
        echo "ok exact_$name"
    else
        grep -v '^ok ' <<< "$out" | sed 's/^/  /'
        echo "FAIL exact_$name: test_$name fails with ANOMALY_EXACT=1"
        failed=1
    fi
done
exit $failed
