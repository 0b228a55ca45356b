#!/usr/bin/env bash
# The pictures of a tiny synth run, decoded back and probed: anomaly plot
# (curves.png), anomaly augment --sheet, anomaly report (one self-contained
# HTML page), and the page rendered by headless Chromium with the network
# shut off: the screenshot must show the inlined curves. Prints ok/FAIL/skip
# lines like the C tests.
set -u
cd "$(dirname "$0")/.."
bin=${ANOMALY_BIN:-build/f32/anomaly}
py=/usr/bin/python3
names="viz_plot viz_augment_sheet viz_report_html viz_report_bad_inputs viz_report_chromium"

if [ ! -x "$bin" ]; then
    for n in $names; do echo "FAIL $n: no anomaly binary at $bin"; done
    exit 1
fi
if ! "$py" -c "import numpy, cv2" 2>/dev/null; then
    for n in $names; do echo "skip $n: numpy or cv2 is not available to $py"; done
    exit 0
fi
tmp=$(mktemp -d /tmp/anomaly_report_sh.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
failed=0
fail() { echo "  $2"; echo "FAIL $1: details above"; failed=$((failed + 1)); }

# a tiny run: 32 px, one fold, 2 epochs (about 10 s on one core)
"$bin" synth --out "$tmp/data" --train 200 --test 30 --size 32 --defect_share 0.75 > "$tmp/log" 2>&1 &&
    "$bin" train --exp_num 1 --data_path "$tmp/data" --results "$tmp/results" --model efficientnet --arch 0 \
        --img_size 32 --batch_size 8 --epochs 2 --lr 1e-3 --optimizer Adam --aug_ver 1 --fold 5 --folds 1 \
        --progress off --threads 2 >> "$tmp/log" 2>&1 &&
    "$bin" test --exp_num 1 --data_path "$tmp/data" --results "$tmp/results" --progress off --threads 2 >> "$tmp/log" 2>&1
if [ $? -ne 0 ]; then
    for n in $names; do fail "$n" "the tiny run failed: $(tail -5 "$tmp/log")"; done
    exit 1
fi
exp=$tmp/results/1

# ---- anomaly plot ----
if "$bin" plot "$exp" > "$tmp/plot.txt" 2>&1 && "$py" - "$exp/curves.png" > "$tmp/p.txt" 2>&1 <<'PY'; then echo "ok viz_plot"; else fail viz_plot "$(cat "$tmp/plot.txt" "$tmp/p.txt")"; fi
import sys, cv2, numpy as np
im = cv2.imread(sys.argv[1])[:, :, ::-1]
assert im.shape == (440, 1000, 3), im.shape
blue = np.all(im == (0, 114, 178), axis=2)  # the first run's colour
assert blue[50:340, 60:440].sum() > 50, "no loss curve"
assert blue[50:340, 550:930].sum() > 50, "no F1 curve"
PY

# ---- anomaly augment --sheet: 3 cells in a row, framed ----
img=$(ls "$tmp/data/train" | head -1)
if "$bin" augment "$tmp/data/train/$img" --sheet 3 --img_size 32 --out "$tmp/sheet.png" > "$tmp/s.txt" 2>&1 &&
    "$py" -c "
import cv2
im = cv2.imread('$tmp/sheet.png')
# cells 186+8 wide (the op text is wider than 32x3 px), 2 px apart
assert im.shape[1] == 2 + 3 * (194 + 2), im.shape
assert tuple(im[2, 2]) == (200, 200, 200), im[2, 2]  # a cell's frame
" > "$tmp/s2.txt" 2>&1; then
    echo "ok viz_augment_sheet"
else
    fail viz_augment_sheet "$(cat "$tmp/s.txt" "$tmp/s2.txt")"
fi

# ---- anomaly report: one page, pictures inlined ----
printf 'ensemble explain: 3 rows changed <b>\n' > "$tmp/explain.txt"
if "$bin" report "$exp" --data "$tmp/data" --explain "$tmp/explain.txt" --worst 3 --out "$tmp/report.html" \
    > "$tmp/r.txt" 2>&1 && "$py" - "$tmp/report.html" > "$tmp/r2.txt" 2>&1 <<'PY'; then echo "ok viz_report_html"; else fail viz_report_html "$(cat "$tmp/r.txt" "$tmp/r2.txt")"; fi
import sys, re, base64, numpy as np, cv2
html = open(sys.argv[1], encoding="utf-8").read()
srcs = re.findall(r'src="([^"]*)"', html)
assert all(s.startswith("data:image/png;base64,") for s in srcs), "a picture is not inlined"
assert not re.search(r'(href|src)="(https?:|//)', html), "the page fetches something"
# curves, confusion matrix, and two CAMs (predicted, true) per wrong image
assert len(srcs) == 2 + 2 * 3, len(srcs)
pics = [cv2.imdecode(np.frombuffer(base64.b64decode(s.split(",", 1)[1]), np.uint8), cv2.IMREAD_COLOR) for s in srcs]
assert all(p is not None for p in pics), "a picture does not decode"
assert pics[0].shape == (440, 1000, 3), pics[0].shape
for h in ("Settings", "Training curves", "Per label", "Confusion matrix", "Worst-classified", "--explain"):
    assert h in html, "no section " + h
assert "3 rows changed &lt;b&gt;" in html, "the explain text is not escaped"
assert "<b>model_name</b> efficientnet-b0</div>" in html, "no settings"
PY

# ---- bad inputs: one line, non-zero exit, no page ----
bad() { # what, expected text, args...
    local what=$1 want=$2
    shift 2
    rm -f "$tmp/bad.html"
    if "$bin" report "$@" --out "$tmp/bad.html" 2> "$tmp/bad.txt" > /dev/null; then
        fail viz_report_bad_inputs "$what: exit 0"
    elif [ "$(wc -l < "$tmp/bad.txt")" -ne 1 ] || ! grep -q -- "$want" "$tmp/bad.txt"; then
        fail viz_report_bad_inputs "$what: want one line with '$want', got: $(cat "$tmp/bad.txt")"
    elif [ -e "$tmp/bad.html" ]; then
        fail viz_report_bad_inputs "$what: wrote a page"
    fi
}
f0=$failed
bad "no experiment" "nothing/train_args.csv" "$tmp/nothing"
bad "missing explain file" "no_explain.txt" "$exp" --explain "$tmp/no_explain.txt"
bad "missing answers" "no_answers.csv" "$exp" --answers "$tmp/no_answers.csv"
printf 'index,label\n9999,bottle-good\n' > "$tmp/other.csv"
bad "answers of other images" "no row for index '9999'" "$exp" --answers "$tmp/other.csv"
printf 'index,x\n1,2\n' > "$tmp/nolabel.csv"
bad "answers without a label column" "no column 'label'" "$exp" --answers "$tmp/nolabel.csv"
[ "$failed" = "$f0" ] && echo "ok viz_report_bad_inputs"

# ---- the page in a real browser, offline ----
chrome=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$chrome" ]; then
    echo "skip viz_report_chromium: no chromium (apt-get install chromium, or tools/setup_deps.sh --browser)"
else
    # a proxy that refuses every connection: nothing may come from the network
    timeout 120 "$chrome" --headless --no-sandbox --disable-gpu --hide-scrollbars --proxy-server=127.0.0.1:9 \
        --user-data-dir="$tmp/chrome" --window-size=1200,1400 --screenshot="$tmp/shot.png" \
        "file://$tmp/report.html" > "$tmp/c.txt" 2>&1
    if [ -f "$tmp/shot.png" ] && "$py" - "$tmp/shot.png" > "$tmp/c2.txt" 2>&1 <<'PY'; then echo "ok viz_report_chromium"; else fail viz_report_chromium "$(tail -3 "$tmp/c.txt"; cat "$tmp/c2.txt")"; fi
import sys, cv2, numpy as np
im = cv2.imread(sys.argv[1])[:, :, ::-1]
assert im.shape[:2] == (1400, 1200), im.shape
ink = np.any(im < 200, axis=2).mean()
assert ink > 0.01, "blank page (%.4f of pixels dark)" % ink
# the inlined curves decoded and drawn at 1:1: the first run's exact colour
blue = np.all(im == (0, 114, 178), axis=2).sum()
assert blue > 50, "the curves picture is not on the screen (%d pixels of its blue)" % blue
print("  screenshot: %.1f %% of pixels dark, %d pixels of the curves' blue" % (100 * ink, blue))
PY
fi
[ "$failed" -eq 0 ]
