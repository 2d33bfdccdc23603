#!/usr/bin/env bash
# Runs a command and samples its resident set size every second; prints the first, middle and last samples, and the
# least and most after warm-up.
# Usage: tools/rss-watch.sh <command...>      e.g. tools/rss-watch.sh dotnet grpo.dll train --config models/configs/seed.json --epochs 5000 --run-dir /tmp/rss
set -euo pipefail
log=$(mktemp)
"$@" > /dev/null 2>&1 &
pid=$!
while kill -0 "$pid" 2>/dev/null; do
  awk '/VmRSS/ {print $2}' "/proc/$pid/status" 2>/dev/null >> "$log" || true
  sleep 1
done
status=0
wait "$pid" || status=$?   # a server stopped with SIGTERM still gets its summary
n=$(wc -l < "$log")
echo "samples=$n rss_kb first=$(sed -n 3p "$log") mid=$(sed -n "$((n / 2))p" "$log") last=$(tail -n 2 "$log" | head -n 1) max=$(sort -n "$log" | tail -n 1)"
# After warm-up (the first tenth of the samples): the spread a flat run keeps within a few percent.
warm=$(tail -n +"$((n / 10 + 1))" "$log" | head -n -1 | sort -n)
echo "after warm-up (samples $((n / 10 + 1))..$((n - 1))): min=$(head -n 1 <<<"$warm") max=$(tail -n 1 <<<"$warm")"
exit "$status"
