#!/usr/bin/env bash
# Replays every committed fuzz corpus (tests/fuzz/corpus/NAME: the seeds and
# every input a fuzzing campaign found a bug with) through its harness,
# built without libFuzzer next to the binary under test (build/*/fuzz/
# replay_NAME): under `make test SANITIZE=address,undefined` a regression is
# an ASan/UBSan report and a failure here. Each input must finish within
# 5 seconds, as in the campaigns. Prints ok/FAIL lines like the C tests.
set -u
cd "$(dirname "$0")/.."
bin=${ANOMALY_BIN:-build/f32/anomaly}
dir=$(dirname "$bin")/fuzz
failed=0
err=$(mktemp)
trap 'rm -f "$err"' EXIT
names=$(ls tests/fuzz/fuzz_*.c | sed 's|.*/fuzz_||; s|\.c$||')
for name in $names; do
    replay=$dir/replay_$name
    corpus=tests/fuzz/corpus/$name
    if [ ! -x "$replay" ]; then
        echo "FAIL fuzz_corpus_$name: no replayer at $replay (make tests builds it)"
        failed=1
        continue
    fi
    inputs=$(ls "$corpus" 2>/dev/null | wc -l)
    if [ "$inputs" -eq 0 ]; then
        echo "FAIL fuzz_corpus_$name: no inputs in $corpus"
        failed=1
        continue
    fi
    bad=
    for f in "$corpus"/*; do
        timeout 5 "$replay" "$f" > /dev/null 2> "$err"
        rc=$?
        if [ $rc -ne 0 ]; then
            bad="$(basename "$f") (exit $rc: $(grep -m 1 -E 'ERROR|runtime error|SUMMARY' "$err" | head -c 200))"
            break
        fi
    done
    if [ -n "$bad" ]; then
        echo "FAIL fuzz_corpus_$name: $bad"
        failed=1
    else
        echo "ok fuzz_corpus_$name ($inputs inputs)"
    fi
done
exit $failed
