#!/usr/bin/env bash
# The cross-check recipe of the README, as written: anomaly forward --dump,
# tools/dump_torch.py on the same weights and input, anomaly compare. Every
# module must be OK in float32 for efficientnet-b0 (static and dynamic
# padding, and the ArcFace head under `_fc`), resnext50_32x4d and
# resnest50d_4s2x40d on CPU; for b0 also one train-mode pass's gradients
# (anomaly step --grads, compare --global_scale). dump_torch.py uses the
# seed's packages (efficientnet_pytorch, timm) when installed, else the
# project's twin; each line says which. Skipped without python3-torch.
set -u
cd "$(dirname "$0")/.."
repo=$(pwd)
bin=${ANOMALY_BIN:-build/f32/anomaly}
py=/usr/bin/python3
cases="efficientnet-b0:64:static efficientnet-b0:72:dynamic efficientnet-b0:64:static:arcface resnext50_32x4d:64:static resnest50d_4s2x40d:64:static"
names=""
for c in $cases; do names="$names dump_torch_$(echo "$c" | tr ':-' '__')"; done
if [ ! -x "$bin" ]; then
    for n in $names; do echo "FAIL $n: no anomaly binary at $bin"; done
    exit 1
fi
if ! "$py" -c 'import torch, numpy' 2>/dev/null; then
    for n in $names; do echo "skip $n: /usr/bin/python3 has no torch (python3-torch)"; done
    exit 0
fi
bin=$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")
tmp=$(mktemp -d /tmp/anomaly_dump_torch_sh.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp" || exit 1
failed=0
for c in $cases; do
    IFS=: read -r model size pad arc <<< "$c"
    name="dump_torch_$(echo "$c" | tr ':-' '__')"
    flags=(--model "$model" --num_classes 5 --same_padding "$pad")
    [ -n "$arc" ] && flags+=(--arcface)
    "$py" -c "import numpy as np; np.save('x.npy', np.random.default_rng(5).standard_normal((2, 3, $size, $size)).astype(np.float32))"
    if ! "$bin" init "${flags[@]}" --init hash --seed 3 --out w.safetensors > log 2>&1 ||
       ! "$bin" forward "${flags[@]}" --weights w.safetensors --input x.npy --out y.npy --dump ours.st > log 2>&1; then
        echo "FAIL $name: anomaly: $(tail -n 1 log)"; failed=1; continue
    fi
    if ! "$py" "$repo/tools/dump_torch.py" "${flags[@]}" --weights w.safetensors --input x.npy --out theirs.st \
         --logits yt.npy > dlog 2>&1; then
        echo "FAIL $name: dump_torch.py: $(tail -n 1 dlog)"; failed=1; continue
    fi
    "$bin" compare ours.st theirs.st > clog 2>&1
    rc=$?
    impl=$(head -n 1 dlog | sed 's/^dump_torch: //')
    summary=$(grep '^compare:' clog | sed 's/ (ours.st).*//; s/ (theirs.st)//')
    worst=$(grep '^OK ' clog | awk '{for (i = 1; i <= NF; i++) if ($i == "rel") print $(i + 1)}' | sort -g | tail -n 1)
    n=$(grep -c '^OK ' clog)
    grads=""
    if [[ $model == efficientnet* ]] && [ $rc -eq 0 ]; then
        # one train-mode pass's gradients too (ArcFace: with its margin, ce)
        lflags=(--criterion smoothing)
        [ -n "$arc" ] && lflags=(--criterion ce --arcloss arcface)
        "$py" -c "import numpy as np; np.save('l.npy', np.array([1, 4], dtype=np.int64))"
        "$bin" step "${flags[@]}" --weights w.safetensors --input x.npy --labels l.npy "${lflags[@]}" --dropout 0 \
            --drop_connect 0 --clipping 0 --weight_decay 0 --arc_targets all --optimizer SGD --lr 0 \
            --out w2.safetensors --grads g_ours.st > log 2>&1 || rc=3
        "$py" "$repo/tools/dump_torch.py" "${flags[@]}" --weights w.safetensors --input x.npy --out theirs2.st \
            --labels l.npy "${lflags[@]}" --grads g_theirs.st > dlog2 2>&1 || rc=4
        [ $rc -eq 0 ] && { "$bin" compare g_ours.st g_theirs.st --global_scale > glog 2>&1 || rc=5; }
        grads=", $(grep -c '^OK ' glog 2>/dev/null) gradients OK"
    fi
    if [ $rc -eq 0 ] && [ "$n" -gt 20 ] && "$bin" compare y.npy yt.npy > /dev/null 2>&1; then
        echo "ok $name: $n modules OK, worst max rel $worst$grads ($impl)"
    else
        grep -hv '^OK ' clog glog 2>/dev/null | head -n 5 | sed 's/^/  /'
        tail -qn 1 log dlog2 2>/dev/null | sed 's/^/  /'
        echo "FAIL $name: status $rc (3 step, 4 dump_torch --grads, 5 gradients differ): $summary ($impl)"
        failed=1
    fi
done
exit $failed
