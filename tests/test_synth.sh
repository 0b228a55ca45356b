#!/usr/bin/env bash
# The data-set writers end to end: `anomaly synth` and `anomaly import-idx`
# write the Dacon layout (checked with NumPy and OpenCV), synth is the same
# bytes for the same flags whatever the thread count, and bad flags fail
# cleanly. Prints ok / FAIL / skip lines; exits non-zero on any FAIL.
set -u
BIN=${ANOMALY_BIN:-build/f32/anomaly}
PY=/usr/bin/python3
failed=0
tmp=$(mktemp -d /tmp/anomaly_synth_sh.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

ok() { echo "ok $1"; }
fail() { echo "FAIL $1: $2"; failed=1; }
skip() { echo "skip $1: $2"; }

if [ ! -x "$BIN" ]; then
    echo "FAIL synth_binary: $BIN is not built"
    exit 1
fi
have_py=0
if $PY -c 'import numpy, cv2' 2>/dev/null; then have_py=1; fi

# ---- synth: the layout ----
if OMP_NUM_THREADS=2 "$BIN" synth --out "$tmp/a" --train 300 --test 100 --size 64 --seed 1 > "$tmp/log" 2>&1; then
    ok synth_runs
else
    fail synth_runs "$(tail -3 "$tmp/log")"
fi

if [ $have_py -eq 0 ]; then
    skip synth_layout "$PY lacks numpy or cv2"
elif out=$($PY - "$tmp/a" <<'EOF' 2>&1
import csv, os, sys
import cv2, numpy as np
d = sys.argv[1]
rows = list(csv.DictReader(open(os.path.join(d, "train", "train_df.csv"))))
assert len(rows) == 300, len(rows)
assert [r["index"] for r in rows] == [str(i) for i in range(300)]
names = sorted(r["file_name"] for r in rows)
assert names == ["%d.png" % (10000 + i) for i in range(300)], names[:3]
labels = sorted({r["label"] for r in rows})
assert len(labels) == 88, len(labels)
for r in rows:
    assert r["label"] == r["class"] + "-" + r["state"], r
counts = {}
for r in rows:
    counts[r["label"]] = counts.get(r["label"], 0) + 1
assert min(counts.values()) >= 2, min(counts.values())
test = list(csv.DictReader(open(os.path.join(d, "test_df.csv"))))
assert len(test) == 100 and test[0]["file_name"] == "20000.png", len(test)
sub = list(csv.DictReader(open(os.path.join(d, "sample_submission.csv"))))
ans = list(csv.DictReader(open(os.path.join(d, "test_answer.csv"))))
assert len(sub) == 100 and len(ans) == 100
assert all(a["label"] in labels for a in ans)
assert sorted(os.listdir(os.path.join(d, "train"))) == sorted(names + ["train_df.csv"])
assert len(os.listdir(os.path.join(d, "test"))) == 100
for f in names[:20] + ["../test/%d.png" % (20000 + i) for i in range(0, 100, 9)]:
    im = cv2.imread(os.path.join(d, "train", f))
    assert im is not None and im.shape == (64, 64, 3), (f, None if im is None else im.shape)
label_of = {r["file_name"]: r["label"] for r in rows}
y = np.array([labels.index(label_of[n]) for n in names])
for k, n_val in ((5, 60), (10, 30)):
    folds = np.load(os.path.join(d, "%d-Fold_idx.npy" % k), allow_pickle=True)
    assert folds.shape == (k, 2) and folds.dtype == object, folds.shape
    seen = np.concatenate([folds[j][1] for j in range(k)])
    assert sorted(seen.tolist()) == list(range(300)), "validation sets do not cover the train set"
    for j in range(k):
        tr, va = folds[j]
        assert tr.dtype == np.int64 and va.dtype == np.int64
        assert len(va) == n_val and len(tr) + len(va) == 300 and not set(tr) & set(va)
        # stratified: every label with at least k images is in every validation set
        for lab, c in counts.items():
            if c >= k:
                assert (y[va] == labels.index(lab)).any(), (k, j, lab)
print("fine")
EOF
); then
    ok synth_layout
else
    fail synth_layout "$out"
fi

# ---- synth: determinism over runs and thread counts ----
sums() { (cd "$1" && find . -type f | LC_ALL=C sort | xargs md5sum); }
# (the first run used 2 threads, this one 1)
OMP_NUM_THREADS=1 "$BIN" synth --out "$tmp/b" --train 300 --test 100 --size 64 --seed 1 > /dev/null 2>&1
if [ -d "$tmp/b" ] && [ "$(sums "$tmp/a")" = "$(sums "$tmp/b")" ]; then
    ok synth_deterministic
else
    fail synth_deterministic "two runs with the same flags (1 and 2 threads) differ"
fi

# ---- synth: refusals ----
if "$BIN" synth --out "$tmp/a" --train 300 --size 64 > "$tmp/log" 2>&1; then
    fail synth_refuses_nonempty "overwrote a non-empty --out without --force"
elif grep -q -- "--force" "$tmp/log" && [ -f "$tmp/a/train/train_df.csv" ]; then
    ok synth_refuses_nonempty
else
    fail synth_refuses_nonempty "unexpected: $(cat "$tmp/log")"
fi
if "$BIN" synth --out "$tmp/a" --train 176 --test 0 --size 32 --force > /dev/null 2>&1 &&
    [ "$(ls "$tmp/a/train" | wc -l)" -eq 177 ] && [ "$(ls "$tmp" | grep -c 'a\.')" -eq 0 ]; then
    ok synth_force_replaces
else
    fail synth_force_replaces "--force did not replace the old set cleanly"
fi
if "$BIN" synth --out "$tmp/e" --train 175 > "$tmp/log" 2>&1; then
    fail synth_refuses_small "accepted --train 175"
elif grep -q "176" "$tmp/log" && [ ! -e "$tmp/e" ]; then
    ok synth_refuses_small
else
    fail synth_refuses_small "unclear error or leftovers: $(cat "$tmp/log")"
fi
if "$BIN" synth --out "$tmp/e" --train 300 --test 7 > "$tmp/log" 2>&1; then
    fail synth_refuses_odd_test "accepted --test 7"
else
    ok synth_refuses_odd_test
fi

# --defect_share: the defective share of the train set as asked, test set unchanged
if "$BIN" synth --out "$tmp/h" --train 300 --test 100 --size 32 --seed 1 --defect_share 0.5 > "$tmp/log" 2>&1 &&
    "$BIN" synth --out "$tmp/h0" --train 300 --test 100 --size 32 --seed 1 > /dev/null 2>&1 &&
    [ "$(awk -F, 'NR > 1 && $4 != "good"' "$tmp/h/train/train_df.csv" | wc -l)" -eq 150 ] &&
    cmp -s "$tmp/h/test_answer.csv" "$tmp/h0/test_answer.csv"; then
    ok synth_defect_share
else
    fail synth_defect_share "$(tail -3 "$tmp/log")"
fi
share_bad=""
for bad in 0 1 -0.5 0.2 0.95 x; do
    if "$BIN" synth --out "$tmp/i" --train 300 --defect_share "$bad" > "$tmp/log" 2>&1; then
        share_bad="accepted --defect_share $bad"
    elif ! grep -q "defect_share" "$tmp/log" || [ -e "$tmp/i" ]; then
        share_bad="--defect_share $bad: unclear error or leftovers: $(cat "$tmp/log")"
    fi
done
if [ -z "$share_bad" ]; then ok synth_refuses_share; else fail synth_refuses_share "$share_bad"; fi

# ---- import-idx: a hand-made IDX pair ----
if [ $have_py -eq 0 ]; then
    skip import_idx_small "$PY lacks numpy or cv2"
else
    $PY - "$tmp" <<'EOF'
import gzip, struct, sys
import numpy as np
d = sys.argv[1]
rng = np.random.default_rng(0)
n = 40
imgs = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
labs = (np.arange(n) % 10).astype(np.uint8)
open(d + "/img.gz", "wb").write(gzip.compress(struct.pack(">IIII", 0x803, n, 28, 28) + imgs.tobytes()))
open(d + "/lab.gz", "wb").write(gzip.compress(struct.pack(">II", 0x801, n) + labs.tobytes()))
open(d + "/lab.raw", "wb").write(struct.pack(">II", 0x801, n) + labs.tobytes())
np.save(d + "/imgs.npy", imgs)
EOF
    if "$BIN" import-idx --images "$tmp/img.gz" --labels "$tmp/lab.gz" --test_images "$tmp/img.gz" \
        --test_labels "$tmp/lab.raw" --limit 30 --out "$tmp/f" > "$tmp/log" 2>&1 &&
        out=$($PY - "$tmp" <<'EOF' 2>&1
import csv, sys
import cv2, numpy as np
d = sys.argv[1]
imgs = np.load(d + "/imgs.npy")
names = ["tshirt_top", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag", "ankle_boot"]
rows = list(csv.DictReader(open(d + "/f/train/train_df.csv")))
assert len(rows) == 30, len(rows)
for i, r in enumerate(rows):
    assert r["file_name"] == "%d.png" % (10000 + i) and r["class"] == "fashion", r
    assert r["state"] == names[i % 10] and r["label"] == "fashion-" + names[i % 10], r
    im = cv2.imread(d + "/f/train/" + r["file_name"])
    assert im.shape == (28, 28, 3) and (im[:, :, 0] == imgs[i]).all() and (im[:, :, 2] == imgs[i]).all(), i
ans = list(csv.DictReader(open(d + "/f/test_answer.csv")))
assert len(ans) == 30 and ans[3]["label"] == "fashion-dress", ans[3]
f = np.load(d + "/f/5-Fold_idx.npy", allow_pickle=True)
assert f.shape == (5, 2) and sorted(np.concatenate([f[j][1] for j in range(5)]).tolist()) == list(range(30))
print("fine")
EOF
); then
        ok import_idx_small
    else
        fail import_idx_small "$(tail -3 "$tmp/log") ${out:-}"
    fi
    if "$BIN" folds make --data_path "$tmp/f" --out "$tmp/f.npy" > /dev/null 2>&1; then
        ok import_idx_opens
    else
        fail import_idx_opens "the data-set reader rejects the imported set"
    fi
    head -c 200 "$tmp/img.gz" > "$tmp/cut.gz"
    if "$BIN" import-idx --images "$tmp/cut.gz" --labels "$tmp/lab.gz" --out "$tmp/g" > "$tmp/log" 2>&1; then
        fail import_idx_truncated "accepted a truncated gzip file"
    elif grep -q "cut.gz" "$tmp/log" && [ ! -e "$tmp/g" ]; then
        ok import_idx_truncated
    else
        fail import_idx_truncated "unclear error or leftovers: $(cat "$tmp/log")"
    fi
fi

# ---- import-idx: the real Fashion-MNIST, when the Debian package is there ----
FM=/usr/share/datasets/fashion-mnist
if [ ! -f "$FM/train-images-idx3-ubyte.gz" ]; then
    skip import_idx_fashion_mnist "not installed (apt-get install dataset-fashion-mnist)"
elif "$BIN" import-idx --images "$FM/train-images-idx3-ubyte.gz" --labels "$FM/train-labels-idx1-ubyte.gz" \
    --test_images "$FM/t10k-images-idx3-ubyte.gz" --test_labels "$FM/t10k-labels-idx1-ubyte.gz" \
    --limit 300 --out "$tmp/fm" > "$tmp/log" 2>&1 &&
    [ "$(ls "$tmp/fm/train" | wc -l)" -eq 301 ] && [ "$(ls "$tmp/fm/test" | wc -l)" -eq 300 ] &&
    "$BIN" folds make --data_path "$tmp/fm" --out "$tmp/fm.npy" > /dev/null 2>&1; then
    ok import_idx_fashion_mnist
else
    fail import_idx_fashion_mnist "$(tail -3 "$tmp/log")"
fi

exit $failed
