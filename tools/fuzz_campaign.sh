#!/usr/bin/env bash
# A fuzzing campaign over the harnesses of tests/fuzz (after `make fuzz`):
# each runs until RUNS executions or SECONDS seconds, whichever comes first,
# from a working copy of its committed corpus, with its dictionary,
# -timeout=5 (a hang is a finding) and a 2 GiB memory limit. Prints one
# table row per harness: executions, edges covered, findings (crash, leak,
# timeout or OOM inputs, left in OUT/NAME/).
#   tools/fuzz_campaign.sh [--runs N] [--seconds S] [--out DIR] [NAME ...]
set -u
cd "$(dirname "$0")/.."
runs=1000000 seconds=600 out=/tmp/anomaly_fuzz
while [ $# -gt 0 ]; do
    case $1 in
    --runs) runs=$2; shift 2 ;;
    --seconds) seconds=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    *) break ;;
    esac
done
names=${*:-$(ls tests/fuzz/fuzz_*.c | sed 's|.*/fuzz_||; s|\.c$||')}
echo "| harness | executions | edges | findings | seconds |"
echo "|---|---|---|---|---|"
for name in $names; do
    bin=build/fuzz/fuzz/fuzz_$name
    [ -x "$bin" ] || { echo "| $name | not built (make fuzz) | | | |"; continue; }
    dir=$out/$name
    mkdir -p "$dir/corpus"
    cp -n tests/fuzz/corpus/"$name"/* "$dir/corpus/" 2>/dev/null
    dict=
    [ -f tests/fuzz/dict/$name.dict ] && dict=-dict=tests/fuzz/dict/$name.dict
    start=$(date +%s)
    nice -n 19 "$bin" "$dir/corpus" $dict -timeout=5 -rss_limit_mb=2048 -runs="$runs" \
        -max_total_time="$seconds" -print_final_stats=1 -artifact_prefix="$dir/" > "$dir/log" 2>&1
    execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$dir/log" | grep -o '[0-9]*$')
    edges=$(grep -o 'cov: [0-9]*' "$dir/log" | tail -n 1 | grep -o '[0-9]*')
    found=$(ls "$dir" | grep -c -E '^(crash|leak|timeout|oom|slow-unit)-')
    echo "| $name | ${execs:-?} | ${edges:-?} | $found | $(($(date +%s) - start)) |"
done
