#!/usr/bin/env bash
# The switches of the dispatch level and the exact mode, as a user meets
# them: ANOMALY_ISA (each level the CPU has, a level above it, a bad value),
# --exact before or after the command and ANOMALY_EXACT, and --help.
set -u
cd "$(dirname "$0")/.."
bin=${ANOMALY_BIN:-build/f32/anomaly}
if [ ! -x "$bin" ]; then
    echo "FAIL isa_levels: no anomaly binary at $bin"
    exit 1
fi
tmp=$(mktemp -d /tmp/anomaly_isa.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
. tests/lib.sh

cpu=$("$bin" --version | sed -n 's/^kernels: [a-z0-9]* (this CPU: \([a-z0-9]*\).*/\1/p')
case "$cpu" in
avx512) have="avx512 avx2 generic" above="" ;;
avx2) have="avx2 generic" above="avx512" ;;
generic) have="generic" above="avx2 avx512" ;;
*) note "--version does not name this CPU's level: $("$bin" --version)"; have="" above="" ;;
esac
for l in $have; do
    ANOMALY_ISA=$l "$bin" --version | grep -q "^kernels: $l (this CPU: $cpu, ANOMALY_ISA set)" ||
        note "ANOMALY_ISA=$l: --version says $("$bin" --version | grep kernels)"
done
for l in $above; do
    if ANOMALY_ISA=$l "$bin" models > "$tmp/o" 2> "$tmp/e"; then note "ANOMALY_ISA=$l ran on a $cpu CPU"; fi
    [ "$(wc -l < "$tmp/e")" = 1 ] && grep -q "ANOMALY_ISA=$l: this CPU supports at most $cpu" "$tmp/e" ||
        note "ANOMALY_ISA=$l on $cpu: $(cat "$tmp/e")"
    [ -s "$tmp/o" ] && note "ANOMALY_ISA=$l on $cpu printed output"
done
ANOMALY_ISA=avx3 "$bin" models > "$tmp/o" 2> "$tmp/e"
rc=$?
[ $rc = 2 ] || note "ANOMALY_ISA=avx3: exit status $rc, not 2"
[ "$(cat "$tmp/e")" = "anomaly: error: ANOMALY_ISA=avx3: expected avx512, avx2 or generic" ] ||
    note "ANOMALY_ISA=avx3: $(cat "$tmp/e")"
[ -s "$tmp/o" ] && note "ANOMALY_ISA=avx3 printed output"
report isa_levels

"$bin" --version | grep -q "exact mode off" || note "exact mode not off by default"
"$bin" --exact --version | grep -q "exact mode on" || note "--exact --version: not on"
ANOMALY_EXACT=1 "$bin" --version | grep -q "exact mode on" || note "ANOMALY_EXACT=1: not on"
ANOMALY_EXACT=0 "$bin" --version | grep -q "exact mode off" || note "ANOMALY_EXACT=0: not off"
"$bin" models --exact > "$tmp/m1" 2> "$tmp/e" || note "models --exact failed: $(cat "$tmp/e")"
"$bin" models > "$tmp/m2"
cmp -s "$tmp/m1" "$tmp/m2" || note "models --exact lists other models"
for c in train test forward step augment synth; do
    "$bin" $c --help | grep -q -- "--exact .*the same bytes on every CPU" || note "$c --help lacks --exact"
done
report exact_flag
exit $failed
