#!/usr/bin/env bash
# HTTP load benchmark of POST /v1/respond: starts `grpo serve` on loopback, runs wrk (64 connections), stops the server.
# Prints wrk's figures and judges nothing. Usage: tools/http-bench.sh <model.onnx> [duration_s=15] [configuration=Release]
set -euo pipefail
model=${1:?usage: tools/http-bench.sh <model.onnx> [duration_s] [configuration]}
duration=${2:-15}
configuration=${3:-Release}
cd "$(dirname "${BASH_SOURCE[0]}")/.."
url=http://127.0.0.1:5081

if ! command -v wrk >/dev/null; then
  echo "wrk is not installed; installing the Debian package (needs root)..." >&2
  apt-get update -qq >/dev/null && apt-get install -y -qq wrk >/dev/null
fi

dotnet "src/GrpoPipeline.Cli/bin/$configuration/net10.0/grpo.dll" serve --model "$model" --urls "$url" > /tmp/grpo-http-bench.log 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do
  curl -sf "$url/health/ready" >/dev/null 2>&1 && break
  sleep 0.2
done
curl -sf "$url/health/ready" >/dev/null || { echo "server did not become ready; log:" >&2; cat /tmp/grpo-http-bench.log >&2; exit 1; }

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
lua=$(mktemp --suffix=.lua)
trap 'kill $server 2>/dev/null || true; rm -f "$lua"' EXIT
cat > "$lua" <<LUA
local bodies = {
$bodies}
local n = 0
request = function()
  n = n + 1
  return wrk.format("POST", nil, { ["Content-Type"] = "application/json" }, bodies[(n % #bodies) + 1])
end
LUA
echo "POST /v1/respond with prompts of length $min..$max in turn for ${duration}s, 64 connections, 2 threads"
out=$(wrk -t2 -c64 -d"${duration}s" --latency -s "$lua" "$url/v1/respond")
echo "$out"
# wrk prints the non-2xx line only when there are some; say zero explicitly.
grep -q "Non-2xx" <<<"$out" || echo "  Non-2xx or 3xx responses: 0"
