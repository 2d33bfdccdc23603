#!/bin/bash
# Every figure of cispo-rloo.md: seeds 1-3 of each variant (SEEDS="4 5 6 7 8 9 10" CONFIGS="transformer-l5v10-..." for
# the extra transformer seeds), one run after the other, each on one thread (run.threads 1 in every config). Run from the
# repository root after a Release build; the run directories go to $1.
set -e
out=${1:-/tmp/cispo-rloo}
grpo=${GRPO:-src/GrpoPipeline.Cli/bin/Release/net10.0/grpo.dll}
here=models/experiments/cispo-rloo
for config in ${CONFIGS:-transformer-l5v10-clipped transformer-l5v10-cispo transformer-l5v10-cispo-nolow transformer-l5v10-rloo sort-variable-clipped sort-variable-cispo sort-variable-cispo-nolow sort-variable-rloo}; do
  for seed in ${SEEDS:-1 2 3}; do
    dotnet $grpo train --config $here/$config.json --seed $seed --run-dir $out/$config-s$seed > $out-$config-s$seed.log
  done
done
python3 $here/summarize.py $out
