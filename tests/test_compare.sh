#!/usr/bin/env bash
# anomaly compare on a real --dump of efficientnet-b0: identical files agree
# (exit 0); a planted error is named as the first divergence; a shape
# mismatch, a missing tensor, NaN against a number and float against integer
# are NOT OK (exit 1); truncated, non-tensor and bad-flag inputs are one
# error line (exit 2); --csv and --first. Then .pth weights (written by
# torch.save) give the same logits as their safetensors source (needs
# python3-torch, else that test is skipped). Prints ok/FAIL/skip lines.
set -u
cd "$(dirname "$0")/.."
repo=$(pwd)
bin=${ANOMALY_BIN:-build/f32/anomaly}
py=/usr/bin/python3
names="compare_identical compare_first_divergence compare_not_ok_cases compare_bad_input compare_csv_first compare_pth_weights"
if [ ! -x "$bin" ]; then
    for n in $names; do echo "FAIL $n: no anomaly binary at $bin"; done
    exit 1
fi
bin=$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")
if ! "$py" -c 'import numpy' 2>/dev/null; then
    for n in $names; do echo "skip $n: /usr/bin/python3 has no numpy (python3-numpy) to make the inputs"; done
    exit 0
fi
tmp=$(mktemp -d /tmp/anomaly_compare_sh.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp" || exit 1
. "$repo/tests/lib.sh"
# expect STATUS GREP-PATTERN FILE -- command...: the exit status and a line of its output
expect() {
    local want=$1 pattern=$2 out=$3
    shift 4
    "$@" > "$out" 2>&1
    local rc=$?
    [ "$rc" -eq "$want" ] || note "$*: exit $rc, expected $want ($(tail -n 1 "$out"))"
    grep -q -- "$pattern" "$out" || note "$*: no line matching '$pattern' in: $(tail -n 2 "$out" | tr '\n' '|')"
}
edit() { # edit IN OUT PYTHON: runs PYTHON on the dict t of IN's tensors, saves OUT
    "$py" - "$repo/tools" "$1" "$2" "$3" <<'EOF'
import sys
sys.path.insert(0, sys.argv[1])
import numpy as np
import safetensors_py
t, meta = safetensors_py.load(sys.argv[2])
exec(sys.argv[4])
safetensors_py.save(sys.argv[3], t, meta)
EOF
}

"$py" -c 'import numpy as np; np.save("x.npy", np.random.default_rng(3).standard_normal((2, 3, 32, 32)).astype(np.float32))'
if ! "$bin" init --model efficientnet-b0 --num_classes 4 --seed 1 --out w.safetensors > init.log 2>&1 ||
   ! "$bin" forward --model efficientnet-b0 --num_classes 4 --weights w.safetensors --input x.npy --out y.npy \
       --dump d.safetensors > fwd.log 2>&1; then
    for n in $names; do echo "FAIL $n: init/forward failed: $(tail -n 1 init.log fwd.log)"; done
    exit 1
fi

expect 0 "NOT OK; 0 only in A" o1 -- "$bin" compare d.safetensors d.safetensors
grep -q "^OK     _blocks.3._bn1 \[2, 144, 4, 4\] F32  max abs 0.000e+00" o1 || note "identical: no OK line for _blocks.3._bn1"
n_ok=$(grep -c '^OK ' o1)
[ "$n_ok" -gt 50 ] || note "identical: only $n_ok OK lines"
mkdir -p fa fb && cp d.safetensors fa/ && cp d.safetensors fb/ && cp y.npy fa/logits.npy && cp y.npy fb/logits.npy
expect 0 "in both: $((n_ok + 1)) OK" o2 -- "$bin" compare fa fb
report compare_identical

# a port that goes wrong in _blocks.3._bn1 (and, as it would, later on)
edit d.safetensors e.safetensors 't["_blocks.3._bn1"][0, 5] += 0.5; t["_blocks.5"] *= 1.01; t["_fc"] += 1e-7'
expect 1 "^first diverging: _blocks.3._bn1$" o3 -- "$bin" compare d.safetensors e.safetensors
grep -q "^NOT OK _blocks.3._bn1 .* 16 of 4608 element(s) beyond tolerance" o3 || note "planted: no NOT OK line for _blocks.3._bn1"
grep -q "^OK     _fc " o3 || note "planted: 1e-7 on the logits must be within float32 tolerance"
grep -q "^NOT OK _blocks.5 " o3 || note "planted: _blocks.5 must be NOT OK"
report compare_first_divergence

edit d.safetensors s.safetensors 't["_bn0"] = t["_bn0"].reshape(2, 16, 32, 16)'
expect 1 "^NOT OK _bn0  shape \[2, 32, 16, 16\] vs \[2, 16, 32, 16\]" o4 -- "$bin" compare d.safetensors s.safetensors
edit d.safetensors m.safetensors 'del t["_blocks.0._se_reduce"]'
expect 1 "^ONLY IN A  _blocks.0._se_reduce \[2, 8\]" o5 -- "$bin" compare d.safetensors m.safetensors
expect 1 "^ONLY IN B  _blocks.0._se_reduce " o5b -- "$bin" compare m.safetensors d.safetensors
edit d.safetensors n.safetensors 't["_avg_pooling"][1, 7] = np.nan'
expect 1 "^NOT OK _avg_pooling .*1 NaN/Inf position(s) differ" o6 -- "$bin" compare d.safetensors n.safetensors
expect 0 "0 NOT OK" o6b -- "$bin" compare n.safetensors n.safetensors
"$py" -c 'import numpy as np; np.save("i.npy", np.arange(8).reshape(2, 4)); np.save("f.npy", np.arange(8.0).reshape(2, 4))'
mkdir -p di df && cp i.npy di/v.npy && cp f.npy df/v.npy
expect 1 "^NOT OK v  dtype I64 vs F64" o7 -- "$bin" compare di df
report compare_not_ok_cases

head -c 3000 d.safetensors > cut.safetensors
expect 2 "cut.safetensors: header length .* runs past the end" o8 -- "$bin" compare d.safetensors cut.safetensors
[ "$(wc -l < o8)" -eq 1 ] || note "truncated: expected one line, got $(wc -l < o8)"
echo "index,label" > t.csv
expect 2 "t.csv: .*not a safetensors, .pth or .npy file" o9 -- "$bin" compare t.csv d.safetensors
expect 2 "anomaly: error: .*--dtype must be one of float32|float64" o10 -- "$bin" compare d.safetensors d.safetensors --dtype float16
expect 2 "give --dtype or --rtol/--atol, not both" o11 -- "$bin" compare d.safetensors d.safetensors --dtype float32 --rtol 1
expect 2 "missing.safetensors: cannot open" o12 -- "$bin" compare d.safetensors missing.safetensors
report compare_bad_input

expect 1 "stopped at the first difference" o13 -- "$bin" compare d.safetensors e.safetensors --first --csv c.csv
grep -q "_blocks.5" o13 && note "--first: printed past the first difference"
head -n 1 c.csv | grep -q "^name,status,shape_a,shape_b,dtype_a,dtype_b,max_abs,max_rel,nmse,beyond_tol,nonfinite_mismatch,note$" ||
    note "--csv: header is $(head -n 1 c.csv)"
tail -n 1 c.csv | grep -q '^_blocks.3._bn1,NOT OK,"\[2, 144, 4, 4\]"' || note "--csv: last row is $(tail -n 1 c.csv)"
expect 0 "0 NOT OK" o14 -- "$bin" compare e.safetensors d.safetensors --rtol 1000 --atol 0
report compare_csv_first

# .pth weights, written by torch.save, load as they are (and an ArcFace head under `_fc`)
if ! "$py" -c 'import torch' 2>/dev/null; then
    echo "skip compare_pth_weights: /usr/bin/python3 has no torch (python3-torch) to write .pth files"
    exit $failed
fi
for arc in "" --arcface; do
    "$bin" init --model efficientnet-b0 --num_classes 4 $arc --seed 2 --out a.safetensors > /dev/null 2>&1
    "$py" "$repo/tools/convert_checkpoint.py" st2pth a.safetensors a.pth > conv.log 2>&1 || note "st2pth: $(tail -n 1 conv.log)"
    cp a.pth a_weights.bin # detected by content, whatever the name
    "$bin" forward --model efficientnet-b0 --num_classes 4 $arc --weights a.safetensors --input x.npy --out ya.npy > /dev/null 2>&1
    if "$bin" forward --model efficientnet-b0 --num_classes 4 $arc --weights a_weights.bin --input x.npy --out yb.npy > f.log 2>&1; then
        expect 0 "max abs 0.000e+00" o15 -- "$bin" compare ya.npy yb.npy
    else
        note "forward --weights a .pth ${arc:-(linear head)}: $(tail -n 1 f.log)"
    fi
done
"$py" -c 'import zipfile; d = open("a.pth", "rb").read(); open("cut.pth", "wb").write(d[: len(d) // 2])'
expect 1 "cut.pth: truncated" o16 -- "$bin" forward --model efficientnet-b0 --num_classes 4 --arcface --weights cut.pth --input x.npy --out yc.npy
report compare_pth_weights
exit $failed
