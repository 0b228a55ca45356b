#!/usr/bin/env bash
# A fuzzing campaign over the harnesses of tests/fuzz (after `make fuzz`):
# each runs until RUNS executions or SECONDS seconds, whichever comes first,
# from a working copy of its committed corpus, with its dictionary,
# -timeout=5 (a hang is a finding) and a 2 GiB memory limit, one at a time,
# under `nice -n 19`. With --until EPOCH (date +%s) each harness gets at most
# an equal share of the time left before EPOCH among those still to run (so
# harnesses that reach RUNS early leave their time to the others), and none
# starts after it. Prints one table row per harness: executions, edges
# covered, findings (crash, leak, timeout or OOM inputs, left in
# OUT/NAME/), wall seconds and CPU seconds (user + system).
#   tools/fuzz_campaign.sh [--runs N] [--seconds S] [--until EPOCH] [--out DIR] [NAME ...]
set -u
cd "$(dirname "$0")/.."
runs=1000000 seconds=600 until=0 out=/tmp/anomaly_fuzz
while [ $# -gt 0 ]; do
    case $1 in
    --runs) runs=$2; shift 2 ;;
    --seconds) seconds=$2; shift 2 ;;
    --until) until=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    *) break ;;
    esac
done
names=${*:-$(ls tests/fuzz/fuzz_*.c | sed 's|.*/fuzz_||; s|\.c$||')}
left=$(echo $names | wc -w)
echo "| harness | executions | edges | findings | seconds | CPU seconds |"
echo "|---|---|---|---|---|---|"
for name in $names; do
    bin=build/fuzz/fuzz/fuzz_$name
    limit=$seconds
    if [ "$until" -gt 0 ]; then
        share=$(((until - $(date +%s)) / left))
        [ "$share" -lt "$limit" ] && limit=$share
    fi
    left=$((left - 1))
    [ -x "$bin" ] || { echo "| $name | not built (make fuzz) | | | | |"; continue; }
    [ "$limit" -gt 0 ] || { echo "| $name | not run (no time left) | | | | |"; continue; }
    dir=$out/$name
    mkdir -p "$dir/corpus"
    cp -n tests/fuzz/corpus/"$name"/* "$dir/corpus/" 2>/dev/null
    dict=
    [ -f tests/fuzz/dict/$name.dict ] && dict=-dict=tests/fuzz/dict/$name.dict
    start=$(date +%s)
    # One process (no -jobs/-fork); `times` in the subshell gives its CPU time.
    children=$( (nice -n 19 "$bin" "$dir/corpus" $dict -timeout=5 -rss_limit_mb=2048 -runs="$runs" \
        -max_total_time="$limit" -print_final_stats=1 -artifact_prefix="$dir/" > "$dir/log" 2>&1
    times) | tail -n 1)
    cpu=$(echo "$children" | awk '{ s = 0; for (i = 1; i <= 2; i++) { split($i, t, "m"); s += t[1] * 60 + t[2] } printf "%.0f", s }')
    execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$dir/log" | grep -o '[0-9]*$')
    edges=$(grep -o 'cov: [0-9]*' "$dir/log" | tail -n 1 | grep -o '[0-9]*')
    found=$(ls "$dir" | grep -c -E '^(crash|leak|timeout|oom|slow-unit)-')
    echo "| $name | ${execs:-?} | ${edges:-?} | $found | $(($(date +%s) - start)) | $cpu |"
done
