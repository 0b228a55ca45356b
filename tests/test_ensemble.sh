#!/usr/bin/env bash
# The winners' recipe against tools/ensemble_reference.py (the original
# ensemble.py's logic on NumPy): a synthetic case where every rule changes
# rows, the same with plain votes, inputs of the real shape (the real
# features_92 when the seed files are at hand), `anomaly ensemble` errors,
# `anomaly average` against NumPy, and tools/pth_to_npy.py.
# Prints ok/FAIL/skip lines like the C tests.
set -u
cd "$(dirname "$0")/.."
bin=${ANOMALY_BIN:-build/f32/anomaly}
py=/usr/bin/python3
seed_results=${ANOMALY_SEED_RESULTS:-../shared/seed/results}
names="ensemble_winners_every_rule ensemble_winners_plain_votes ensemble_real_shape ensemble_command_errors"
names="$names average_command pth_to_npy"

if [ ! -x "$bin" ]; then
    for n in $names; do echo "FAIL $n: no anomaly binary at $bin"; done
    exit 1
fi
if ! "$py" -c "import numpy" 2>/dev/null; then
    for n in $names; do echo "skip $n: numpy is not available to $py"; done
    exit 0
fi
prec=32
"$bin" --version | grep -q float64 && prec=64
# (finding torch without importing it: an import takes seconds)
have_torch=0
"$py" -c "import importlib.util, sys; sys.exit(importlib.util.find_spec('torch') is None)" && have_torch=1

