"""Summarises the runs of run.sh: per run, held-out exact at fixed epochs and the first held-out evaluation at >= 99%
with the training seconds up to it (the sum of perf/epoch_s, which leaves the held-out evaluations out); then per
variant over its seeds, the mean held-out exact at those epochs and the median epochs and seconds to 99%."""
import json, os, re, statistics, sys
from collections import defaultdict

out = sys.argv[1] if len(sys.argv) > 1 else '/tmp/cispo-rloo'
MARKS = (50, 100, 150, 200, 300, 400)
variants = defaultdict(list)
for run in sorted(d for d in os.listdir(out) if os.path.isdir(os.path.join(out, d))):
    rows = [json.loads(line) for line in open(os.path.join(out, run, 'metrics.jsonl'))]
    seconds, at, first = 0.0, {}, None
    for row in rows:
        seconds += row['perf/epoch_s']
        if 'heldout/exact' in row:
            at[row['epoch']] = row['heldout/exact']
            if first is None and row['heldout/exact'] >= 0.99:
                first = (row['epoch'], seconds)
    variant, seed = re.match(r'(.*)-s(\d+)$', run).groups()
    variants[variant].append((int(seed), at, first, seconds))
    held = ' '.join(f'{e}:{100 * at[e]:.1f}' for e in MARKS if e in at)
    reached = f'epoch {first[0]} after {first[1]:.1f} s' if first else 'not reached'
    print(f'{run:40s} held-out % {held} | >=99%: {reached} | training {seconds:.1f} s')

def median(values):
    """Median with 'not reached' (None) counted as later than any epoch; None when the median run did not reach."""
    ranked = sorted(values, key=lambda v: float('inf') if v is None else v)
    middle = ranked[(len(ranked) - 1) // 2] if len(ranked) % 2 else None
    if len(ranked) % 2 == 0:
        lo, hi = ranked[len(ranked) // 2 - 1], ranked[len(ranked) // 2]
        middle = None if lo is None or hi is None else (lo + hi) / 2
    return middle

print()
for variant, runs in sorted(variants.items()):
    means = ' '.join(f'{e}:{100 * statistics.mean(r[1][e] for r in runs):.1f}' for e in MARKS if all(e in r[1] for r in runs))
    reached = sum(r[2] is not None for r in runs)
    epochs = median([r[2][0] if r[2] else None for r in runs])
    secs = median([r[2][1] if r[2] else None for r in runs])
    print(f'{variant:34s} seeds {sorted(r[0] for r in runs)} mean held-out % {means} | reached {reached}/{len(runs)}'
          f' | median epochs {epochs if epochs is not None else "not reached"}, seconds {f"{secs:.1f}" if secs is not None else "not reached"}')
