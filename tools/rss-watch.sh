#!/usr/bin/env bash
# Runs a command and samples its resident set size every second; prints the first, middle and last samples.
# Usage: tools/rss-watch.sh <command...>      e.g. tools/rss-watch.sh dotnet grpo.dll train --config models/configs/seed.json --epochs 5000 --run-dir /tmp/rss
set -euo pipefail
log=$(mktemp)
"$@" > /dev/null 2>&1 &
pid=$!
while kill -0 "$pid" 2>/dev/null; do
  awk '/VmRSS/ {print $2}' "/proc/$pid/status" 2>/dev/null >> "$log" || true
  sleep 1
done
wait "$pid"
n=$(wc -l < "$log")
echo "samples=$n rss_kb first=$(sed -n 3p "$log") mid=$(sed -n "$((n / 2))p" "$log") last=$(tail -n 2 "$log" | head -n 1) max=$(sort -n "$log" | tail -n 1)"