tmp=$(mktemp -d /tmp/anomaly_ensemble_sh.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
failed=0
fail() { echo "  $2"; echo "FAIL $1: details above"; failed=1; }
recipe=data/recipes/winners.recipe

# 1. every rule fires, and the submission is the reference's row for row
"$py" tests/fixtures/ensemble/make_case.py --root "$tmp/case" --rows 300 --seed 1 > /dev/null
if ! "$bin" ensemble "$recipe" --root "$tmp/case" --out "$tmp/c.csv" --explain > "$tmp/explain" 2> "$tmp/err"; then
    fail ensemble_winners_every_rule "anomaly ensemble failed: $(cat "$tmp/err")"
elif ! out=$("$py" tools/ensemble_reference.py --root "$tmp/case" --out "$tmp/ref.csv" --precision $prec 2>&1); then
    fail ensemble_winners_every_rule "the reference failed: $out"
elif ! cmp -s "$tmp/c.csv" "$tmp/ref.csv"; then
    fail ensemble_winners_every_rule "differs from the reference: $(diff "$tmp/ref.csv" "$tmp/c.csv" | head -5 | tr '\n' ' ')"
else
    counts=$(grep -c ' rows\? changed by: set ' "$tmp/explain")
    zero=$(grep -E ': 0 rows changed by: ' "$tmp/explain")
    changes=$(grep -c ': index .* -> ' "$tmp/explain")
    total=$(sed -n 's/.*: \([0-9]*\) rows\? changed by: .*/\1/p' "$tmp/explain" | awk '{s += $1} END {print s}')
    if [ "$counts" -ne 7 ] || [ -n "$zero" ]; then
        fail ensemble_winners_every_rule "expected 7 rules each changing rows: $(grep 'changed by' "$tmp/explain")"
    elif [ "$changes" -ne "$total" ]; then
        fail ensemble_winners_every_rule "--explain lists $changes changes but counts $total"
    else
        echo "ok ensemble_winners_every_rule"
    fi
fi

# 2. plain votes (no `quirk`) against the reference's --clean, and they differ
sed 's/, quirk)/)/' "$recipe" > "$tmp/plain.recipe"
if ! "$bin" ensemble "$tmp/plain.recipe" --root "$tmp/case" --out "$tmp/p.csv" > /dev/null 2> "$tmp/err"; then
    fail ensemble_winners_plain_votes "anomaly ensemble failed: $(cat "$tmp/err")"
elif ! out=$("$py" tools/ensemble_reference.py --root "$tmp/case" --out "$tmp/pref.csv" --precision $prec --clean 2>&1); then
    fail ensemble_winners_plain_votes "the reference failed: $out"
elif ! cmp -s "$tmp/p.csv" "$tmp/pref.csv"; then
    fail ensemble_winners_plain_votes "differs from the reference: $(diff "$tmp/pref.csv" "$tmp/p.csv" | head -5 | tr '\n' ' ')"
elif cmp -s "$tmp/p.csv" "$tmp/c.csv"; then
    fail ensemble_winners_plain_votes "the original's vote counting changed nothing: the case does not test it"
else
    echo "ok ensemble_winners_plain_votes"
fi

# 3. the real shape: [10, 2154, 88] x 4 and [5, 2154, 88] (the real
# features_92 when the seed files and torch are here), under a second
f92_note="random features_92"
f92_arg=""
if [ -f "$seed_results/features_92(576).pth" ] && [ $have_torch = 1 ]; then
    if "$py" tools/pth_to_npy.py "$seed_results/features_92(576).pth" --out "$tmp/f92.npy" > /dev/null; then
        f92_arg="--f92 $tmp/f92.npy"
        f92_note="the real features_92"
    fi
fi
"$py" tests/fixtures/ensemble/make_case.py --root "$tmp/real" --rows 2154 --seed 2 $f92_arg > /dev/null
start=$(date +%s.%N)
if ! "$bin" ensemble "$recipe" --root "$tmp/real" --out "$tmp/r.csv" > "$tmp/out" 2> "$tmp/err"; then
    fail ensemble_real_shape "anomaly ensemble failed: $(cat "$tmp/err")"
else
    secs=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN {printf "%.2f", b - a}')
    echo "  winners.recipe on 2154 rows ($f92_note): $secs s wall, $(sed 's/.* in \([0-9.]* s\).*/\1/' "$tmp/out") inside"
    "$py" tools/ensemble_reference.py --root "$tmp/real" --out "$tmp/rref.csv" --precision $prec
    if ! cmp -s "$tmp/r.csv" "$tmp/rref.csv"; then
        fail ensemble_real_shape "differs from the reference: $(diff "$tmp/rref.csv" "$tmp/r.csv" | head -5 | tr '\n' ' ')"
    elif awk -v s="$secs" 'BEGIN {exit !(s >= 5)}'; then
        fail ensemble_real_shape "took $secs s"
    else
        echo "ok ensemble_real_shape"
    fi
fi

# 4. command errors: one line naming the recipe line, status 1, nothing written
errs=""
check_error() { # $1 recipe text, $2 expected text in the message
    printf '%s\n' "$1" > "$tmp/bad.recipe"
    rm -f "$tmp/bad.csv"
    if "$bin" ensemble "$tmp/bad.recipe" --root "$tmp/case" --out "$tmp/bad.csv" > /dev/null 2> "$tmp/err"; then
        errs="$errs; accepted: $1"
    elif ! grep -qF -- "$2" "$tmp/err" || [ "$(wc -l < "$tmp/err")" -ne 1 ]; then
        errs="$errs; expected '$2', got: $(cat "$tmp/err")"
    fi
    [ -e "$tmp/bad.csv" ] && errs="$errs; a file was written after: $2"
}
head2=$'labels data/train/train_df.csv\nrows data/sample_submission.csv'
check_error "$head2"$'\nlet f = load(results/features_92.npy)\nlet x = decode(mean(keep(f, [5])))\nwrite x' \
    "bad.recipe:4: fold 5 is out of range: 'f' has 5 folds (0 to 4)"
check_error "$head2"$'\nlet x = decode(mean(load(results/features_66.npy) + load(results/features_92.npy)))\nwrite x' \
    "bad.recipe:3: '+': shape mismatch: load(results/features_66.npy) is [10, 300, 88]"
check_error "$head2"$'\nlet x = decode(mean(f66))\nwrite x' "bad.recipe:3: unknown name 'f66'"
check_error $'labels data/sample_submission.csv\nrows data/sample_submission.csv\nlet x = decode(mean(load(results/features_66.npy)))\nwrite x' \
    "bad.recipe:3: $tmp/case/results/features_66.npy: shape [10, 300, 88] has 88 scores per row but"
check_error "$head2"$'\nlet v = vote(data/train/train_df.csv)\nwrite v' "bad.recipe:3: $tmp/case/data/train/train_df.csv has 88 rows but"
if [ -z "$errs" ]; then echo "ok ensemble_command_errors"; else fail ensemble_command_errors "${errs#; }"; fi

# 5. anomaly average against NumPy: weighted mean, maximum counters, refusals
if ! out=$("$py" - "$tmp" <<'EOF' 2>&1
import sys
import numpy as np
sys.path.insert(0, "tools")
import safetensors_py as st
d = sys.argv[1]
rng = np.random.default_rng(5)
names = ["conv.weight", "bn.weight", "bn.running_mean", "bn.running_var", "bn.num_batches_tracked", "fc.weight"]
shapes = [(4, 3, 3, 3), (4,), (4,), (4,), (), (2, 4)]
for f, step in (("a", 10), ("b", 30), ("c", 20)):
    t = {n: rng.normal(size=s).astype(np.float32) for n, s in zip(names, shapes)}
    t["bn.num_batches_tracked"] = np.array(step, dtype=np.int64)
    t["h"] = rng.normal(size=7).astype(np.float16)
    st.save(f"{d}/{f}.safetensors", t, {"arch": "toy"})
t = st.load(f"{d}/a.safetensors")[0]
t["fc.weight"] = t["fc.weight"].T.copy()
st.save(f"{d}/bad_shape.safetensors", t)
t = st.load(f"{d}/a.safetensors")[0]
t["bn.running_var"] = t["bn.running_var"].astype(np.float64)
st.save(f"{d}/bad_dtype.safetensors", t)
EOF
); then
    fail average_command "could not write the checkpoints: $out"
else
    errs=""
    "$bin" average "$tmp/a.safetensors" "$tmp/b.safetensors" "$tmp/c.safetensors" --weights 0.5 0.25 0.25 \
        --out "$tmp/avg.safetensors" > "$tmp/out" 2> "$tmp/err" || errs="$errs; weighted: $(cat "$tmp/err")"
    "$bin" average "$tmp/a.safetensors" "$tmp/b.safetensors" "$tmp/c.safetensors" --weights 2 1 1 \
        --out "$tmp/norm.safetensors" > "$tmp/out2" 2> "$tmp/err" || errs="$errs; normalised: $(cat "$tmp/err")"
    grep -q "note: the weights sum to 4" "$tmp/out2" || errs="$errs; no note on normalising: $(cat "$tmp/out2")"
    if [ -z "$errs" ] && ! out=$("$py" - "$tmp" <<'EOF' 2>&1
import sys
import numpy as np
sys.path.insert(0, "tools")
import safetensors_py as st
d = sys.argv[1]
ins = [st.load(f"{d}/{f}.safetensors")[0] for f in "abc"]
w = [0.5, 0.25, 0.25]
for out in ("avg", "norm"):
    got, meta = st.load(f"{d}/{out}.safetensors")
    assert list(got) == list(ins[0]), "tensor order"
    assert meta.get("arch") == "toy" and "averaged_from" in meta, meta
    for name, x in got.items():
        if name == "bn.num_batches_tracked":
            assert x.dtype == np.int64 and int(x) == 30, x
            continue
        want = sum(wi * t[name].astype(np.float64) for wi, t in zip(w, ins)).astype(x.dtype)
        assert x.dtype == ins[0][name].dtype and x.shape == ins[0][name].shape, name
        assert np.array_equal(x, want), (name, x, want)
EOF
    ); then
        errs="$errs; values: $out"
    fi
    refuse() { # $1 file, $2 expected message part
        rm -f "$tmp/x.safetensors"
        if "$bin" average "$tmp/a.safetensors" "$tmp/$1" --out "$tmp/x.safetensors" > /dev/null 2> "$tmp/err"; then
            errs="$errs; $1 accepted"
        elif ! grep -qF -- "$2" "$tmp/err"; then
            errs="$errs; expected '$2', got: $(cat "$tmp/err")"
        fi
        [ -e "$tmp/x.safetensors" ] && errs="$errs; a file was written after refusing $1"
    }
    refuse bad_shape.safetensors "tensor 'fc.weight' has shape [2, 4] in $tmp/a.safetensors but [4, 2] in $tmp/bad_shape.safetensors"
    refuse bad_dtype.safetensors "tensor 'bn.running_var' is F32 in $tmp/a.safetensors but F64 in"
    if [ -z "$errs" ]; then echo "ok average_command"; else fail average_command "${errs#; }"; fi
fi

# 6. pth_to_npy.py: a saved tensor converts exactly, other contents are
# refused, the real file (converted in 3) has the expected shape
if [ $have_torch = 0 ]; then
    echo "skip pth_to_npy: torch is not available to $py"
elif ! out=$("$py" - "$tmp" "$f92_arg" <<'EOF' 2>&1
import sys
import numpy as np
import torch
sys.path.insert(0, "tools")
import pth_to_npy
d, f92 = sys.argv[1], sys.argv[2]
x = torch.randn(3, 5, 88)
torch.save(x, f"{d}/features_7(640).pth")
out = pth_to_npy.default_out(f"{d}/features_7(640).pth", None)
assert out == f"{d}/features_7.npy", out
pth_to_npy.convert(f"{d}/features_7(640).pth", out, 3)
a = np.load(out)
assert a.dtype == np.float32 and np.array_equal(a, x.numpy()), "converted values differ"
for bad, why in (({"w": x}, "not one tensor"), (x[0], "rank-3"), (x.long(), "floating-point")):
    torch.save(bad, f"{d}/bad.pth")
    try:
        pth_to_npy.convert(f"{d}/bad.pth", f"{d}/bad.npy", 3)
        raise AssertionError(f"accepted: {why}")
    except SystemExit as e:
        assert why in str(e), str(e)
if f92:
    a = np.load(f92.split()[-1])
    assert a.dtype == np.float32 and a.shape == (5, 2154, 88), (a.dtype, a.shape)
    print("  the real features_92(576).pth converts to float32", list(a.shape))
EOF
); then
    fail pth_to_npy "$out"
else
    echo "$out" | grep '^  ' || true
    echo "ok pth_to_npy"
fi

exit $failed
