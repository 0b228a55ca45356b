# Helpers shared by the shell tests (sourced, not run). A test collects
# problems with `note` and closes each named case with `report NAME`, which
# prints `ok NAME` or the problems and `FAIL NAME: details above`, and sets
# `failed=1`; the test exits with $failed at the end.

failed=0
problems=()
note() { problems+=("$1"); }
report() { # $1 name, $2 optional detail: ok when nothing was noted since the last report
    if [ ${#problems[@]} -eq 0 ]; then
        echo "ok $1${2:+ ($2)}"
    else
        printf '  %s\n' "${problems[@]:0:20}"
        [ ${#problems[@]} -gt 20 ] && echo "  ... and $((${#problems[@]} - 20)) more"
        echo "FAIL $1: details above"
        failed=1
    fi
    problems=()
}

# small_train_set BIN DIR N_TEST: a small data set of bottle, screw and
# toothbrush training images (32 px, from `anomaly synth`, 176 images drawn)
# and N_TEST test images in DIR/d, the Dacon layout; prints `FAIL NAME` for
# each of $names and exits when synth fails.
small_train_set() {
    local bin=$1 dir=$2 n_test=$3 f
    if ! "$bin" synth --out "$dir/syn" --train 176 --test "$n_test" --size 32 > /dev/null 2> "$dir/synth.err"; then
        for n in $names; do echo "FAIL $n: anomaly synth failed: $(head -n 1 "$dir/synth.err")"; done
        exit 1
    fi
    mkdir -p "$dir/d/train"
    cp -r "$dir/syn/test" "$dir/syn/test_df.csv" "$dir/syn/sample_submission.csv" "$dir/d/"
    awk -F, 'NR == 1 || $3 == "bottle" || $3 == "screw" || $3 == "toothbrush"' "$dir/syn/train/train_df.csv" \
        > "$dir/d/train/train_df.csv"
    for f in $(awk -F, 'NR > 1 { print $2 }' "$dir/d/train/train_df.csv"); do cp "$dir/syn/train/$f" "$dir/d/train/"; done
}

# The weights, statistics and moments of a training state file: everything
# after its header (the header's log holds wall-clock seconds).
payload() {
    local h
    h=$(od -An -t u8 -N8 "$1" | tr -d ' ')
    tail -c +$((9 + h)) "$1"
}

# same_run DIR1 DIR2 WHAT: the same checkpoints, state tensors and logged
# numbers in two finished run directories; notes each difference and
# returns 1 if there was one.
same_run() {
    local a b f bad=0
    a=$(cd "$1" 2> /dev/null && ls model_*.safetensors 2> /dev/null | sort | tr '\n' ' ')
    b=$(cd "$2" 2> /dev/null && ls model_*.safetensors 2> /dev/null | sort | tr '\n' ' ')
    [ -n "$a" ] || { note "$3: no checkpoint in $1"; return 1; }
    [ "$a" = "$b" ] || { note "$3: checkpoints '$a' vs '$b'"; bad=1; }
    for f in $a; do
        [ -f "$2/$f" ] && ! cmp -s "$1/$f" "$2/$f" && { note "$3: $f differs"; bad=1; }
    done
    cmp -s <(payload "$1/train_state.safetensors") <(payload "$2/train_state.safetensors") ||
        { note "$3: final weights, statistics or moments differ (train_state.safetensors)"; bad=1; }
    cmp -s <(cut -d, -f1-6,8 "$1/log.csv") <(cut -d, -f1-6,8 "$2/log.csv") || { note "$3: log.csv numbers differ"; bad=1; }
    [ -f "$2/done" ] || { note "$3: no done marker in $2"; bad=1; }
    ls "$2" | grep -q '\.tmp\.' && { note "$3: temporary files left in $2"; bad=1; }
    return $bad
}
