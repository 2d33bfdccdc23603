#!/usr/bin/env bash
# PyTorch baseline of `grpo bench train`: runs tools/pytorch-baseline/grpo_bench.py (the seed and scale configs, and the
# autoregressive decoder config; same JSON keys) with Debian's python3-torch on OpenBLAS, installing both if missing
# (needs root; PyPI is not needed). Prints figures, judges nothing; what it ran on goes to stderr as `# ...` lines.
#
# Debian builds python3-torch against the generic libblas.so.3, whose reference BLAS runs a 1024^3 sgemm at a few
# GFLOP/s. libopenblas0-pthread registers OpenBLAS as the libblas.so.3/liblapack.so.3 alternative (~100 GFLOP/s on
# one core here); this script makes sure the alternatives point at it, so that every PyTorch figure runs on a BLAS
# comparable to libtorch's in TorchSharp. torch keeps printing BLAS_INFO=generic (a build-time string): the process's
# mapped libraries and the measured GFLOP/s show what it actually ran on.
#
# Usage: tools/pytorch-bench.sh [--blas openblas|generic] [--threads T] [grpo_bench.py options...]
#   --threads T   torch intra-op threads (default 1, like run.threads), inter-op threads 1, and
#                 OPENBLAS_NUM_THREADS=OMP_NUM_THREADS=MKL_NUM_THREADS=T
#   --blas generic  for comparison only: run this process on Debian's reference BLAS/LAPACK (through
#                 LD_LIBRARY_PATH; the system alternatives stay on OpenBLAS)
#   GLIBC_TUNABLES in the environment is passed on (and printed). With glibc's default malloc, libtorch's large
#   buffers are page-faulted in again on most calls; on the decoder config that is ~40k minor faults per epoch and
#   ~40% of its time here. GLIBC_TUNABLES=glibc.malloc.mmap_threshold=268435456:glibc.malloc.trim_threshold=1073741824
#   removes them: compare engines with the same setting.
#   others (--config seed|scale|decoder, --kv-cache/--no-kv-cache, --seconds S, --warmup N, --seed N, --self-test,
#   --train-check [EPOCHS]) go to grpo_bench.py; see its --help.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
python=/usr/bin/python3   # Debian's interpreter: python3-torch installs into it, not into a pyenv or venv one

threads=1 blas=openblas args=()
while (($#)); do
  case "$1" in
    --threads) threads="${2:?--threads needs a value}"; args+=("$1" "$2"); shift 2 ;;
    --threads=*) threads="${1#*=}"; args+=("$1"); shift ;;
    --blas) blas="${2:?--blas needs openblas or generic}"; shift 2 ;;
    --blas=*) blas="${1#*=}"; shift ;;
    *) args+=("$1"); shift ;;
  esac
done
[[ "$threads" =~ ^[1-9][0-9]*$ ]] || { echo "--threads must be a positive integer, not '$threads'" >&2; exit 2; }
[[ "$blas" == openblas || "$blas" == generic ]] || { echo "--blas must be openblas or generic, not '$blas'" >&2; exit 2; }

missing=()
"$python" -c 'import torch' 2>/dev/null || missing+=(python3-torch)
dpkg-query -W -f='${Status}' libopenblas0-pthread 2>/dev/null | grep -q '^install ok installed' || missing+=(libopenblas0-pthread)
if ((${#missing[@]})); then
  echo "Installing the Debian packages ${missing[*]} (needs root)..." >&2
  apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# Point libblas.so.3 and liblapack.so.3 at OpenBLAS (installing it does so in auto mode, unless someone set them).
multiarch=$("$python" -c 'import sysconfig; print(sysconfig.get_config_var("MULTIARCH"))')
libdir=/usr/lib/$multiarch
for lib in libblas.so.3 liblapack.so.3; do
  name=$lib-$multiarch target=$libdir/openblas-pthread/$lib
  query=$(update-alternatives --query "$name")
  current=$(sed -n 's/^Value: //p' <<<"$query") best=$(sed -n 's/^Best: //p' <<<"$query")
  if [[ "$current" != "$target" ]]; then
    echo "# $name points at ${current:-nothing}; setting it to $target" >&2
    if [[ "$best" == "$target" ]]; then update-alternatives --quiet --auto "$name"; else update-alternatives --quiet --set "$name" "$target"; fi
  fi
done
echo "# alternatives: $(update-alternatives --query "libblas.so.3-$multiarch" | sed -n 's/^Value: /libblas.so.3 -> /p'), \
$(update-alternatives --query "liblapack.so.3-$multiarch" | sed -n 's/^Value: /liblapack.so.3 -> /p')" >&2

if [[ "$blas" == generic ]]; then
  export LD_LIBRARY_PATH=$libdir/blas:$libdir/lapack${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
  echo "# --blas generic: this run loads Debian's reference BLAS/LAPACK through LD_LIBRARY_PATH=$LD_LIBRARY_PATH" >&2
fi
export OPENBLAS_NUM_THREADS=$threads OMP_NUM_THREADS=$threads MKL_NUM_THREADS=$threads
exec "$python" tools/pytorch-baseline/grpo_bench.py "${args[@]}"
