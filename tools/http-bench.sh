#!/usr/bin/env bash
# HTTP load benchmark: starts `grpo serve` on loopback and runs wrk against it, all in one sitting:
#   1. the empty endpoint GET /health/live, 64 connections (the machine's HTTP ceiling, for comparison);
#   2. POST /v1/respond, 64 connections, prompts of every accepted length in turn (a decoder gets mixed lengths);
#   3. the same with one connection (latency of a lone request);
# each with the server's CPU time per request (and its batcher workers' share: the inference) and the mean prompts per
# inference; then prints the service's batch-size and queue-time histograms from /metrics, and stops the server.
# Prints figures and judges nothing.
# Usage: tools/http-bench.sh <model.onnx> [duration_s=15] [configuration=Release]
# Environment: GRPO_DLL=<grpo.dll> serves with another build (e.g. an older commit's, for a before/after);
# Policy__Batching__Enabled=false (or any other Policy__… key) is passed on to the server.
set -euo pipefail
model=${1:?usage: tools/http-bench.sh <model.onnx> [duration_s] [configuration]}
duration=${2:-15}
configuration=${3:-Release}
cd "$(dirname "${BASH_SOURCE[0]}")/.."
grpo=${GRPO_DLL:-src/GrpoPipeline.Cli/bin/$configuration/net10.0/grpo.dll}
url=http://127.0.0.1:5081

if ! command -v wrk >/dev/null; then
  echo "wrk is not installed; installing the Debian package (needs root)..." >&2
  apt-get update -qq >/dev/null && apt-get install -y -qq wrk >/dev/null
fi

log=$(mktemp --suffix=.log)
dotnet "$grpo" serve --model "$model" --urls "$url" > "$log" 2>&1 &
server=$!
lua=$(mktemp --suffix=.lua)
trap 'kill $server 2>/dev/null || true; rm -f "$lua" "$log"' EXIT
for _ in $(seq 1 100); do
  curl -sf "$url/health/ready" >/dev/null 2>&1 && break
  sleep 0.2
done
curl -sf "$url/health/ready" >/dev/null || { echo "server did not become ready; log:" >&2; cat "$log" >&2; exit 1; }

# One descending prompt (so it needs sorting) per accepted length; requests take them in turn, so a decoder model is
# loaded with prompts of mixed lengths and a sorter with its one length.
info=$(curl -sf "$url/v1/model")
field() { sed -n "s/.*\"$1\":\([0-9]*\).*/\1/p" <<<"$info"; }
min=$(field minPromptLength); max=$(field maxPromptLength); vocab=$(field vocabSize)
bodies=""
for ((length = min; length <= max; length++)); do
  prompt=$(for ((i = length - 1; i >= 0; i--)); do echo -n "$((i % vocab)),"; done | sed 's/,$//')
  bodies+="  '{\"prompt\":[$prompt]}',"$'\n'
done
cat > "$lua" <<LUA
local bodies = {
$bodies}
local n = 0
request = function()
  n = n + 1
  return wrk.format("POST", nil, { ["Content-Type"] = "application/json" }, bodies[(n % #bodies) + 1])
end
LUA

# The server's CPU time (user + system) in clock ticks, to print its CPU per request: a figure that wrk sharing the
# cores moves less than it moves the rates.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$server/stat"; }
# The same for the batcher's worker threads (grpo-batcher-N) alone: the inference of the batches they answer. A request
# answered inline (a lone one) runs its inference on the HTTP side instead.
worker_ticks() {
  local sum=0 t
  for t in /proc/$server/task/*; do
    [[ $(cat "$t/comm" 2>/dev/null) == grpo-batcher* ]] && sum=$((sum + $(awk '{print $14 + $15}' "$t/stat")))
  done
  echo $sum
}
# Prompts and inferences so far, from /metrics ("<sum> <count>"; "0 0" without the metrics).
inferences() {
  curl -sf "$url/metrics" | awk '/^grpo_inference_batch_size_sum/ {s = $2} /^grpo_inference_batch_size_count/ {c = $2} END {print s + 0, c + 0}'
}
tick_us=$((1000000 / $(getconf CLK_TCK)))

run() {   # run <title> <wrk args...>
  echo "== $1"
  shift
  local out before after workers_before workers_after requests inferred_before inferred_after
  before=$(cpu_ticks); workers_before=$(worker_ticks); inferred_before=$(inferences)
  out=$(wrk "$@")
  after=$(cpu_ticks); workers_after=$(worker_ticks); inferred_after=$(inferences)
  echo "$out"
  # wrk prints the non-2xx line only when there are some; say zero explicitly.
  grep -q "Non-2xx" <<<"$out" || echo "  Non-2xx or 3xx responses: 0"
  requests=$(grep -oE "[0-9]+ requests in" <<<"$out" | cut -d' ' -f1)
  echo "  Server CPU per request: $(( (after - before) * tick_us / requests )) us," \
    "of which the batcher's workers: $(( (workers_after - workers_before) * tick_us / requests )) us"
  read -r prompts_before batches_before <<<"$inferred_before"
  read -r prompts_after batches_after <<<"$inferred_after"
  if (( batches_after > batches_before )); then
    echo "  Prompts per inference: $(awk -v p=$((prompts_after - prompts_before)) -v b=$((batches_after - batches_before)) 'BEGIN {printf "%.1f", p / b}')" \
      "($((batches_after - batches_before)) inferences)"
  fi
}

# Both warm up the JIT and the connection pool first; only the measured runs are printed.
wrk -t2 -c64 -d3s "$url/health/live" >/dev/null
wrk -t2 -c64 -d3s -s "$lua" "$url/v1/respond" >/dev/null
run "GET /health/live for ${duration}s, 64 connections, 2 threads" -t2 -c64 -d"${duration}s" --latency "$url/health/live"
run "POST /v1/respond with prompts of length $min..$max in turn for ${duration}s, 64 connections, 2 threads" \
  -t2 -c64 -d"${duration}s" --latency -s "$lua" "$url/v1/respond"
run "POST /v1/respond, the same prompts, for ${duration}s, 1 connection" -t1 -c1 -d"${duration}s" --latency -s "$lua" "$url/v1/respond"

# Cumulative histograms over the whole run (warm-up included), as Prometheus keeps them.
echo "== /metrics: prompts per inference (grpo_inference_batch_size) and time in queue (grpo_batching_queue_time)"
curl -sf "$url/metrics" | grep -E '^grpo_(inference_batch_size|batching_queue_time_seconds)_(bucket|count|sum)' \
  | sed -E 's/\{otel_scope_name="GrpoPipeline"(,otel_scope_version="[^"]*")?,?/{/' || echo "  (no batching metrics: a build before 0.4, or Policy:Metrics=false)"
