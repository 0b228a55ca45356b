#!/usr/bin/env bash
# Fold files against NumPy itself: `anomaly folds make` on a tiny data set
# must give a file numpy.load(allow_pickle=True) reads as the same indices
# `anomaly folds FILE` prints, and NumPy-written object arrays must print as
# NumPy holds them. Prints ok/FAIL/skip lines like the C tests.
set -u
cd "$(dirname "$0")/.."
bin=${ANOMALY_BIN:-build/f32/anomaly}
py=/usr/bin/python3
names="folds_make_numpy_load folds_bytes_match_numpy folds_print_numpy_written folds_command_errors"

if [ ! -x "$bin" ]; then
    for n in $names; do echo "FAIL $n: no anomaly binary at $bin"; done
    exit 1
fi
if ! "$py" -c "import numpy" 2>/dev/null; then
    for n in $names; do echo "skip $n: numpy is not available to $py"; done
    exit 0
fi

tmp=$(mktemp -d /tmp/anomaly_folds_sh.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
failed=0
fail() { echo "  $2"; echo "FAIL $1: details above"; failed=1; }

# 30 train images of 5 labels, listed out of file-name order
mkdir -p "$tmp/data/train"
{
    echo "index,file_name,class,state,label"
    for i in $(seq 29 -1 0); do
        f=$((10000 + i)).png
        cp tests/fixtures/data/gray16.png "$tmp/data/train/$f"
        case $((i % 5)) in
            0|1) cls=bottle st=good ;;
            2) cls=bottle st=broken_small ;;
            3) cls=metal_nut st=color ;;
            4) cls=zipper st=good ;;
        esac
        echo "$i,$f,$cls,$st,$cls-$st"
    done
} > "$tmp/data/train_df.csv"

# 1. make, print, and compare with numpy.load
if ! "$bin" folds make --data_path "$tmp/data" --k 3 --seed 7 --out "$tmp/f.npy" > "$tmp/make.out" 2>&1; then
    fail folds_make_numpy_load "folds make failed: $(cat "$tmp/make.out")"
elif ! "$bin" folds "$tmp/f.npy" > "$tmp/c.csv" 2> "$tmp/err"; then
    fail folds_make_numpy_load "folds FILE failed: $(cat "$tmp/err")"
else
    if out=$("$py" - "$tmp/f.npy" "$tmp/c.csv" <<'EOF' 2>&1
import sys
import numpy as np
a = np.load(sys.argv[1], allow_pickle=True)
assert a.dtype == object and a.shape == (3, 2), (a.dtype, a.shape)
rows = ["fold,split,index"]
for k in range(a.shape[0]):
    for j, split in enumerate(("train", "val")):
        cell = a[k, j]
        assert isinstance(cell, np.ndarray) and cell.dtype == np.int64 and cell.ndim == 1, (type(cell), cell.dtype)
        rows += ["%d,%s,%d" % (k + 1, split, int(i)) for i in cell]
printed = open(sys.argv[2]).read().split("\n")[:-1]
assert printed == rows, "printed rows differ from numpy.load"
val = np.sort(np.concatenate([a[k, 1] for k in range(3)]))
assert (val == np.arange(30)).all(), "validation sets do not cover 0..29 once"
EOF
    ); then
        echo "ok folds_make_numpy_load"
    else
        fail folds_make_numpy_load "$out"
    fi
fi

# 2. what numpy.save writes for the same array is byte for byte our file
if out=$("$py" - "$tmp/f.npy" "$tmp/again.npy" <<'EOF' 2>&1
import sys
import numpy as np
a = np.load(sys.argv[1], allow_pickle=True)
np.save(sys.argv[2], a, allow_pickle=True)
assert open(sys.argv[1], "rb").read() == open(sys.argv[2], "rb").read(), "numpy writes different bytes"
EOF
); then
    echo "ok folds_bytes_match_numpy"
else
    fail folds_bytes_match_numpy "$out"
fi

# 3. a numpy-written object array (uneven cells, some over 255 bytes, 4 folds)
if ! out=$("$py" - "$tmp/np.npy" "$tmp/np.csv" <<'EOF' 2>&1
import sys
import numpy as np
rng = np.random.default_rng(3)
perm = rng.permutation(300)
arr = np.empty((4, 2), dtype=object)
rows = ["fold,split,index"]
for k in range(4):
    val = np.sort(perm[k::4]).astype(np.int64)
    train = np.sort(np.setdiff1d(perm, val)).astype(np.int64)
    arr[k, 0], arr[k, 1] = train, val
    rows += ["%d,train,%d" % (k + 1, i) for i in train] + ["%d,val,%d" % (k + 1, i) for i in val]
np.save(sys.argv[1], arr, allow_pickle=True)
open(sys.argv[2], "w").write("\n".join(rows) + "\n")
EOF
); then
    fail folds_print_numpy_written "numpy could not write the file: $out"
elif ! "$bin" folds "$tmp/np.npy" > "$tmp/np_c.csv" 2> "$tmp/err"; then
    fail folds_print_numpy_written "folds FILE failed: $(cat "$tmp/err")"
elif ! cmp -s "$tmp/np.csv" "$tmp/np_c.csv"; then
    fail folds_print_numpy_written "printed rows differ from what numpy wrote"
else
    echo "ok folds_print_numpy_written"
fi

# 4. errors: one line, non-zero status, nothing written
errs=""
if "$bin" folds make --data_path "$tmp/data" --k 31 --out "$tmp/bad.npy" > /dev/null 2> "$tmp/err"; then
    errs="$errs; --k 31 of 30 images was accepted"
fi
[ -e "$tmp/bad.npy" ] && errs="$errs; a file was written after an error"
[ "$(wc -l < "$tmp/err")" -eq 1 ] || errs="$errs; error is not one line: $(cat "$tmp/err")"
"$py" - "$tmp/F.npy" <<'EOF'
import sys
head = b"{'descr': '|O', 'fortran_order': False, 'shape': (1, 2), }"
head += b" " * (63 - (10 + len(head)) % 64) + b"\n"
evil = b"\x80\x03cos\nsystem\nq\x00X\x02\x00\x00\x00lsq\x01\x85q\x02Rq\x03."
open(sys.argv[1], "wb").write(b"\x93NUMPY\x01\x00" + len(head).to_bytes(2, "little") + head + evil)
EOF
if "$bin" folds "$tmp/F.npy" > /dev/null 2> "$tmp/err"; then
    errs="$errs; a pickle calling os.system was accepted"
fi
grep -q "pickle global os.system is not allowed" "$tmp/err" || errs="$errs; unexpected message: $(cat "$tmp/err")"
if [ -z "$errs" ]; then
    echo "ok folds_command_errors"
else
    fail folds_command_errors "${errs#; }"
fi

exit $failed
