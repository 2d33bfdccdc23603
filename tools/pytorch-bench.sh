#!/usr/bin/env bash
# PyTorch baseline of `grpo bench train`: runs tools/pytorch-baseline/grpo_bench.py (same two configs, same JSON keys)
# with Debian's python3-torch, installing it if missing (needs root; PyPI is not needed). Prints figures, judges nothing.
# Usage: tools/pytorch-bench.sh [--seconds S] [--warmup N] [--threads T]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
python=/usr/bin/python3   # Debian's interpreter: python3-torch installs into it, not into a pyenv or venv one

if ! "$python" -c 'import torch' 2>/dev/null; then
  echo "PyTorch is not installed for $python; installing the Debian package python3-torch (needs root)..." >&2
  apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-torch >/dev/null
fi
exec "$python" tools/pytorch-baseline/grpo_bench.py "$@"
